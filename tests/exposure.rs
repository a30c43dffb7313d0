//! Tokens issued for other APIs, tried as whoever received one would: by
//! default a handle takes only tokens that hold a scope this program's
//! guards name, also where a handler asks for no scope (a consumer
//! allow-list, a bare extractor); and a replayed refusal of a validly
//! issued token costs one validation, never one per request.

use std::time::Duration;

use actix_web::{get, web, HttpResponse, Responder};
use maskinporten_actix::{
    require_consumer, require_scope, testing::LocalTexas, Maskinporten, MaskinportenClaims,
    RequireConsumer, RequireScope,
};
use maskinporten_tests::{client, TestApi};
use serde_json::{json, Value};

const READ: &str = "nav:helse/sykepenger/afp.read";
const OTHER_API: &str = "nav:other/api.read";
const LISTED: &str = "991825827";

#[get("/scoped")]
#[require_scope("nav:helse/sykepenger/afp.read")]
async fn scoped() -> impl Responder {
    HttpResponse::Ok().finish()
}

#[get("/consumer")]
#[require_consumer("991825827")]
async fn consumer_only() -> impl Responder {
    HttpResponse::Ok().finish()
}

#[get("/bare")]
async fn bare(_claims: MaskinportenClaims) -> impl Responder {
    HttpResponse::Ok().finish()
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(scoped)
        .service(consumer_only)
        .service(bare)
        .service(
            web::scope("/tree")
                .wrap(
                    maskinporten_actix::Orgnos::new([LISTED])
                        .map(RequireConsumer::one_of)
                        .unwrap(),
                )
                .route("/leaf", web::get().to(HttpResponse::Ok)),
        );
}

const PATHS: [&str; 4] = ["/scoped", "/consumer", "/bare", "/tree/leaf"];

async fn get(api: &TestApi, path: &str, token: &str) -> (u16, Option<String>, Value) {
    let response = client()
        .get(api.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        challenge,
        response.json().await.unwrap_or(Value::Null),
    )
}

#[actix_web::test]
async fn a_token_for_another_api_is_refused_by_every_guard_and_the_bare_extractor() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(texas.maskinporten_builder().build().unwrap()), routes);
    let theirs = texas.token().scope(OTHER_API).consumer(LISTED).sign();
    let ours = texas.token().scope(READ).consumer(LISTED).sign();
    for path in PATHS {
        let (status, challenge, body) = get(&api, path, &theirs).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(body["error"], "insufficient_scope", "{path}");
        let challenge = challenge.expect("a challenge");
        assert!(
            challenge.contains(r#"error="insufficient_scope""#),
            "{challenge}"
        );
        // The challenge names what this API takes, never the token's scopes.
        assert!(challenge.contains(READ), "{challenge}");
        assert!(!challenge.contains(OTHER_API), "{challenge}");
        assert_eq!(get(&api, path, &ours).await.0, 200, "{path}");
    }
    // A token with an exposed scope among others is this API's.
    let both = texas
        .token()
        .scopes([OTHER_API, READ])
        .consumer(LISTED)
        .sign();
    assert_eq!(get(&api, "/bare", &both).await.0, 200);
}

#[actix_web::test]
async fn the_opt_out_takes_any_scope_and_an_explicit_list_replaces_the_default() {
    let texas = LocalTexas::start();
    let any = texas
        .maskinporten_builder()
        .accept_any_scope()
        .build()
        .unwrap();
    let api = TestApi::start(Some(any), routes);
    let theirs = texas.token().scope(OTHER_API).consumer(LISTED).sign();
    for path in ["/consumer", "/bare", "/tree/leaf"] {
        assert_eq!(get(&api, path, &theirs).await.0, 200, "{path}");
    }
    // The scope guard still asks for its own scope.
    assert_eq!(get(&api, "/scoped", &theirs).await.0, 403);

    let listed = texas
        .maskinporten_builder()
        .exposed_scopes([OTHER_API])
        .build()
        .unwrap();
    let api = TestApi::start(Some(listed), routes);
    let ours = texas.token().scope(READ).consumer(LISTED).sign();
    assert_eq!(get(&api, "/bare", &theirs).await.0, 200);
    let (status, challenge, _) = get(&api, "/bare", &ours).await;
    assert_eq!(status, 403);
    assert!(challenge
        .unwrap()
        .contains(&format!(r#"scope="{OTHER_API}""#)));

    let both = texas
        .maskinporten_builder()
        .exposed_scopes([READ])
        .accept_any_scope()
        .build();
    assert!(both.unwrap_err().to_string().contains("accept_any_scope"));
}

#[actix_web::test]
async fn a_list_built_at_run_time_names_its_scopes_from_then_on() {
    // Named nowhere else in this program.
    const RUNTIME: &str = "nav:runtime/configured.read";
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(texas.maskinporten_builder().build().unwrap()), routes);
    let token = texas.token().scope(RUNTIME).sign();
    assert_eq!(get(&api, "/bare", &token).await.0, 403);
    let guard = maskinporten_actix::Scopes::new([RUNTIME])
        .map(RequireScope::all)
        .unwrap();
    // A new token (the refusal of the first one stands until the named set
    // grows, which it just did: the first is taken now too).
    let fresh = texas.token().scope(RUNTIME).sign();
    assert_eq!(get(&api, "/bare", &fresh).await.0, 200);
    assert_eq!(get(&api, "/bare", &token).await.0, 200);
    drop(guard);
}

#[actix_web::test]
async fn ten_replays_of_a_token_for_another_api_cost_one_validation() {
    let texas = LocalTexas::start();
    let maskinporten = texas.maskinporten_builder().build().unwrap();
    let api = TestApi::start(Some(maskinporten.clone()), routes);
    let theirs = texas.token().scope(OTHER_API).consumer(LISTED).sign();
    texas.reset_introspections();
    for _ in 0..10 {
        assert_eq!(get(&api, "/consumer", &theirs).await.0, 403);
    }
    assert_eq!(texas.introspections(), 1);
    let stats = maskinporten.stats();
    assert_eq!((stats.cache_misses, stats.cache_hits), (1, 9));
    maskinporten.settle_cache().await;
    assert_eq!(maskinporten.stats().remembered_refusals, 1);
    // The refusal is not an entry of the claims cache.
    assert_eq!(maskinporten.stats().cached_entries, 0);
}

#[actix_web::test]
async fn ten_replays_for_another_audience_cost_one_validation_in_both_strategies() {
    let texas = LocalTexas::start();
    for maskinporten in [
        texas
            .maskinporten_builder()
            .audience("https://afp.nav.no")
            .build()
            .unwrap(),
        texas
            .maskinporten_local_builder()
            .audience("https://afp.nav.no")
            .build()
            .unwrap(),
    ] {
        let api = TestApi::start(Some(maskinporten.clone()), routes);
        let elsewhere = texas
            .token()
            .scope(READ)
            .claim("aud", json!("https://other.example"))
            .sign();
        texas.reset_introspections();
        for _ in 0..10 {
            let (status, _, body) = get(&api, "/scoped", &elsewhere).await;
            assert_eq!(status, 401);
            assert_eq!(body["error"], "invalid_token");
        }
        assert!(texas.introspections() <= 1);
        let stats = maskinporten.stats();
        assert_eq!(
            (stats.cache_misses, stats.cache_hits),
            (1, 9),
            "{maskinporten:?}"
        );
    }
}

#[actix_web::test]
async fn junk_is_never_remembered() {
    let texas = LocalTexas::start();
    let maskinporten = texas.maskinporten_builder().build().unwrap();
    let api = TestApi::start(Some(maskinporten.clone()), routes);
    // Refused by the sidecar: a signature by a key it does not hold.
    let forged = texas
        .token()
        .scope(READ)
        .kid(maskinporten_actix::testing::DEFAULT_KID)
        .signed_by_other_key()
        .sign();
    texas.reset_introspections();
    for _ in 0..10 {
        assert_eq!(get(&api, "/scoped", &forged).await.0, 401);
    }
    assert_eq!(texas.introspections(), 10);
    maskinporten.settle_cache().await;
    assert_eq!(maskinporten.stats().remembered_refusals, 0);
}

#[actix_web::test]
async fn a_refusal_is_not_remembered_past_the_tokens_exp() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(texas.maskinporten_builder().build().unwrap()), routes);
    // Inside the sidecar's 60 s leeway after `exp`, still active there.
    let theirs = texas
        .token()
        .scope(OTHER_API)
        .expires_in(Duration::from_secs(2))
        .sign();
    texas.reset_introspections();
    assert_eq!(get(&api, "/bare", &theirs).await.0, 403);
    assert_eq!(get(&api, "/bare", &theirs).await.0, 403);
    assert_eq!(texas.introspections(), 1);
    actix_web::rt::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(get(&api, "/bare", &theirs).await.0, 403);
    assert_eq!(texas.introspections(), 2);
}

#[actix_web::test]
async fn without_the_cache_nothing_is_remembered() {
    let texas = LocalTexas::start();
    let maskinporten: Maskinporten = texas
        .maskinporten_builder()
        .disable_cache()
        .build()
        .unwrap();
    let api = TestApi::start(Some(maskinporten), routes);
    let theirs = texas.token().scope(OTHER_API).sign();
    texas.reset_introspections();
    for _ in 0..3 {
        assert_eq!(get(&api, "/bare", &theirs).await.0, 403);
    }
    assert_eq!(texas.introspections(), 3);
}

#[actix_web::test]
async fn validate_bounds_the_token_length_as_the_extractor_does() {
    let texas = LocalTexas::start();
    let maskinporten = texas
        .maskinporten_builder()
        .max_token_length(100)
        .build()
        .unwrap();
    let token = texas.token().scope(READ).sign();
    assert!(token.len() > 100);
    texas.reset_introspections();
    let error = maskinporten.validate(&token).await.unwrap_err();
    assert_eq!(error.kind(), maskinporten_actix::ErrorKind::InvalidToken);
    assert_eq!(error.description(), "the access token is too large");
    assert_eq!(texas.introspections(), 0);
}

#[actix_web::test]
async fn validate_takes_the_same_default() {
    let texas = LocalTexas::start();
    let maskinporten = texas.maskinporten_builder().build().unwrap();
    let theirs = texas.token().scope(OTHER_API).sign();
    let error = maskinporten.validate(&theirs).await.unwrap_err();
    assert_eq!(
        error.kind(),
        maskinporten_actix::ErrorKind::InsufficientScope
    );
    let ours = texas.token().scope(READ).sign();
    assert!(maskinporten.validate(&ours).await.is_ok());
}
