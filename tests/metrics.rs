//! The metrics of the `metrics` feature, by name and label, over loopback:
//! each outcome a request can come to, each counted exactly once, however
//! many guards and extractors look at the token; the cache, the
//! introspections, local verification and the JWKS fetches beside them.
//!
//! A process-wide recorder (metrics-util's debugging recorder) is installed
//! before any request in this binary; tests take turns, and each step
//! asserts the exact change of every `maskinporten_*` series (a series not
//! listed must not have moved).

use std::{
    collections::BTreeMap,
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};

use actix_web::{get, web, HttpResponse, Responder};
use maskinporten_actix::{
    require_consumer, require_scope, scopes,
    testing::{JwksFault, LocalTexas},
    Maskinporten, MaskinportenClaims, RequireScope,
};
use maskinporten_tests::{
    handlers::read_afp, read_token, Fault, FaultServer, TestApi, READ, WRITE,
};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

const ALLOWED_ORG: &str = "991825827";
const OTHER_ORG: &str = "889640782";

/// The recorder of this binary and what its series have counted so far
/// (its snapshots drain counters and histograms, so they are summed here).
struct Recorded {
    snapshotter: Snapshotter,
    totals: Mutex<BTreeMap<String, u64>>,
}

fn recorded() -> &'static Recorded {
    static RECORDED: OnceLock<Recorded> = OnceLock::new();
    RECORDED.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder
            .install()
            .expect("the only recorder of this binary");
        maskinporten_actix::metrics::register();
        Recorded {
            snapshotter,
            totals: Mutex::default(),
        }
    })
}

/// Tests take turns: the recorder is the process's.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Recorded {
    /// Drains the recorder into the totals: counters by `name{label="value"}`,
    /// histograms by name as their number of samples. Returns the gauge's
    /// value when it was set since the last drain.
    fn drain(&self) -> Option<f64> {
        self.drain_described().0
    }

    /// [`drain`](Self::drain), and every series seen with whether it is
    /// described.
    fn drain_described(&self) -> (Option<f64>, Vec<(String, bool)>) {
        let mut totals = self.totals.lock().unwrap();
        let mut gauge = None;
        let mut seen = Vec::new();
        for (key, _, description, value) in self.snapshotter.snapshot().into_vec() {
            let key = key.key();
            let mut name = key.name().to_owned();
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}=\"{}\"", l.key(), l.value()))
                .collect();
            if !labels.is_empty() {
                name = format!("{name}{{{}}}", labels.join(","));
            }
            let added = match value {
                DebugValue::Counter(n) => n,
                DebugValue::Histogram(samples) => samples.len() as u64,
                // The quota's fallback gauge is asserted where a quota falls
                // back (tests/it/quota_shared.rs), not here.
                DebugValue::Gauge(_) if name == maskinporten_actix::quota::FALLBACK => 0,
                DebugValue::Gauge(value) => {
                    assert_eq!(name, "maskinporten_cache_entries");
                    if value.into_inner() != 0.0 {
                        gauge = Some(value.into_inner());
                    }
                    0
                }
            };
            assert!(
                name.starts_with("maskinporten_"),
                "a foreign series: {name}"
            );
            seen.push((name.clone(), description.is_some()));
            *totals.entry(name).or_default() += added;
        }
        (gauge, seen)
    }

    fn totals(&self) -> BTreeMap<String, u64> {
        self.drain();
        self.totals.lock().unwrap().clone()
    }

    /// Waits until the series have moved by exactly `want` since `before`
    /// (requests count when the server is done with them, just after the
    /// answer), then checks that nothing more arrives.
    async fn expect(&self, step: &str, before: &mut BTreeMap<String, u64>, want: &[(&str, u64)]) {
        let want: BTreeMap<String, u64> = want.iter().map(|(k, n)| (k.to_string(), *n)).collect();
        let deadline = Instant::now() + Duration::from_secs(5);
        let moved = |now: &BTreeMap<String, u64>| -> BTreeMap<String, u64> {
            now.iter()
                .filter_map(|(k, n)| {
                    let d = n - before.get(k).copied().unwrap_or(0);
                    (d > 0).then(|| (k.clone(), d))
                })
                .collect()
        };
        let mut got = moved(&self.totals());
        while got != want && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
            got = moved(&self.totals());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = self.totals();
        assert_eq!(moved(&now), want, "{step}");
        *before = now;
    }
}

#[get("/consumer")]
#[require_scope("nav:helse/sykepenger/afp.read")]
#[require_consumer("991825827")]
async fn for_one_consumer(_claims: MaskinportenClaims) -> impl Responder {
    HttpResponse::Ok().finish()
}

/// The same handlers inside a `RequireScope` middleware: a request meets
/// the middleware, the attribute and the extractor.
fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(read_afp).service(for_one_consumer).service(
        web::scope("/tree")
            .wrap(RequireScope::all(scopes!["nav:helse/sykepenger/afp.read"]))
            .service(read_afp)
            .service(for_one_consumer),
    );
}

#[actix_web::test]
async fn every_outcome_is_counted_once_by_name_and_label() {
    let recorded = recorded();
    let _turn = TURN.lock().await;
    let mut before = recorded.totals();
    let texas = LocalTexas::start();
    // The API exposes both; its routes ask for READ.
    let maskinporten = texas
        .maskinporten_builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .exposed_scopes([READ, WRITE])
        .build()
        .unwrap();
    let api = TestApi::start(Some(maskinporten.clone()), routes);

    let read = texas.token().scope(READ).consumer(ALLOWED_ORG).sign();
    assert_eq!(api.status("/afp", &read).await, 200);
    recorded
        .expect(
            "a new valid token",
            &mut before,
            &[
                ("maskinporten_validations_total{outcome=\"allowed\"}", 1),
                ("maskinporten_cache_lookups_total{result=\"miss\"}", 1),
                ("maskinporten_introspections_total{result=\"active\"}", 1),
                ("maskinporten_introspection_duration_seconds", 1),
            ],
        )
        .await;

    assert_eq!(api.status("/afp", &read).await, 200);
    recorded
        .expect(
            "the same token, cached",
            &mut before,
            &[
                ("maskinporten_validations_total{outcome=\"allowed\"}", 1),
                ("maskinporten_cache_lookups_total{result=\"hit\"}", 1),
            ],
        )
        .await;

    assert_eq!(api.ask_anonymously("/afp").await.status, 401);
    recorded
        .expect(
            "no token",
            &mut before,
            &[(
                "maskinporten_validations_total{outcome=\"missing_token\"}",
                1,
            )],
        )
        .await;

    let twice = [format!("Bearer {read}"), format!("Bearer {read}")];
    assert_eq!(
        api.ask_with_authorizations("/afp", &twice).await.status,
        400
    );
    recorded
        .expect(
            "two Authorization headers",
            &mut before,
            &[(
                "maskinporten_validations_total{outcome=\"invalid_request\"}",
                1,
            )],
        )
        .await;

    let expired = texas
        .token()
        .scope(READ)
        .expired(Duration::from_secs(3600))
        .sign();
    assert_eq!(api.status("/afp", &expired).await, 401);
    recorded
        .expect(
            "an expired token, refused without asking the sidecar",
            &mut before,
            &[
                (
                    "maskinporten_validations_total{outcome=\"invalid_token\"}",
                    1,
                ),
                ("maskinporten_cache_lookups_total{result=\"miss\"}", 1),
            ],
        )
        .await;

    let tampered = texas.token().scope(READ).tampered().sign();
    assert_eq!(api.status("/afp", &tampered).await, 401);
    recorded
        .expect(
            "a tampered token, inactive by the sidecar",
            &mut before,
            &[
                (
                    "maskinporten_validations_total{outcome=\"invalid_token\"}",
                    1,
                ),
                ("maskinporten_cache_lookups_total{result=\"miss\"}", 1),
                ("maskinporten_introspections_total{result=\"inactive\"}", 1),
                ("maskinporten_introspection_duration_seconds", 1),
            ],
        )
        .await;

    let write = texas.token().scope(WRITE).consumer(ALLOWED_ORG).sign();
    assert_eq!(api.status("/afp", &write).await, 403);
    recorded
        .expect(
            "a valid token without the scope",
            &mut before,
            &[
                (
                    "maskinporten_validations_total{outcome=\"insufficient_scope\"}",
                    1,
                ),
                ("maskinporten_cache_lookups_total{result=\"miss\"}", 1),
                ("maskinporten_introspections_total{result=\"active\"}", 1),
                ("maskinporten_introspection_duration_seconds", 1),
            ],
        )
        .await;

    let other = texas.token().scope(READ).consumer(OTHER_ORG).sign();
    assert_eq!(api.status("/consumer", &other).await, 403);
    recorded
        .expect(
            "a consumer not on the list",
            &mut before,
            &[
                (
                    "maskinporten_validations_total{outcome=\"access_denied\"}",
                    1,
                ),
                ("maskinporten_cache_lookups_total{result=\"miss\"}", 1),
                ("maskinporten_introspections_total{result=\"active\"}", 1),
                ("maskinporten_introspection_duration_seconds", 1),
            ],
        )
        .await;

    // Middleware, attribute and extractor on one request: one validation,
    // one lookup, one count.
    assert_eq!(api.status("/tree/afp", &read).await, 200);
    assert_eq!(api.status("/tree/consumer", &read).await, 200);
    recorded
        .expect(
            "two allowed requests through middleware and attributes",
            &mut before,
            &[
                ("maskinporten_validations_total{outcome=\"allowed\"}", 2),
                ("maskinporten_cache_lookups_total{result=\"hit\"}", 2),
            ],
        )
        .await;
    assert_eq!(api.status("/tree/afp", &write).await, 403);
    recorded
        .expect(
            "refused by the middleware",
            &mut before,
            &[
                (
                    "maskinporten_validations_total{outcome=\"insufficient_scope\"}",
                    1,
                ),
                ("maskinporten_cache_lookups_total{result=\"hit\"}", 1),
            ],
        )
        .await;
    assert_eq!(api.status("/tree/consumer", &other).await, 403);
    recorded
        .expect(
            "let through by the middleware, refused by the attribute: not allowed",
            &mut before,
            &[
                (
                    "maskinporten_validations_total{outcome=\"access_denied\"}",
                    1,
                ),
                ("maskinporten_cache_lookups_total{result=\"hit\"}", 1),
            ],
        )
        .await;

    // A direct validation, outside any request.
    maskinporten.validate(&read).await.expect("valid");
    maskinporten
        .validate(&tampered)
        .await
        .expect_err("inactive");
    recorded
        .expect(
            "two direct validations",
            &mut before,
            &[
                ("maskinporten_validations_total{outcome=\"allowed\"}", 1),
                (
                    "maskinporten_validations_total{outcome=\"invalid_token\"}",
                    1,
                ),
                ("maskinporten_cache_lookups_total{result=\"hit\"}", 1),
                ("maskinporten_cache_lookups_total{result=\"miss\"}", 1),
                ("maskinporten_introspections_total{result=\"inactive\"}", 1),
                ("maskinporten_introspection_duration_seconds", 1),
            ],
        )
        .await;

    // No handle registered.
    let unconfigured = TestApi::start(None, routes);
    assert_eq!(unconfigured.status("/afp", &read).await, 500);
    recorded
        .expect(
            "no Maskinporten handle",
            &mut before,
            &[(
                "maskinporten_validations_total{outcome=\"misconfigured\"}",
                1,
            )],
        )
        .await;

    // The sidecar answers 500.
    let sidecar = FaultServer::start(Fault::Answer(500, r#"{"error":"boom"}"#.into())).await;
    let failing = Maskinporten::builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .introspection_endpoint(sidecar.url())
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let down = TestApi::start(Some(failing), routes);
    assert_eq!(down.status("/afp", &read).await, 503);
    recorded
        .expect(
            "the sidecar fails",
            &mut before,
            &[
                (
                    "maskinporten_validations_total{outcome=\"validator_unavailable\"}",
                    1,
                ),
                ("maskinporten_cache_lookups_total{result=\"miss\"}", 1),
                ("maskinporten_introspections_total{result=\"failed\"}", 1),
                ("maskinporten_introspection_duration_seconds", 1),
            ],
        )
        .await;

    // The cache holds the three valid tokens.
    maskinporten.settle_cache().await;
    assert_eq!(recorded.drain(), Some(3.0), "maskinporten_cache_entries");
    assert_eq!(maskinporten.stats().cached_entries, 3);
}

#[actix_web::test]
async fn local_verification_and_jwks_fetches_are_counted() {
    let recorded = recorded();
    let _turn = TURN.lock().await;
    let mut before = recorded.totals();
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::local_handle(&texas)), routes);

    let read = read_token(&texas);
    assert_eq!(api.status("/afp", &read).await, 200);
    recorded
        .expect(
            "a valid token, the keys fetched first",
            &mut before,
            &[
                ("maskinporten_validations_total{outcome=\"allowed\"}", 1),
                ("maskinporten_cache_lookups_total{result=\"miss\"}", 1),
                (
                    "maskinporten_local_verifications_total{result=\"active\"}",
                    1,
                ),
                ("maskinporten_jwks_fetches_total{result=\"ok\"}", 1),
            ],
        )
        .await;

    let tampered = texas.token().scope(READ).tampered().sign();
    assert_eq!(api.status("/afp", &tampered).await, 401);
    recorded
        .expect(
            "a tampered token",
            &mut before,
            &[
                (
                    "maskinporten_validations_total{outcome=\"invalid_token\"}",
                    1,
                ),
                ("maskinporten_cache_lookups_total{result=\"miss\"}", 1),
                (
                    "maskinporten_local_verifications_total{result=\"inactive\"}",
                    1,
                ),
            ],
        )
        .await;

    let broken = LocalTexas::start();
    broken.set_jwks_fault(JwksFault::Status(500));
    let api = TestApi::start(Some(maskinporten_tests::local_handle(&broken)), routes);
    let token = broken.token().scope(READ).sign();
    assert_eq!(api.status("/afp", &token).await, 503);
    recorded
        .expect(
            "no keys to be had",
            &mut before,
            &[
                (
                    "maskinporten_validations_total{outcome=\"validator_unavailable\"}",
                    1,
                ),
                ("maskinporten_cache_lookups_total{result=\"miss\"}", 1),
                (
                    "maskinporten_local_verifications_total{result=\"failed\"}",
                    1,
                ),
                ("maskinporten_jwks_fetches_total{result=\"failed\"}", 1),
            ],
        )
        .await;
}

#[actix_web::test]
async fn every_series_is_registered_and_described_up_front() {
    let recorded = recorded();
    let _turn = TURN.lock().await;
    let (_, seen) = recorded.drain_described();
    let mut names: Vec<String> = seen
        .into_iter()
        .map(|(name, described)| {
            assert!(described, "{name} is not described");
            name
        })
        .collect();
    names.sort();
    let mut want = vec![
        "maskinporten_cache_entries".to_owned(),
        r#"maskinporten_cache_lookups_total{result="hit"}"#.to_owned(),
        r#"maskinporten_cache_lookups_total{result="miss"}"#.to_owned(),
        "maskinporten_introspection_duration_seconds".to_owned(),
        r#"maskinporten_jwks_fetches_total{result="failed"}"#.to_owned(),
        r#"maskinporten_jwks_fetches_total{result="ok"}"#.to_owned(),
    ];
    for result in ["active", "failed", "inactive"] {
        want.push(format!(
            "maskinporten_introspections_total{{result=\"{result}\"}}"
        ));
        want.push(format!(
            "maskinporten_local_verifications_total{{result=\"{result}\"}}"
        ));
    }
    for outcome in [
        "access_denied",
        "allowed",
        "insufficient_scope",
        "invalid_request",
        "invalid_token",
        "misconfigured",
        "missing_token",
        "validator_unavailable",
    ] {
        want.push(format!(
            "maskinporten_validations_total{{outcome=\"{outcome}\"}}"
        ));
    }
    want.sort();
    assert_eq!(names, want);
}

/// A consumer quota's decisions by result, and the organisation as a label
/// only when asked for; the validation behind them counted once as usual.
#[actix_web::test]
async fn quota_decisions_are_counted_by_result() {
    use maskinporten_actix::quota::ConsumerQuota;

    let recorded = recorded();
    let _turn = TURN.lock().await;
    let mut before = recorded.totals();
    let texas = LocalTexas::start();
    let maskinporten = texas
        .maskinporten_builder()
        .exposed_scopes([READ])
        .build()
        .unwrap();
    let quota = ConsumerQuota::per_minute(2);
    let labelled = ConsumerQuota::per_minute(1).label_consumers(true);
    let api = TestApi::start(Some(maskinporten), move |cfg| {
        cfg.service(web::scope("/quota").wrap(quota.clone()).service(read_afp))
            .service(
                web::scope("/labelled")
                    .wrap(labelled.clone())
                    .service(read_afp),
            );
    });

    let read = texas.token().scope(READ).consumer(ALLOWED_ORG).sign();
    for want in [200, 200, 429] {
        assert_eq!(api.status("/quota/afp", &read).await, want);
    }
    recorded
        .expect(
            "two admitted, one throttled",
            &mut before,
            &[
                ("maskinporten_validations_total{outcome=\"allowed\"}", 3),
                ("maskinporten_cache_lookups_total{result=\"miss\"}", 1),
                ("maskinporten_cache_lookups_total{result=\"hit\"}", 2),
                ("maskinporten_introspections_total{result=\"active\"}", 1),
                ("maskinporten_introspection_duration_seconds", 1),
                ("maskinporten_quota_decisions_total{result=\"admitted\"}", 2),
                (
                    "maskinporten_quota_decisions_total{result=\"throttled\"}",
                    1,
                ),
            ],
        )
        .await;

    // No token: the validation's rejection, and no decision of the quota.
    assert_eq!(api.ask_anonymously("/quota/afp").await.status, 401);
    recorded
        .expect(
            "no token",
            &mut before,
            &[(
                "maskinporten_validations_total{outcome=\"missing_token\"}",
                1,
            )],
        )
        .await;

    for want in [200, 429] {
        assert_eq!(api.status("/labelled/afp", &read).await, want);
    }
    recorded
        .expect(
            "labelled with the organisation",
            &mut before,
            &[
                ("maskinporten_validations_total{outcome=\"allowed\"}", 2),
                ("maskinporten_cache_lookups_total{result=\"hit\"}", 2),
                (
                    "maskinporten_quota_decisions_total{result=\"admitted\",consumer=\"991825827\"}",
                    1,
                ),
                (
                    "maskinporten_quota_decisions_total{result=\"throttled\",consumer=\"991825827\"}",
                    1,
                ),
            ],
        )
        .await;
}
