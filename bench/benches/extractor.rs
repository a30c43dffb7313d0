//! What the guard costs a request in CPU, without the network: the whole
//! `#[require_scope]` extraction (header, cache key, cache lookup, scope
//! check, the handler's own `MaskinportenClaims`) for a cached token, next to
//! extracting the same arguments with no guard; and the same requirement as
//! `RequireScope` middleware in front of a handler service that extracts
//! `MaskinportenClaims`, next to that service alone.
//!
//! ```sh
//! cargo bench -p maskinporten-bench --bench extractor
//! ```
//!
//! With `--features testing,metrics` every row runs with a Prometheus
//! recorder installed (metrics-exporter-prometheus, as an application on
//! NAIS installs it), under group names that say so: the rows to hold
//! against the ones without the feature.
//!
//! `EXTRACTOR_ITERATIONS=n` runs the warm-cache guarded extraction `n`
//! times and exits, without criterion: for counting instructions with
//! callgrind, where two values of `n` give the cost of one extraction
//! (with `EXTRACTOR_SETUP_ONLY=1`, of building the request alone).

use std::hint::black_box;

use actix_web::{
    dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform},
    http::header::AUTHORIZATION,
    test::TestRequest,
    FromRequest, HttpRequest, HttpResponse,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use futures_util::FutureExt;
use maskinporten_actix::{
    __private::{Guarded, Match, Requirement, Rule},
    scopes,
    testing::LocalTexas,
    MaskinportenClaims, RequireScope,
};

const READ: &str = "nav:helse/sykepenger/afp.read";

/// What `#[require_scope("nav:helse/sykepenger/afp.read")]` expands to.
struct RequiresRead;

impl Requirement for RequiresRead {
    const RULE: Rule = Rule::Scopes(&[READ], Match::All);
}

/// The recorder of the `metrics` rows, installed before the first request so
/// that the guard's metric handles are the recorder's.
#[cfg(feature = "metrics")]
fn install_recorder() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("the only recorder");
    maskinporten_actix::metrics::register();
    Some(handle)
}

#[cfg(not(feature = "metrics"))]
fn install_recorder() -> Option<()> {
    None
}

/// The group's name, with the recorder said when one is installed.
fn group_name(name: &str) -> String {
    if cfg!(feature = "metrics") {
        format!("{name}, metrics recorder installed")
    } else {
        name.to_owned()
    }
}

/// A signed token of `len` bytes, or one more where base64 cannot make
/// exactly `len`.
fn token_of_length(texas: &LocalTexas, len: usize) -> String {
    texas
        .token()
        .scope(READ)
        .sign_padded(len)
        .expect("a token long enough")
}

/// Requests per batch of the extraction rows: few enough that a batch stays
/// in the CPU's caches, as a request the server has just parsed does. With
/// `SmallInput` a batch is a tenth of a sample's iterations, megabytes of
/// requests, and the guarded row read each 900-byte header from memory
/// while the unguarded row never reads it.
const HOT_BATCH: BatchSize = BatchSize::NumIterations(64);

fn extraction(c: &mut Criterion) {
    let recorder = install_recorder();
    let texas = LocalTexas::start();
    let maskinporten = texas
        .maskinporten_builder()
        .exposed_scopes([READ])
        .build()
        .unwrap();
    // The length the warm path's targets are stated for (issue 12).
    let token = token_of_length(&texas, 900);
    actix_web::rt::System::new()
        .block_on(maskinporten.validate(&token))
        .expect("the token is active and now cached");
    let request = || {
        TestRequest::get()
            .uri("/afp")
            .insert_header((AUTHORIZATION, format!("Bearer {token}")))
            .app_data(maskinporten.clone())
            .to_http_parts()
    };

    if let Some(iterations) = std::env::var("EXTRACTOR_ITERATIONS")
        .ok()
        .and_then(|n| n.parse::<u64>().ok())
    {
        // With EXTRACTOR_SETUP_ONLY set: building and dropping the requests
        // alone, the part to subtract.
        let setup_only = std::env::var_os("EXTRACTOR_SETUP_ONLY").is_some();
        for _ in 0..iterations {
            let (req, mut payload) = request();
            if setup_only {
                drop(black_box((req, payload)));
                continue;
            }
            let guarded = Guarded::<RequiresRead, (MaskinportenClaims,)>::from_request(
                black_box(&req),
                &mut payload,
            )
            .now_or_never()
            .expect("a cache hit is ready at once")
            .expect("the token passes");
            drop(black_box(guarded));
            drop(req);
        }
        std::process::exit(0);
    }

    let mut group = c.benchmark_group(group_name("extraction"));
    group.bench_function("unguarded: (HttpRequest,)", |b| {
        b.iter_batched(
            request,
            |(req, mut payload): (HttpRequest, Payload)| {
                <(HttpRequest,)>::from_request(black_box(&req), &mut payload)
                    .now_or_never()
                    .expect("ready")
                    .expect("extracted")
            },
            HOT_BATCH,
        )
    });
    group.bench_function(
        "guarded, warm cache: Guarded<_, (MaskinportenClaims,)>",
        |b| {
            b.iter_batched(
                request,
                |(req, mut payload): (HttpRequest, Payload)| {
                    let guarded = Guarded::<RequiresRead, (MaskinportenClaims,)>::from_request(
                        black_box(&req),
                        &mut payload,
                    )
                    .now_or_never()
                    .expect("a cache hit is ready at once")
                    .expect("the token passes");
                    // Returned with the request, as the unguarded row returns
                    // it: criterion drops outputs outside the timing, so
                    // neither row times the teardown of a test request
                    // (its own app state and resource map), which a server
                    // does not pay per request (it pools requests).
                    (guarded, req)
                },
                HOT_BATCH,
            )
        },
    );
    group.finish();

    // The middleware wraps a service; the innermost one here does what a
    // handler taking `MaskinportenClaims` does: extract them, answer 200.
    let handler = actix_web::dev::fn_service(|req: ServiceRequest| async move {
        let (req, mut payload) = req.into_parts();
        let claims = MaskinportenClaims::from_request(&req, &mut payload).await?;
        black_box(&claims);
        Ok::<_, actix_web::Error>(ServiceResponse::new(req, HttpResponse::Ok().finish()))
    });
    // What a `#[require_scope]` handler taking `MaskinportenClaims` is, as a
    // service of the same shape: the row the middleware is compared with.
    let attribute = actix_web::dev::fn_service(|req: ServiceRequest| async move {
        let (req, mut payload) = req.into_parts();
        let claims =
            Guarded::<RequiresRead, (MaskinportenClaims,)>::from_request(&req, &mut payload)
                .await?;
        black_box(&claims.into_inner());
        Ok::<_, actix_web::Error>(ServiceResponse::new(req, HttpResponse::Ok().finish()))
    });
    let guarded = actix_web::rt::System::new()
        .block_on(
            RequireScope::all(scopes!["nav:helse/sykepenger/afp.read"])
                .new_transform(handler.clone()),
        )
        .expect("the middleware builds");
    let service_request = || {
        TestRequest::get()
            .uri("/afp")
            .insert_header((AUTHORIZATION, format!("Bearer {token}")))
            .app_data(maskinporten.clone())
            .to_srv_request()
    };
    let passed = guarded
        .call(service_request())
        .now_or_never()
        .expect("a cache hit is ready at once")
        .expect("answered");
    assert!(passed.status().is_success(), "the token passes the guard");
    let mut group = c.benchmark_group(group_name("middleware"));
    group.bench_function("handler service alone (extracts MaskinportenClaims)", |b| {
        b.iter_batched(
            service_request,
            |req| {
                handler
                    .call(black_box(req))
                    .now_or_never()
                    .expect("a cache hit is ready at once")
                    .expect("answered")
            },
            HOT_BATCH,
        )
    });
    group.bench_function("#[require_scope] handler service, warm cache", |b| {
        b.iter_batched(
            service_request,
            |req| {
                attribute
                    .call(black_box(req))
                    .now_or_never()
                    .expect("a cache hit is ready at once")
                    .expect("answered")
            },
            HOT_BATCH,
        )
    });
    group.bench_function(
        "RequireScope, warm cache, around the handler service",
        |b| {
            b.iter_batched(
                service_request,
                |req| {
                    guarded
                        .call(black_box(req))
                        .now_or_never()
                        .expect("a cache hit is ready at once")
                        .expect("answered")
                },
                HOT_BATCH,
            )
        },
    );
    group.finish();
    assert_eq!(
        texas.introspections(),
        1,
        "every measured request was a hit"
    );
    // The recorder counted the measured requests: the rows did not measure
    // a recorder that was never used.
    #[cfg(feature = "metrics")]
    if let Some(recorder) = recorder {
        let page = recorder.render();
        let allowed = page
            .lines()
            .find_map(|l| l.strip_prefix(r#"maskinporten_validations_total{outcome="allowed"} "#))
            .and_then(|n| n.parse::<u64>().ok())
            .expect("allowed requests counted");
        assert!(allowed > 1000, "{page}");
    }
    #[cfg(not(feature = "metrics"))]
    let _ = recorder;
}

criterion_group!(benches, extraction);
criterion_main!(benches);
