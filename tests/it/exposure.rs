//! Tokens issued for other APIs, tried as whoever received one would: a
//! handle takes exactly the scopes it was given (or any, when it says so),
//! also where a handler asks for no scope (a consumer allow-list, a bare
//! extractor); no scope named elsewhere in the program widens that; the
//! refusal names no scope; and a replayed refusal of a validly issued token
//! costs one validation, never one per request, within the cache's bounds.

use std::time::Duration;

use actix_web::{get, web, HttpResponse, Responder};
use maskinporten_actix::{
    require_scope, scopes, testing::LocalTexas, Maskinporten, RequireConsumer, RequireScope, Scopes,
};
use maskinporten_tests::{
    forged_token, handlers, other_api_token, read_token, Answer, TestApi, LISTED, OTHER_API, READ,
    WRITE,
};
use serde_json::json;

const NOT_EXPOSED: &str = "the access token holds none of the scopes this API exposes";

/// The shared handlers (`/afp` needs a scope, `/consumer` an organisation,
/// `/whoami` only the handle's word), and a consumer middleware.
fn routes(cfg: &mut web::ServiceConfig) {
    handlers::routes(cfg);
    cfg.service(
        web::scope("/tree")
            .wrap(
                maskinporten_actix::Orgnos::new([LISTED])
                    .map(RequireConsumer::one_of)
                    .unwrap(),
            )
            .route("/leaf", web::get().to(HttpResponse::Ok)),
    );
}

const PATHS: [&str; 4] = ["/afp", "/consumer", "/whoami", "/tree/leaf"];

/// A handle that exposes the one scope the routes' scope guard names.
fn exposing_read(texas: &LocalTexas) -> Maskinporten {
    texas
        .maskinporten_builder()
        .exposed_scopes([READ])
        .build()
        .unwrap()
}

#[actix_web::test]
async fn a_token_for_another_api_is_refused_by_every_guard_and_the_bare_extractor() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(exposing_read(&texas)), routes);
    let theirs = texas.token().scope(OTHER_API).consumer(LISTED).sign();
    let ours = texas.token().scope(READ).consumer(LISTED).sign();
    for path in PATHS {
        let Answer {
            status,
            challenge,
            body,
            ..
        } = api.ask(path, &theirs).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(body["error"], "insufficient_scope", "{path}");
        let challenge = challenge.expect("a challenge");
        if path == "/afp" {
            // A scope guard's own refusal names what it requires (RFC 6750
            // section 3), and only that.
            assert_eq!(
                challenge,
                format!(
                    "Bearer error=\"insufficient_scope\", error_description=\"the access token \
                     lacks a scope this resource requires\", scope=\"{READ}\""
                )
            );
            assert_eq!(body["scope"], READ);
        } else {
            // The handle's refusal names no scope, neither in the challenge
            // nor in the body: a token valid for another API does not let its
            // holder list this API's scopes.
            assert_eq!(
                challenge,
                format!("Bearer error=\"insufficient_scope\", error_description=\"{NOT_EXPOSED}\""),
                "{path}"
            );
            assert_eq!(
                body,
                json!({"error": "insufficient_scope", "error_description": NOT_EXPOSED}),
                "{path}"
            );
        }
        assert_eq!(api.status(path, &ours).await, 200, "{path}");
    }
    // A token with an exposed scope among others is this API's.
    let both = texas
        .token()
        .scopes([OTHER_API, READ])
        .consumer(LISTED)
        .sign();
    assert_eq!(api.status("/whoami", &both).await, 200);
}

#[actix_web::test]
async fn the_opt_out_takes_any_scope_and_a_list_is_exactly_the_list() {
    let texas = LocalTexas::start();
    let any = texas
        .maskinporten_builder()
        .accept_any_scope()
        .build()
        .unwrap();
    let api = TestApi::start(Some(any), routes);
    let theirs = texas.token().scope(OTHER_API).consumer(LISTED).sign();
    for path in ["/consumer", "/whoami", "/tree/leaf"] {
        assert_eq!(api.status(path, &theirs).await, 200, "{path}");
    }
    // The scope guard still asks for its own scope.
    assert_eq!(api.status("/afp", &theirs).await, 403);

    // A list that leaves out the scope the guards name: the guards' scope
    // is not taken for it.
    let listed = texas
        .maskinporten_builder()
        .exposed_scopes([OTHER_API])
        .build()
        .unwrap();
    let api = TestApi::start(Some(listed), routes);
    let ours = texas.token().scope(READ).consumer(LISTED).sign();
    assert_eq!(api.status("/whoami", &theirs).await, 200);
    let Answer {
        status,
        challenge,
        body,
        ..
    } = api.ask("/whoami", &ours).await;
    assert_eq!(status, 403);
    assert!(!challenge.unwrap().contains("scope="));
    assert!(body.get("scope").is_none(), "{body}");

    let both = texas
        .maskinporten_builder()
        .exposed_scopes([READ])
        .accept_any_scope()
        .build();
    assert!(both.unwrap_err().to_string().contains("accept_any_scope"));
}

#[actix_web::test]
async fn a_handle_that_says_neither_is_refused_when_built() {
    let texas = LocalTexas::start();
    for builder in [
        texas.maskinporten_builder(),
        texas.maskinporten_local_builder(),
    ] {
        assert_eq!(
            builder.build().unwrap_err().to_string(),
            "cannot configure Maskinporten: no exposed scopes: say which tokens this handle \
             takes, with exposed_scopes(..) for the scopes the API exposes (on NAIS, \
             exposed_scopes!() reads them from the manifest), or accept_any_scope() to take a \
             token whatever its scopes"
        );
    }
}

#[test]
fn exposed_scopes_must_be_scopes_and_not_none() {
    let builder = || Maskinporten::builder().introspection_endpoint("http://127.0.0.1:1/x");
    let empty: [&str; 0] = [];
    assert_eq!(
        builder()
            .exposed_scopes(empty)
            .build()
            .unwrap_err()
            .to_string(),
        "cannot configure Maskinporten: exposed_scopes: an empty list would refuse every token"
    );
    let err = builder()
        .exposed_scopes([READ, "nav:helse/Afp"])
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("exposed_scopes: `nav:helse/Afp` is not a Maskinporten scope"),
        "{err}"
    );
}

/// Both strategies, a handle exposing two scopes: a token holding either,
/// among scopes of other APIs, passes `/whoami`; a token holding only
/// another API's scope, or none, is refused, every time (a refusal is never
/// remembered as a pass).
#[actix_web::test]
async fn both_strategies_take_a_token_holding_any_exposed_scope_and_no_other() {
    let texas = LocalTexas::start();
    for builder in [
        texas.maskinporten_builder(),
        texas.maskinporten_local_builder(),
    ] {
        let maskinporten = builder.exposed_scopes([READ, WRITE]).build().unwrap();
        let api = TestApi::start(Some(maskinporten), routes);
        for scopes in [vec![READ], vec![WRITE, OTHER_API], vec![OTHER_API, READ]] {
            let token = texas.token().scopes(scopes.clone()).sign();
            assert_eq!(api.status("/whoami", &token).await, 200, "{scopes:?}");
        }
        for _ in 0..2 {
            let answer = api.ask("/whoami", &other_api_token(&texas)).await;
            assert_eq!(answer.status, 403);
            assert_eq!(answer.error(), Some("insufficient_scope"));
        }
        let none = texas.token().sign();
        assert_eq!(api.status("/whoami", &none).await, 403);
    }
}

// Scopes named in code that never runs, in a generic function never
// instantiated, by another API's guard linked into this binary, or in a list
// built at run time: none of them is a scope the handle takes.
#[allow(dead_code)]
fn never() -> Scopes {
    scopes!["nav:dead/code.read"]
}

#[allow(dead_code)]
fn never_instantiated<T>() -> (Scopes, Option<T>) {
    (scopes!["nav:generic/never.read"], None)
}

mod another_api {
    use super::*;

    #[get("/elsewhere")]
    #[require_scope("nav:another/linked.read")]
    pub(super) async fn elsewhere() -> impl Responder {
        HttpResponse::Ok().finish()
    }
}

#[actix_web::test]
async fn no_scope_named_elsewhere_in_the_program_widens_what_a_handle_takes() {
    let texas = LocalTexas::start();
    // The other API runs in this process with a handle of its own.
    let other = texas
        .maskinporten_builder()
        .exposed_scopes(["nav:another/linked.read"])
        .build()
        .unwrap();
    let other_api = TestApi::start(Some(other), |cfg| {
        cfg.service(another_api::elsewhere);
    });
    let api = TestApi::start(Some(exposing_read(&texas)), routes);
    // A list built at run time, from input.
    let input = "nav:runtime/configured.read";
    let guard = Scopes::new([input]).map(RequireScope::all).unwrap();
    for scope in [
        "nav:dead/code.read",
        "nav:generic/never.read",
        "nav:another/linked.read",
        input,
    ] {
        let token = texas.token().scope(scope).consumer(LISTED).sign();
        for path in PATHS {
            let Answer {
                status, challenge, ..
            } = api.ask(path, &token).await;
            assert_eq!(status, 403, "{scope} on {path}");
            assert!(!challenge.unwrap().contains(scope), "{scope} on {path}");
        }
    }
    let linked = texas.token().scope("nav:another/linked.read").sign();
    assert_eq!(other_api.status("/elsewhere", &linked).await, 200);
    drop(guard);
}

#[actix_web::test]
async fn ten_replays_of_a_token_for_another_api_cost_one_validation() {
    let texas = LocalTexas::start();
    let maskinporten = exposing_read(&texas);
    let api = TestApi::start(Some(maskinporten.clone()), routes);
    let theirs = texas.token().scope(OTHER_API).consumer(LISTED).sign();
    texas.reset_introspections();
    for _ in 0..10 {
        assert_eq!(api.status("/consumer", &theirs).await, 403);
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
            .exposed_scopes([READ])
            .audience("https://afp.nav.no")
            .build()
            .unwrap(),
        texas
            .maskinporten_local_builder()
            .exposed_scopes([READ])
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
            let Answer { status, body, .. } = api.ask("/afp", &elsewhere).await;
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
    let maskinporten = exposing_read(&texas);
    let api = TestApi::start(Some(maskinporten.clone()), routes);
    // Refused by the sidecar: a signature by a key it does not hold.
    let forged = forged_token(&texas);
    texas.reset_introspections();
    for _ in 0..10 {
        assert_eq!(api.status("/afp", &forged).await, 401);
    }
    assert_eq!(texas.introspections(), 10);
    maskinporten.settle_cache().await;
    assert_eq!(maskinporten.stats().remembered_refusals, 0);
}

#[actix_web::test]
async fn a_refusal_is_not_remembered_past_the_tokens_exp() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(exposing_read(&texas)), routes);
    // Inside the sidecar's 60 s leeway after `exp`, still active there.
    let theirs = texas
        .token()
        .scope(OTHER_API)
        .expires_in(Duration::from_secs(2))
        .sign();
    texas.reset_introspections();
    assert_eq!(api.status("/whoami", &theirs).await, 403);
    assert_eq!(api.status("/whoami", &theirs).await, 403);
    assert_eq!(texas.introspections(), 1);
    actix_web::rt::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(api.status("/whoami", &theirs).await, 403);
    assert_eq!(texas.introspections(), 2);
}

#[actix_web::test]
async fn without_the_cache_nothing_is_remembered() {
    let texas = LocalTexas::start();
    let maskinporten: Maskinporten = texas
        .maskinporten_builder()
        .exposed_scopes([READ])
        .disable_cache()
        .build()
        .unwrap();
    let api = TestApi::start(Some(maskinporten), routes);
    let theirs = texas.token().scope(OTHER_API).sign();
    texas.reset_introspections();
    for _ in 0..3 {
        assert_eq!(api.status("/whoami", &theirs).await, 403);
    }
    assert_eq!(texas.introspections(), 3);
}

#[actix_web::test]
async fn validate_bounds_the_token_length_as_the_extractor_does() {
    let texas = LocalTexas::start();
    let maskinporten = texas
        .maskinporten_builder()
        .exposed_scopes([READ])
        .max_token_length(100)
        .build()
        .unwrap();
    let token = read_token(&texas);
    assert!(token.len() > 100);
    texas.reset_introspections();
    let error = maskinporten.validate(&token).await.unwrap_err();
    assert_eq!(error.kind(), maskinporten_actix::ErrorKind::InvalidToken);
    assert_eq!(error.description(), "the access token is too large");
    assert_eq!(texas.introspections(), 0);
}

#[actix_web::test]
async fn validate_takes_exactly_the_exposed_scopes_too() {
    let texas = LocalTexas::start();
    let maskinporten = exposing_read(&texas);
    let theirs = texas.token().scope(OTHER_API).sign();
    let error = maskinporten.validate(&theirs).await.unwrap_err();
    assert_eq!(
        error.kind(),
        maskinporten_actix::ErrorKind::InsufficientScope
    );
    assert!(error.required_scope().is_none());
    let ours = read_token(&texas);
    assert!(maskinporten.validate(&ours).await.is_ok());
}

#[actix_web::test]
async fn remembered_refusals_are_weighed_within_the_caches_byte_bound() {
    const BOUND: u64 = 64 * 1024;
    let texas = LocalTexas::start();
    // Local validation: no round trip per token, and a refusal is
    // remembered for every validly issued token for another API.
    let maskinporten = texas
        .maskinporten_local_builder()
        .exposed_scopes([READ])
        .cache_capacity(100_000)
        .cache_max_bytes(BOUND)
        .build()
        .unwrap();
    // Tokens for another API, each with a 3.6 KB `scope`: 600 of them
    // would hold 2 MB of scope text alone.
    let filler: String = (0..200).map(|i| format!(" nav:x/f{i:04}.read")).collect();
    for i in 0..600 {
        let token = texas
            .token()
            .scope(&format!("nav:other/api{i:03}.read{filler}"))
            .sign();
        let error = maskinporten.validate(&token).await.unwrap_err();
        assert_eq!(error.description(), NOT_EXPOSED);
    }
    maskinporten.settle_cache().await;
    let stats = maskinporten.stats();
    assert!(stats.cached_bytes <= BOUND, "{stats:?}");
    assert!(stats.remembered_refusals > 0, "{stats:?}");
    // Each weighs what it holds, not the token's claims.
    assert!(
        stats.remembered_refusals <= BOUND / 256,
        "{} refusals in {} bytes",
        stats.remembered_refusals,
        stats.cached_bytes
    );
}
