//! The API under test (`maskinporten-bench api`), and the local
//! Texas-compatible endpoint (`maskinporten-bench texas`): the two server
//! processes the driver starts from its own executable.
//!
//! The API has one worker thread, as pinned to one core: `/plain` is the
//! baseline (no guard), `/afp` is guarded by `#[require_scope]` and reads the
//! claims, `/plain-hashed` is `/plain` plus the SHA-256 of the token (the
//! warm run's control), `/stats` reports the handle's counters (and, with `--check`, the
//! answers by expected class, for the soak run).

use std::{
    collections::BTreeMap,
    io::{self, Write},
    sync::{
        atomic::{AtomicU64, Ordering::Relaxed},
        Mutex,
    },
    time::Duration,
};

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    get,
    middleware::{from_fn, Condition, Next},
    web, App, HttpRequest, HttpResponse, HttpServer, Responder,
};
use maskinporten_actix::{
    quota::ConsumerQuota, require_scope, testing::LocalTexas, Maskinporten, MaskinportenClaims,
};
use serde_json::{json, Value};

use crate::{args::Args, procs::exit_when_stdin_closes};

/// The scope every benchmark token carries and `/afp` requires.
pub const READ_SCOPE: &str = "nav:helse/sykepenger/afp.read";

/// The quota of the `quota` run's rows: more than the API answers, so that
/// every request is admitted and the rows measure the decision's cost; a
/// shared replica then takes leases of 1/20 of it.
pub const QUOTA_PER_SECOND: u32 = 1_000_000;

/// The body `/plain` answers: as long as `/afp`'s for the default consumer,
/// so both routes move the same bytes.
const PLAIN_BODY: &str = "AFP data for 991825827";

#[get("/plain")]
async fn plain() -> impl Responder {
    HttpResponse::Ok().body(PLAIN_BODY)
}

/// `/plain` that also computes the SHA-256 of the bearer token, as the
/// guard's cache key does, and nothing else: the warm run's control row,
/// how much of the guard's cost over loopback the hash alone accounts for.
#[get("/plain-hashed")]
async fn plain_hashed(req: HttpRequest) -> impl Responder {
    let token = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "))
        .unwrap_or_default();
    std::hint::black_box(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token));
    HttpResponse::Ok().body(PLAIN_BODY)
}

#[get("/afp")]
#[require_scope("nav:helse/sykepenger/afp.read")]
async fn afp(claims: MaskinportenClaims) -> impl Responder {
    let orgno = claims
        .consumer()
        .and_then(|c| c.orgno())
        .unwrap_or("unknown");
    HttpResponse::Ok().body(format!("AFP data for {orgno}"))
}

#[get("/stats")]
async fn stats(req: HttpRequest) -> impl Responder {
    let Some(maskinporten) = req.app_data::<Maskinporten>() else {
        return HttpResponse::InternalServerError().finish();
    };
    // `?settle` applies the cache's pending work first, so that the entry
    // count is exact (the memory scenario reads it).
    if req.query_string().contains("settle") {
        maskinporten.settle_cache().await;
    }
    let s = maskinporten.stats();
    HttpResponse::Ok().json(json!({
        "introspections": s.introspections,
        "cache_hits": s.cache_hits,
        "cache_misses": s.cache_misses,
        "validator_failures": s.validator_failures,
        "introspection_time_us": s.introspection_time.as_micros() as u64,
        "cached_entries": s.cached_entries,
        "refused_without_validator": s.refused_without_validator,
        "checked": checked_json(),
        "wrong": WRONG.load(Relaxed),
    }))
}

/// The soak run's token classes, as the load generator labels each request
/// in `x-expect`, and the answers each may get. 503 is right for a class
/// whose tokens need the endpoint while it is down: the guard cannot tell.
/// Junk that is no compact RS256 JWS with a kid never needs the endpoint,
/// so its only right answer is 401.
pub const CLASSES: [(&str, &[u16]); 6] = [
    ("valid", &[200, 503]),
    ("noscope", &[403, 503]),
    ("invalid", &[401, 503]),
    ("expired", &[401, 503]),
    ("malformed", &[401]),
    ("forged", &[401, 503]),
];

/// Answers by (class, status), counted by the `--check` middleware.
static CHECKED: Mutex<BTreeMap<(&'static str, u16), u64>> = Mutex::new(BTreeMap::new());
/// Answers that are wrong for their class.
static WRONG: AtomicU64 = AtomicU64::new(0);
/// Wrong answers described on standard error; the rest are only counted.
const WRONG_LOGGED: u64 = 10;

/// Compares each answer with the class its request says it has. Judged here,
/// in the server, because wrk cannot pair answers with requests.
async fn check_expectation(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let class = req
        .headers()
        .get("x-expect")
        .and_then(|value| {
            CLASSES
                .iter()
                .find(|(name, _)| name.as_bytes() == value.as_bytes())
        })
        .copied();
    let response = next.call(req).await;
    if let Some((name, allowed)) = class {
        let status = match &response {
            Ok(response) => response.status(),
            Err(error) => error.as_response_error().status_code(),
        }
        .as_u16();
        *CHECKED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((name, status))
            .or_default() += 1;
        if !allowed.contains(&status) {
            let wrong = WRONG.fetch_add(1, Relaxed) + 1;
            if wrong <= WRONG_LOGGED {
                eprintln!("api: WRONG ANSWER #{wrong}: a {name} token was answered {status}");
            }
        }
    }
    response
}

fn checked_json() -> Value {
    let checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = serde_json::Map::new();
    for (&(class, status), &count) in checked.iter() {
        out.entry(class)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("an object")
            .insert(status.to_string(), count.into());
    }
    Value::Object(out)
}

/// `api --introspection URL [--no-cache] [--capacity N] [--max-ttl-ms N] [--check]
/// [--quota-valkey URL]`;
/// `api --jwks URL ...` for local validation against that JWKS; both,
/// `api --introspection URL --jwks URL ...`, for introspection with each new
/// token's signature checked against that JWKS first (as `builder_from_env()` does
/// on NAIS with `MASKINPORTEN_JWKS_URI` set).
pub fn run_api(mut args: Args) -> io::Result<()> {
    let jwks = args.value("--jwks")?;
    let introspection = args.value("--introspection")?;
    let no_cache = args.flag("--no-cache");
    let capacity: Option<u64> = args.parsed("--capacity")?;
    let max_ttl_ms: Option<u64> = args.parsed("--max-ttl-ms")?;
    let check = args.flag("--check");
    let quota_valkey = args.value("--quota-valkey")?;
    args.finish()?;

    // The issuer is known, as on NAIS (MASKINPORTEN_ISSUER): tokens from
    // another are refused without asking the validator.
    let issuer = maskinporten_actix::testing::DEFAULT_ISSUER;
    let mut builder = match (introspection, jwks) {
        (None, Some(jwks)) => Maskinporten::builder()
            .issuer(issuer)
            .local_validation(jwks),
        (Some(endpoint), jwks) => {
            let builder = Maskinporten::builder()
                .introspection_endpoint(endpoint)
                .issuer(issuer);
            match jwks {
                Some(jwks) => builder.issuer(issuer).signature_check(jwks),
                None => builder,
            }
        }
        (None, None) => {
            return Err(io::Error::other(
                "api: --introspection URL, --jwks URL or both are required",
            ))
        }
    };
    if no_cache {
        builder = builder.disable_cache();
    }
    if let Some(capacity) = capacity {
        // The entry count is what the memory run measures: a byte bound
        // that holds 2 KiB per entry lets the count bind first.
        builder = builder
            .cache_capacity(capacity)
            .cache_max_bytes(capacity.saturating_mul(2048));
    }
    if let Some(ms) = max_ttl_ms {
        builder = builder.cache_max_ttl(Duration::from_millis(ms));
    }
    // The scope the API's guard requires is the one it exposes.
    let maskinporten = builder
        .exposed_scopes([READ_SCOPE])
        .build()
        .map_err(io::Error::other)?;
    // `/quota-local/afp` and `/quota-shared/afp`: `/afp` under a quota that
    // admits every request of the run (the `quota` run's rows), local, and
    // shared in the Valkey at `--quota-valkey`.
    let local_quota = ConsumerQuota::per_second(QUOTA_PER_SECOND);
    let shared_quota = match quota_valkey {
        Some(url) => Some(
            ConsumerQuota::per_second(QUOTA_PER_SECOND)
                .shared(&url)
                .map_err(io::Error::other)?,
        ),
        None => None,
    };

    // Built with the `metrics` feature, the API records the guard's metrics
    // into a Prometheus recorder, as a service exporting them would.
    #[cfg(feature = "metrics")]
    let _recorder = {
        let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .map_err(io::Error::other)?;
        maskinporten_actix::metrics::register();
        handle
    };
    exit_when_stdin_closes();
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            App::new()
                .app_data(maskinporten.clone())
                .wrap(Condition::new(check, from_fn(check_expectation)))
                .service(plain)
                .service(afp)
                .service(stats)
                .service(plain_hashed)
                .service(
                    web::scope("/quota-local")
                        .wrap(local_quota.clone())
                        .service(afp),
                )
                .configure(|cfg| {
                    if let Some(quota) = &shared_quota {
                        cfg.service(web::scope("/quota-shared").wrap(quota.clone()).service(afp));
                    }
                })
                .default_service(web::to(HttpResponse::NotFound))
        })
        // One worker: the process is pinned to one core.
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))?;
        let port = server.addrs()[0].port();
        announce(port)?;
        server.run().await
    })
}

/// `texas [--port P] [--latency-ms N]`: a [`LocalTexas`] with one worker
/// until the driver lets go, and beside it a second port that answers any
/// request with what the endpoint saw: introspections and JWKS fetches
/// (what the sidecar was asked, counted where it is asked, for `flood`).
pub fn run_texas(mut args: Args) -> io::Result<()> {
    let port: u16 = args.parsed("--port")?.unwrap_or(0);
    let latency_ms: u64 = args.parsed("--latency-ms")?.unwrap_or(0);
    args.finish()?;
    let texas = LocalTexas::builder()
        .port(port)
        .workers(1)
        .latency(Duration::from_millis(latency_ms))
        .start()?;
    let counters = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let mut stdout = io::stdout().lock();
    writeln!(
        stdout,
        "listening {} stats {}",
        texas.addr().port(),
        counters.local_addr()?.port()
    )?;
    stdout.flush()?;
    drop(stdout);
    exit_when_stdin_closes();
    // The endpoint runs on LocalTexas' own thread; this one answers the
    // counters, one connection at a time, until the stdin watcher ends the
    // process.
    for stream in counters.incoming() {
        let Ok(stream) = stream else { continue };
        let body = json!({
            "introspections": texas.introspections(),
            "jwks_fetches": texas.jwks_fetches(),
        })
        .to_string();
        let _ = answer_counters(stream, &body);
    }
    Ok(())
}

/// Reads a request's head and answers `body` as JSON, closing the connection.
fn answer_counters(stream: std::net::TcpStream, body: &str) -> io::Result<()> {
    use std::io::BufRead;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = io::BufReader::new(&stream);
    let mut line = String::new();
    // The head ends with an empty line; no request here has a body.
    while reader.read_line(&mut line)? > 0 && !line.trim_end().is_empty() {
        line.clear();
    }
    let mut stream = &stream;
    write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// Tells the driver the port: the one line a server writes to standard
/// output.
fn announce(port: u16) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "listening {port}")?;
    stdout.flush()
}
