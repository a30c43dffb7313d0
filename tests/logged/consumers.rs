//! Consumer allow-lists over real HTTP: `#[require_consumer]` stacked with
//! `#[require_scope]` and actix's route attributes in either order, and the
//! `RequireConsumer` middleware from `orgnos![]` or a run-time list. A
//! consumer not on the list gets 403 `access_denied` with no challenge and
//! no word about who is allowed; the refusal is logged with its organisation
//! number, never with the token.

use actix_web::{get, web, HttpResponse};
use maskinporten_actix::{
    orgnos, require_consumer, require_scope, testing::LocalTexas, MaskinportenClaims,
    RequireConsumer, RequireScope,
};
use maskinporten_tests::{logs, Answer, TestApi, READ};
use reqwest::StatusCode;
use serde_json::{json, Value};

const OTHER: &str = "nav:helse/sykepenger/annet";
const ALLOWED: &str = "991825827";
const ALSO_ALLOWED: &str = "974760673";
const STRANGER: &str = "974761076";

/// Consumer first, scope below, route attribute on top.
#[get("/consumer-then-scope")]
#[require_consumer("991825827", "974760673")]
#[require_scope("nav:helse/sykepenger/afp.read")]
async fn consumer_then_scope(claims: MaskinportenClaims) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "consumer": claims.consumer().and_then(|c| c.orgno()) }))
}

/// Scope first, consumer below, route attribute at the bottom.
#[require_scope("nav:helse/sykepenger/afp.read")]
#[require_consumer("991825827", "974760673")]
#[get("/scope-then-consumer")]
async fn scope_then_consumer(claims: MaskinportenClaims) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "consumer": claims.consumer().and_then(|c| c.orgno()) }))
}

/// Consumer only, between the route attribute and the handler, with an
/// argument of its own.
#[get("/consumer-only/{id}")]
#[require_consumer("991825827")]
async fn consumer_only(id: web::Path<u32>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "id": id.into_inner() }))
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(consumer_then_scope)
        .service(scope_then_consumer)
        .service(consumer_only)
        .service(
            web::scope("/middleware")
                .wrap(RequireConsumer::one_of(orgnos!["991825827", "974760673"]))
                .wrap(RequireScope::all(maskinporten_actix::scopes![
                    "nav:helse/sykepenger/afp.read"
                ]))
                .route("/afp", web::get().to(HttpResponse::Ok)),
        );
}

/// A 403 `access_denied` that names no listed organisation.
#[track_caller]
fn assert_access_denied(answer: Answer, what: &str) {
    answer.assert_access_denied(what);
    for orgno in [ALLOWED, ALSO_ALLOWED] {
        assert!(
            !answer.text.contains(orgno),
            "{what}: the body names {orgno}"
        );
    }
}

#[actix_web::test]
async fn listed_consumers_pass_every_guard_form() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), routes);
    for orgno in [ALLOWED, ALSO_ALLOWED] {
        let token = texas.token().scope(READ).consumer(orgno).sign();
        for path in [
            "/consumer-then-scope",
            "/scope-then-consumer",
            "/middleware/afp",
        ] {
            let response = api.ask(path, &token).await;
            assert_eq!(response.status, StatusCode::OK, "{path} {orgno}");
            if !path.starts_with("/middleware") {
                let body: Value = response.body;
                assert_eq!(body["consumer"], orgno);
            }
        }
    }
    let token = texas.token().scope(READ).consumer(ALLOWED).sign();
    let response = api.ask("/consumer-only/7", &token).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.body, json!({ "id": 7 }));
}

#[actix_web::test]
async fn other_consumers_get_403_access_denied_from_every_guard_form() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), routes);
    let stranger = texas.token().scope(READ).consumer(STRANGER).sign();
    for path in [
        "/consumer-then-scope",
        "/scope-then-consumer",
        "/middleware/afp",
        "/consumer-only/7",
    ] {
        let response = api.ask(path, &stranger).await;
        assert_access_denied(response, path);
    }
}

#[actix_web::test]
async fn organisation_numbers_compare_exactly() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), routes);
    let ids = [
        // Another ISO 6523 scheme with the same digits.
        "0193:991825827",
        // The digits with something around them.
        "0192:991825827 ",
        "0192: 991825827",
        "0192:0991825827",
        "0192:99182582",
        "991825827",
        "",
    ];
    for id in ids {
        let token = texas.token().scope(READ).consumer_id(id).sign();
        let response = api.ask("/consumer-only/1", &token).await;
        assert_access_denied(response, id);
    }
    // A token without a consumer at all.
    let token = texas.token().scope(READ).without("consumer").sign();
    let response = api.ask("/middleware/afp", &token).await;
    assert_access_denied(response, "no consumer");
    // More colon-separated parts after the number are tolerated.
    let token = texas
        .token()
        .scope(READ)
        .consumer_id("0192:991825827:unit")
        .sign();
    let response = api.ask("/consumer-only/1", &token).await;
    assert_eq!(response.status, StatusCode::OK);
}

#[actix_web::test]
async fn an_allowed_consumer_still_needs_the_scope_and_a_token() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), routes);
    let allowed_other_scope = texas.token().scope(OTHER).consumer(ALLOWED).sign();
    for path in [
        "/consumer-then-scope",
        "/scope-then-consumer",
        "/middleware/afp",
    ] {
        // An allowed consumer without the scope: the attribute's 403.
        let response = api.ask(path, &allowed_other_scope).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{path}");
        let body: Value = response.body;
        assert_eq!(body["error"], "insufficient_scope", "{path}");
        // No token: 401, whoever might have sent it.
        let response = api.ask_anonymously(path).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(response.challenge.as_deref(), Some("Bearer"));
    }
}

#[actix_web::test]
async fn run_time_lists_are_checked_and_never_empty() {
    // What an application reads from its environment.
    let configured = "991825827, 974760673";
    let guard = maskinporten_actix::Orgnos::new(configured.split(',').map(str::trim))
        .map(RequireConsumer::one_of)
        .unwrap();
    assert_eq!(
        maskinporten_actix::Orgnos::new("".split(',').filter(|s| !s.is_empty()))
            .map(RequireConsumer::one_of)
            .err()
            .unwrap()
            .to_string(),
        "the list of organisation numbers is empty; a guard with an empty list would refuse \
         every request"
    );
    assert_eq!(
        maskinporten_actix::Orgnos::new(["991825827", "123456789"])
            .map(RequireConsumer::one_of)
            .err()
            .unwrap()
            .to_string(),
        "organisation number 2 (`123456789`): this is the placeholder from the NAIS \
         documentation, not a real organisation number; the check digit is wrong: for an \
         organisation number starting with `12345678`, the check digit must be 5, not 9"
    );
    // Untrimmed configuration is refused, not silently matched.
    assert!(maskinporten_actix::Orgnos::new(configured.split(','))
        .map(RequireConsumer::one_of)
        .is_err());

    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), move |cfg| {
        cfg.service(
            web::resource("/afp")
                .wrap(guard.clone())
                .route(web::get().to(HttpResponse::Ok)),
        );
    });
    let allowed = texas.token().scope(READ).consumer(ALSO_ALLOWED).sign();
    let stranger = texas.token().scope(READ).consumer(STRANGER).sign();
    assert_eq!(api.status("/afp", &allowed).await, StatusCode::OK);
    assert_access_denied(api.ask("/afp", &stranger).await, "run-time");
}

#[actix_web::test]
async fn a_refusal_is_logged_with_the_organisation_number_never_the_token() {
    let logs = logs();
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), routes);
    let stranger = texas.token().scope(READ).consumer(STRANGER).sign();
    let response = api.ask("/middleware/afp", &stranger).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);

    let text = logs.text();
    let line = text
        .lines()
        .find(|line| line.contains("Maskinporten access denied"))
        .unwrap_or_else(|| panic!("no refusal logged in:\n{text}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(
        line.contains(&format!("consumer=\"{STRANGER}\""))
            || line.contains(&format!("consumer={STRANGER}")),
        "{line}"
    );
    assert!(
        line.contains("the consumer is not on the allow-list"),
        "{line}"
    );
    let payload = stranger.split('.').nth(1).unwrap();
    assert!(!text.contains(&stranger) && !text.contains(payload));
    // Nor does the log list who would have been allowed.
    assert!(
        !line.contains(ALLOWED) && !line.contains(ALSO_ALLOWED),
        "{line}"
    );
}
