//! `RequireScope` over real HTTP: on a `web::scope`, a `web::resource` and a
//! whole `App`, with lists checked at compile time (`scopes![]`) or built at
//! run time; its rejections are the attribute's, through the rejection
//! handler too; and a request is validated once however guards, attribute
//! and extractors are nested.

use std::time::Duration;

use actix_web::{get, web, App, HttpResponse};
use maskinporten_actix::{
    require_scope, scopes, testing::LocalTexas, ErrorKind, Maskinporten, MaskinportenClaims,
    RequireScope,
};
use maskinporten_tests::{ask, client, read_token, refused_url, send, TestApi, READ, WRITE};
use reqwest::StatusCode;
use serde_json::{json, Value};

const OTHER: &str = "nav:helse/sykepenger/annet";

async fn ok() -> HttpResponse {
    HttpResponse::Ok().body("afp")
}

/// Status, challenge, content type and body: everything a caller sees of
/// a GET of `url`, to compare two answers byte for byte.
async fn seen(
    url: &str,
    token: Option<&str>,
) -> (StatusCode, Option<String>, Option<String>, String) {
    let answer = ask(url, token).await;
    let content_type = answer.header("content-type").map(str::to_owned);
    (answer.status, answer.challenge, content_type, answer.text)
}

/// `/afp/...` guarded by `guard`, `/open` not.
fn scope_tree(guard: RequireScope) -> impl Fn(&mut web::ServiceConfig) + Clone + Send {
    move |cfg: &mut web::ServiceConfig| {
        cfg.service(
            web::scope("/afp")
                .wrap(guard.clone())
                .route("/summary", web::get().to(ok))
                .route("/detail", web::get().to(ok)),
        )
        .route("/open", web::get().to(ok));
    }
}

#[actix_web::test]
async fn a_guarded_scope_lets_in_a_token_with_the_scope_and_nothing_else() {
    let texas = LocalTexas::start();
    let api = TestApi::start(
        Some(maskinporten_tests::handle(&texas)),
        scope_tree(RequireScope::all(scopes!["nav:helse/sykepenger/afp.read"])),
    );
    let read = read_token(&texas);
    let other = texas.token().scope(OTHER).sign();

    for path in ["/afp/summary", "/afp/detail"] {
        let response = api.ask(path, &read).await;
        assert_eq!(response.status, StatusCode::OK, "{path}");
        assert_eq!(response.text, "afp");

        let response = api.ask(path, &other).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            response.challenge.as_deref(),
            Some(
                "Bearer error=\"insufficient_scope\", error_description=\"the access token lacks \
                 a scope this resource requires\", scope=\"nav:helse/sykepenger/afp.read\""
            )
        );
        let body: Value = response.body;
        assert_eq!(body["error"], "insufficient_scope");
        assert_eq!(body["scope"], READ);

        let response = api.ask_anonymously(path).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(response.challenge.as_deref(), Some("Bearer"));
    }
    // Outside the guarded scope, no token is needed.
    assert_eq!(api.ask_anonymously("/open").await.status, StatusCode::OK);
}

#[actix_web::test]
async fn all_needs_every_scope_and_any_needs_one() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), |cfg| {
        cfg.service(
            web::scope("/all")
                .wrap(RequireScope::all(scopes![
                    "nav:helse/sykepenger/afp.read",
                    "nav:helse/sykepenger/afp.write",
                ]))
                .route("", web::get().to(ok)),
        )
        .service(
            web::resource("/any")
                .wrap(RequireScope::any(scopes![
                    "nav:helse/sykepenger/afp.read",
                    "nav:helse/sykepenger/afp.write",
                ]))
                .route(web::get().to(ok)),
        );
    });
    let both = texas.token().scopes([READ, WRITE]).sign();
    let write = texas.token().scope(WRITE).sign();
    // `afp.readwrite` is not `afp.read`: scopes compare whole and exact.
    let lookalike = texas
        .token()
        .scope("nav:helse/sykepenger/afp.readwrite")
        .scope("NAV:helse/sykepenger/afp.write")
        .sign();

    let cases = [
        ("/all", &both, 200),
        ("/all", &write, 403),
        ("/all", &lookalike, 403),
        ("/any", &both, 200),
        ("/any", &write, 200),
        ("/any", &lookalike, 403),
    ];
    for (path, token, status) in cases {
        let response = api.ask(path, token).await;
        assert_eq!(response.status.as_u16(), status, "{path}");
    }
    let response = api.ask("/any", &lookalike).await;
    assert_eq!(
        response.challenge.as_deref(),
        Some(
            "Bearer error=\"insufficient_scope\", error_description=\"the access token holds none \
             of the scopes this resource accepts\", \
             scope=\"nav:helse/sykepenger/afp.read nav:helse/sykepenger/afp.write\""
        )
    );
}

#[actix_web::test]
async fn paths_nobody_serves_under_a_guarded_scope_answer_401_not_404() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), |cfg| {
        cfg.service(
            web::scope("/afp")
                .wrap(RequireScope::all(scopes!["nav:helse/sykepenger/afp.read"]))
                .route("/summary", web::get().to(ok)),
        )
        .service(
            web::scope("/custom")
                .wrap(RequireScope::all(scopes!["nav:helse/sykepenger/afp.read"]))
                .route("/summary", web::get().to(ok))
                .default_service(web::to(|| async {
                    HttpResponse::NotFound().body("custom")
                })),
        );
    });
    let read = read_token(&texas);
    let other = texas.token().scope(OTHER).sign();
    for path in ["/afp/secret-path", "/custom/secret-path"] {
        let response = api.ask_anonymously(path).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(response.challenge.as_deref(), Some("Bearer"));
        assert!(!response.text.contains("custom"));
        let response = api.ask(path, &other).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{path}");
        // Only a caller that may pass learns that the path does not exist.
        let response = api.ask(path, &read).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{path}");
    }
    // Also a method the route does not take.
    let response = send(client().post(api.url("/afp/summary"))).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_guarded_app_guards_every_route_and_its_404s() {
    let texas = LocalTexas::start();
    let maskinporten = maskinporten_tests::handle(&texas);
    let guard = RequireScope::all(scopes!["nav:helse/sykepenger/afp.read"]);
    // The whole `App` wrapped.
    let app = TestApi::serve(1, move || {
        App::new()
            .app_data(maskinporten.clone())
            .wrap(guard.clone())
            .route("/afp", web::get().to(ok))
            .service(web::scope("/nested").route("/afp", web::get().to(ok)))
    });
    let read = read_token(&texas);
    let other = texas.token().scope(OTHER).sign();
    for path in ["/afp", "/nested/afp", "/", "/nothing/here"] {
        let url = app.url(path);
        let response = ask(&url, None).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(response.challenge.as_deref(), Some("Bearer"), "{path}");
        let response = ask(&url, Some(&other)).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{path}");
        let expected = if path.ends_with("afp") { 200 } else { 404 };
        let response = ask(&url, Some(&read)).await;
        assert_eq!(response.status.as_u16(), expected, "{path}");
    }
}

#[actix_web::test]
async fn lists_from_configuration_are_checked_and_never_empty() {
    // What an application reads from its environment.
    let configured = "nav:helse/sykepenger/afp.read nav:helse/sykepenger/afp.write";
    let guard = maskinporten_actix::Scopes::new(configured.split(' '))
        .map(RequireScope::any)
        .expect("valid scopes");

    let empty = maskinporten_actix::Scopes::new("".split_whitespace())
        .map(RequireScope::all)
        .err()
        .unwrap();
    assert_eq!(
        empty.to_string(),
        "the list of scopes is empty; a guard with an empty list would refuse every request"
    );
    let bad = maskinporten_actix::Scopes::new(["nav:helse/sykepenger/afp.read", "nav:helse/Afp"])
        .map(RequireScope::any)
        .err()
        .unwrap();
    assert_eq!(
        bad.to_string(),
        "scope 2 (`nav:helse/Afp`): upper-case `A` is not allowed; NAIS scope names are lower case"
    );
    let twice = maskinporten_actix::Scopes::new([READ, READ])
        .map(RequireScope::all)
        .err()
        .unwrap();
    assert_eq!(
        twice.to_string(),
        "scope 2 (`nav:helse/sykepenger/afp.read`) is listed twice"
    );

    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), scope_tree(guard));
    let write = texas.token().scope(WRITE).sign();
    let other = texas.token().scope(OTHER).sign();
    assert_eq!(api.status("/afp/summary", &write).await, StatusCode::OK);
    assert_eq!(
        api.status("/afp/summary", &other).await,
        StatusCode::FORBIDDEN
    );
}

#[get("/attribute")]
#[require_scope("nav:helse/sykepenger/afp.read")]
async fn attribute() -> HttpResponse {
    HttpResponse::Ok().body("afp")
}

/// The same requirement as the attribute, as middleware.
fn attribute_and_middleware(cfg: &mut web::ServiceConfig) {
    cfg.service(attribute).service(
        web::resource("/middleware")
            .wrap(RequireScope::all(scopes!["nav:helse/sykepenger/afp.read"]))
            .route(web::get().to(ok)),
    );
}

/// Every rejection the attribute gives, given by the middleware too, to the
/// byte: status, challenge, content type and body.
async fn assert_same_rejections(api: &TestApi, texas: &LocalTexas) {
    let tokens = [
        None,
        Some(texas.token().scope(OTHER).sign()),
        Some(texas.token().scope(READ).exp(1).sign()),
        Some("not-a-token".to_owned()),
        Some(read_token(texas)),
    ];
    for token in &tokens {
        let by_attribute = seen(&api.url("/attribute"), token.as_deref()).await;
        let by_middleware = seen(&api.url("/middleware"), token.as_deref()).await;
        assert_eq!(by_attribute, by_middleware);
    }
}

#[actix_web::test]
async fn the_middleware_rejects_exactly_as_the_attribute_does() {
    let texas = LocalTexas::start();
    let api = TestApi::start(
        Some(maskinporten_tests::handle(&texas)),
        attribute_and_middleware,
    );
    assert_same_rejections(&api, &texas).await;

    // Two Authorization headers: 400 from both.
    for path in ["/attribute", "/middleware"] {
        let response = api
            .ask_with_authorizations(path, &["Bearer a", "Bearer b"])
            .await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{path}");
    }

    // The validator unreachable: 503 without a challenge from both.
    let down = Maskinporten::builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .introspection_endpoint(refused_url())
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let api = TestApi::start(Some(down), attribute_and_middleware);
    let token = read_token(&texas);
    let by_attribute = seen(&api.url("/attribute"), Some(&token)).await;
    let by_middleware = seen(&api.url("/middleware"), Some(&token)).await;
    assert_eq!(by_attribute.0, 503);
    assert_eq!(by_attribute, by_middleware);

    // No handle registered: 500 from both.
    let api = TestApi::start(None, attribute_and_middleware);
    let by_attribute = seen(&api.url("/attribute"), Some(&token)).await;
    let by_middleware = seen(&api.url("/middleware"), Some(&token)).await;
    assert_eq!(by_attribute.0, 500);
    assert_eq!(by_attribute, by_middleware);
}

#[actix_web::test]
async fn the_middleware_renders_through_the_rejection_handler() {
    let texas = LocalTexas::start();
    let maskinporten = texas
        .maskinporten_builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .realm("afp")
        .rejection_handler(|error| {
            HttpResponse::build(error.status())
                .content_type("application/problem+json")
                .json(json!({
                    "title": error.description(),
                    "kind": format!("{:?}", error.kind()),
                    "challenge": error.challenge(),
                }))
        })
        .build()
        .unwrap();
    let api = TestApi::start(Some(maskinporten), attribute_and_middleware);
    assert_same_rejections(&api, &texas).await;

    let other = texas.token().scope(OTHER).sign();
    let response = api.ask("/middleware", &other).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert_eq!(response.headers["content-type"], "application/problem+json");
    let body: Value = response.body;
    assert_eq!(body["kind"], format!("{:?}", ErrorKind::InsufficientScope));
    assert!(body["challenge"]
        .as_str()
        .unwrap()
        .starts_with("Bearer realm=\"afp\", error=\"insufficient_scope\""));
}

#[get("/afp")]
#[require_scope("nav:helse/sykepenger/afp.read")]
async fn nested(a: MaskinportenClaims, b: MaskinportenClaims) -> HttpResponse {
    assert_eq!(a.jwt_id(), b.jwt_id());
    HttpResponse::Ok().body(a.jwt_id().unwrap_or_default().to_owned())
}

#[actix_web::test]
async fn nested_guards_attribute_and_extractors_validate_a_request_once() {
    let texas = LocalTexas::start();
    // No cache: every validation would be an introspection.
    let maskinporten = texas
        .maskinporten_builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .disable_cache()
        .build()
        .unwrap();
    let api = TestApi::serve(1, move || {
        App::new()
            .app_data(maskinporten.clone())
            .wrap(RequireScope::any(scopes![
                "nav:helse/sykepenger/afp.read",
                "nav:helse/sykepenger/afp.write",
            ]))
            .service(
                web::scope("/outer")
                    .wrap(RequireScope::all(scopes!["nav:helse/sykepenger/afp.read"]))
                    .service(
                        web::scope("/inner")
                            .wrap(RequireScope::all(scopes!["nav:helse/sykepenger/afp.write"]))
                            .service(nested),
                    ),
            )
    });

    // The local endpoint answers slowly, so later layers find the first
    // layer's introspection still in flight and must wait for it.
    texas.set_latency(Duration::from_millis(100));
    let url = api.url("/outer/inner/afp");
    let both = texas.token().scopes([READ, WRITE]).jti("jti-1").sign();
    texas.reset_introspections();
    for round in 1..=3 {
        let response = ask(&url, Some(&both)).await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.text, "jti-1");
        assert_eq!(texas.introspections(), round, "one per request");
    }
    // A rejection at the innermost guard costs one introspection as well.
    let read = read_token(&texas);
    texas.reset_introspections();
    assert_eq!(ask(&url, Some(&read)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(texas.introspections(), 1);
}
