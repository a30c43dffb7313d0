//! The AFP API: Maskinporten-guarded endpoints for sykepenger AFP data.
//!
//! ```text
//! cargo run --example afp
//! ```
//!
//! With `NAIS_TOKEN_INTROSPECTION_ENDPOINT` set (as on NAIS), tokens are
//! checked through that endpoint. Without it, the example starts a local,
//! Texas-compatible endpoint, says so, and prints `curl` commands with tokens
//! it minted, so the API can be tried with nothing else running.
//!
//! That fallback is for a demo on a developer machine only, and not a
//! pattern for a service: the local endpoint signs with public test keys, so
//! a deployed service that fell back to it when the variable went missing
//! would accept tokens anyone can mint. The local endpoint refuses to start
//! where NAIS runs, but a service should not have the fallback at all: use
//! `Maskinporten::builder_from_env()` alone (examples/quickstart.rs), and on a laptop
//! point it at `cargo run --example local_texas`.
//!
//! With `MASKINPORTEN_STRATEGY=local`, tokens are verified in-process
//! against the JWKS instead: `MASKINPORTEN_ISSUER` and
//! `MASKINPORTEN_JWKS_URI` when set (as on NAIS), else the local endpoint's
//! JWKS.
//!
//! ```text
//! MASKINPORTEN_STRATEGY=local cargo run --example afp
//! ```
//!
//! The guard's metrics (feature `metrics`) are served in the Prometheus
//! text format at `/internal/metrics`, next to `/internal/health`, for the
//! NAIS Prometheus to scrape (`spec.prometheus.path: /internal/metrics`).
//!
//! The API's OpenAPI document is served at `/openapi.json`; its security
//! (the Maskinporten scheme, each operation's scopes) comes from the guards
//! (feature `openapi`).
//!
//! Every organisation has a quota of its own (feature `quota`): 60 requests
//! a minute with bursts of 10, answered 429 past it. The quota is this
//! process's own, unless `VALKEY_URI_QUOTA` is set (as NAIS sets it for an
//! application with the Valkey instance `quota`): then every replica shares
//! one quota in that Valkey.
//!
//! ```text
//! VALKEY_URI_QUOTA=redis://127.0.0.1:6379 cargo run --example afp
//! ```

use std::{process::ExitCode, time::Duration};

use actix_web::{get, post, web, App, HttpResponse, HttpServer, Responder};
use maskinporten_actix::{
    openapi::MaskinportenSecurity, quota::ConsumerQuota, require_consumer, require_scope,
    testing::LocalTexas, Maskinporten, MaskinportenClaims,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

const READ: &str = "nav:helse/sykepenger/afp.read";
const WRITE: &str = "nav:helse/sykepenger/afp.write";

#[derive(Serialize, ToSchema)]
struct Afp {
    orgno: String,
    periods: Vec<&'static str>,
}

/// Needs `afp.read`; answers for the calling organisation.
#[utoipa::path(
    get,
    path = "/afp",
    tag = "afp",
    responses(
        (status = 200, description = "The calling organisation's AFP periods", body = Afp),
        (status = 401, description = "No token, or a token that is not valid"),
        (status = 403, description = "The token lacks `afp.read`"),
    )
)]
#[get("/afp")]
#[require_scope("nav:helse/sykepenger/afp.read")]
async fn read_afp(claims: MaskinportenClaims) -> impl Responder {
    let orgno = claims
        .consumer()
        .and_then(|c| c.orgno())
        .unwrap_or("unknown");
    HttpResponse::Ok().json(Afp {
        orgno: orgno.to_owned(),
        periods: vec!["2026-01", "2026-02"],
    })
}

#[derive(Deserialize, ToSchema)]
struct NewPeriod {
    period: String,
}

/// Needs `afp.write`; the body is read only after the token passed.
#[utoipa::path(
    post,
    path = "/afp",
    tag = "afp",
    request_body = NewPeriod,
    responses(
        (status = 201, description = "Stored"),
        (status = 401, description = "No token, or a token that is not valid"),
        (status = 403, description = "The token lacks `afp.write`"),
    )
)]
#[post("/afp")]
#[require_scope("nav:helse/sykepenger/afp.write")]
async fn write_afp(period: web::Json<NewPeriod>) -> impl Responder {
    HttpResponse::Created().json(serde_json::json!({ "stored": period.period }))
}

/// Needs `afp.read`, and the calling organisation on the allow-list: NAV
/// itself. Another consumer with the same scope gets 403 `access_denied`.
#[utoipa::path(
    get,
    path = "/afp/reconciliation",
    tag = "afp",
    responses(
        (status = 200, description = "The reconciliation report, for NAV only"),
        (status = 401, description = "No token, or a token that is not valid"),
        (status = 403, description = "The token lacks `afp.read`, or its consumer may not call"),
    )
)]
#[get("/afp/reconciliation")]
#[require_scope("nav:helse/sykepenger/afp.read")]
#[require_consumer("991825827")]
async fn reconciliation() -> impl Responder {
    HttpResponse::Ok().json(serde_json::json!({ "periods": 2, "mismatches": 0 }))
}

/// Any valid token: shows who is calling, from the typed claims.
#[get("/whoami")]
async fn whoami(claims: MaskinportenClaims) -> impl Responder {
    HttpResponse::Ok().json(serde_json::json!({
        "consumer_orgno": claims.consumer().and_then(|c| c.orgno()),
        "supplier_orgno": claims.supplier().and_then(|s| s.orgno()),
        "client_id": claims.client_id(),
        "scopes": claims.scopes(),
    }))
}

/// The API's OpenAPI document, its security derived from the guards.
#[derive(OpenApi)]
#[openapi(
    info(title = "AFP API", description = "Sykepenger AFP data for external organisations"),
    paths(read_afp, write_afp, reconciliation),
    modifiers(&MaskinportenSecurity)
)]
struct ApiDoc;

/// Unguarded: the OpenAPI document, with the quota's 429 on the operations
/// under it.
#[get("/openapi.json")]
async fn openapi_json(quota: web::Data<ConsumerQuota>) -> impl Responder {
    let mut document = ApiDoc::openapi();
    quota.document(&mut document, "/");
    HttpResponse::Ok().json(document)
}

/// Unguarded, for liveness probes.
#[get("/internal/health")]
async fn health() -> impl Responder {
    HttpResponse::Ok().body("ok")
}

/// Unguarded, for the Prometheus scraper: the guard's counters, the
/// introspection latency histogram and the cache gauge.
#[get("/internal/metrics")]
async fn metrics(prometheus: web::Data<PrometheusHandle>) -> impl Responder {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(prometheus.render())
}

/// Installs the Prometheus recorder, before the first request so that the
/// guard's metrics are recorded into it.
fn install_prometheus() -> std::io::Result<PrometheusHandle> {
    use maskinporten_actix::metrics::INTROSPECTION_DURATION_SECONDS;
    // Buckets for the sidecar's answers: milliseconds when it is well, up
    // to the 2 s timeout when it is not.
    let buckets = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0,
    ];
    let prometheus = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(INTROSPECTION_DURATION_SECONDS.to_owned()),
            &buckets,
        )
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(std::io::Error::other)?;
    // Every series at zero from the start, not only after its first count.
    maskinporten_actix::metrics::register();
    // Without a listener of its own, the exporter's upkeep (draining
    // histogram buffers) is ours to run.
    let upkeep = prometheus.clone();
    actix_web::rt::spawn(async move {
        let mut every = actix_web::rt::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(prometheus)
}

/// Starts the API; a start-up error ends it with its sentence, not with
/// the `Debug` of an `io::Error`.
#[actix_web::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("afp: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,maskinporten_actix=debug".into()),
        )
        .init();
    let prometheus = web::Data::new(install_prometheus()?);
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| format!("PORT={port:?} is not a port number"))?,
        Err(_) => 8080,
    };

    // Kept alive for as long as the API runs.
    let mut local_texas = None;
    let local = std::env::var("MASKINPORTEN_STRATEGY").is_ok_and(|s| s == "local");
    let on_nais = if local {
        std::env::var_os(maskinporten_actix::env::JWKS_URI).is_some()
    } else {
        std::env::var_os(maskinporten_actix::env::INTROSPECTION_ENDPOINT).is_some()
    };
    let builder = match (on_nais, local) {
        (true, false) => Maskinporten::builder_from_env()?,
        (true, true) => Maskinporten::local_builder_from_env()?,
        (false, _) => {
            let texas = LocalTexas::start();
            let builder = if local {
                texas.maskinporten_local_builder()
            } else {
                texas.maskinporten_builder()
            };
            local_texas = Some(texas);
            builder
        }
    };
    // The scopes .nais/app.yaml exposes, read when this compiled: a token
    // that holds none of them was issued for another API, and every handler
    // refuses it, also one that only takes `MaskinportenClaims`.
    let maskinporten = builder
        .exposed_scopes(maskinporten_actix::exposed_scopes!())
        .build()?;

    // One quota for every worker (built once, cloned into each `App`): this
    // process's own, or the fleet's in Valkey when NAIS gave the
    // application one.
    let quota = ConsumerQuota::per_minute(60).burst(10);
    let quota = match std::env::var_os("VALKEY_URI_QUOTA") {
        Some(_) => quota.shared_from_env("quota")?,
        None => quota,
    };
    let shared = std::env::var_os("VALKEY_URI_QUOTA").is_some();

    let server = HttpServer::new({
        let maskinporten = maskinporten.clone();
        let quota = quota.clone();
        move || {
            App::new()
                .app_data(maskinporten.clone())
                .app_data(prometheus.clone())
                .app_data(web::Data::new(quota.clone()))
                // The unguarded routes first: the scope below takes every
                // other path.
                .service(health)
                .service(metrics)
                .service(openapi_json)
                .service(
                    web::scope("")
                        .wrap(quota.clone())
                        .service(read_afp)
                        .service(write_afp)
                        .service(reconciliation)
                        .service(whoami),
                )
        }
    })
    .bind(("127.0.0.1", port))
    .map_err(|error| match error.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "port {port} is taken (is the example already running?); \
             start it on another with PORT=8081 cargo run --example afp"
        ),
        _ => format!("cannot listen on 127.0.0.1:{port}: {error}"),
    })?;
    let base = format!("http://127.0.0.1:{port}");

    match &local_texas {
        Some(texas) => print_local_banner(texas, &base, local, shared),
        None => println!("AFP API on {base}, validating tokens through {maskinporten:?}"),
    }
    server.run().await?;
    Ok(())
}

fn print_local_banner(texas: &LocalTexas, base: &str, local: bool, shared: bool) {
    let hour = Duration::from_secs(3600);
    let read = texas.token().scope(READ).expires_in(hour).sign();
    let write = texas.token().scopes([READ, WRITE]).expires_in(hour).sign();
    let other_consumer = texas
        .token()
        .scope(READ)
        .consumer("974761076")
        .expires_in(hour)
        .sign();
    let none = texas
        .token()
        .scope("nav:helse/sykepenger/other.read")
        .expires_in(hour)
        .sign();
    let expired = texas
        .token()
        .scope(READ)
        .expires_in(Duration::ZERO)
        .exp(now() - 3600)
        .sign();
    let line = "=".repeat(78);
    println!("{line}");
    if local {
        println!("  MASKINPORTEN_JWKS_URI is not set: NOT running on NAIS.");
        println!("  Tokens are verified in-process against the LOCAL JWKS at");
        println!("  {}", texas.jwks_uri());
    } else {
        println!("  NAIS_TOKEN_INTROSPECTION_ENDPOINT is not set: NOT running on NAIS.");
        println!("  Tokens are checked by a LOCAL Texas-compatible endpoint at");
        println!("  {}", texas.introspection_endpoint());
    }
    println!("  that trusts only its own test key. Tokens below are valid for an hour.");
    println!("{line}");
    let curl = |what: &str, token: &str, args: &str| {
        println!("\n# {what}");
        println!("curl -i -H 'Authorization: Bearer {token}' {args}");
    };
    curl("read token, GET /afp -> 200", &read, &format!("{base}/afp"));
    curl(
        "write token, POST /afp -> 201",
        &write,
        &format!("-H 'Content-Type: application/json' -d '{{\"period\":\"2026-03\"}}' {base}/afp"),
    );
    curl(
        "read token, POST /afp -> 403 insufficient_scope",
        &read,
        &format!("-H 'Content-Type: application/json' -d '{{\"period\":\"2026-03\"}}' {base}/afp"),
    );
    curl(
        "read token of NAV (991825827), GET /afp/reconciliation -> 200",
        &read,
        &format!("{base}/afp/reconciliation"),
    );
    curl(
        "read token of another consumer (974761076), GET /afp/reconciliation -> 403 access_denied",
        &other_consumer,
        &format!("{base}/afp/reconciliation"),
    );
    curl(
        "token without AFP scopes, GET /afp -> 403 insufficient_scope",
        &none,
        &format!("{base}/afp"),
    );
    curl(
        "expired token, GET /afp -> 401 invalid_token",
        &expired,
        &format!("{base}/afp"),
    );
    curl(
        "read token, GET /whoami -> 200 with the consumer's organisation number",
        &read,
        &format!("{base}/whoami"),
    );
    let noisy = texas
        .token()
        .scope(READ)
        .consumer("974760673")
        .expires_in(hour)
        .sign();
    println!(
        "\n# quota ({}): 60 requests a minute, bursts of 10, per organisation;",
        if shared {
            "shared in Valkey"
        } else {
            "this process's own"
        }
    );
    println!("# a loop of 12 reads by one organisation: ten 200s, then 429 with Retry-After");
    println!(
        "for i in $(seq 12); do curl -s -o /dev/null -w '%{{http_code}} ' \\\n  \
         -H 'Authorization: Bearer {noisy}' {base}/afp; done; echo"
    );
    println!("\n# no token, GET /afp -> 401 with a bare Bearer challenge");
    println!("curl -i {base}/afp");
    println!("\n# Prometheus metrics, GET /internal/metrics -> 200");
    println!("curl -i {base}/internal/metrics");
    println!("\nListening on {base}; Ctrl-C stops.");
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
