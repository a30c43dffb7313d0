//! The core contract over real HTTP: an API guarded by `#[require_scope]` and
//! `MaskinportenClaims`, validating through the local Texas-compatible
//! endpoint (or a broken one), answering each row of the rejection table.

use std::time::Duration;

use actix_web::{get, post, web, HttpResponse, Responder};
use maskinporten_actix::{
    require_scope, testing::LocalTexas, ErrorKind, Maskinporten, MaskinportenClaims,
};
use maskinporten_tests::{
    ask, client, handlers, read_token, read_token_from, refused_url, send, Fault, FaultServer,
    TestApi, READ, WRITE,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[require_scope("nav:helse/sykepenger/afp.write")]
#[post("/afp")]
async fn write_afp(body: web::Json<Value>) -> impl Responder {
    HttpResponse::Created().json(body.into_inner())
}

#[get("/both")]
#[require_scope("nav:helse/sykepenger/afp.read", "nav:helse/sykepenger/afp.write")]
async fn both() -> impl Responder {
    HttpResponse::Ok().finish()
}

#[get("/either")]
#[require_scope(any("nav:helse/sykepenger/afp.read", "nav:helse/sykepenger/afp.write"))]
async fn either() -> Result<HttpResponse, actix_web::Error> {
    Ok(HttpResponse::Ok().finish())
}

/// Three extractions of the claims in one request.
#[get("/thrice")]
#[require_scope("nav:helse/sykepenger/afp.read")]
async fn thrice(a: MaskinportenClaims, b: MaskinportenClaims) -> impl Responder {
    assert_eq!(a.jwt_id(), b.jwt_id());
    HttpResponse::Ok().finish()
}

/// Every accessor of the claims, and a type of the test's own.
#[get("/whoami")]
async fn whoami(claims: MaskinportenClaims) -> impl Responder {
    #[derive(serde::Deserialize)]
    struct Own {
        client_amr: String,
        token_type: String,
        custom: Option<u32>,
    }
    let own: Own = claims.deserialize().expect("claims deserialize");
    HttpResponse::Ok().json(json!({
        "consumer_orgno": claims.consumer().and_then(|c| c.orgno()),
        "consumer_id": claims.consumer().map(|c| c.id()),
        "consumer_authority": claims.consumer().map(|c| c.authority()),
        "supplier_orgno": claims.supplier().and_then(|c| c.orgno()),
        "client_id": claims.client_id(),
        "issuer": claims.issuer(),
        "jti": claims.jwt_id(),
        "exp": claims.expires_at().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
        "iat": claims.issued_at().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
        "scopes": claims.scopes(),
        "client_amr": own.client_amr,
        "token_type": own.token_type,
        "custom": own.custom,
        "custom_claim": claims.claim("custom"),
        "missing_claim": claims.claim("nope"),
        "debug": format!("{claims:?}"),
    }))
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(handlers::read_afp)
        .service(write_afp)
        .service(both)
        .service(either)
        .service(thrice)
        .service(whoami);
}

#[actix_web::test]
async fn a_token_with_the_scope_passes_and_gets_typed_claims() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), routes);
    let token = read_token_from(&texas, "889640782");
    let answer = api.ask("/afp", &token).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.challenge.is_none());
    assert_eq!(answer.body["orgno"], "889640782");
    assert_eq!(answer.body["scopes"], json!([READ]));
}

#[actix_web::test]
async fn claims_are_typed() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), routes);
    let token = texas
        .token()
        .scopes([READ, WRITE])
        .consumer("991825827")
        .supplier("889640782")
        .client_id("c1c2c3")
        .jti("jti-1")
        .exp(4_000_000_000)
        .iat(1_700_000_000)
        .claim("custom", json!(7))
        .sign();
    let response = api.ask("/whoami", &token).await;
    assert_eq!(response.status, StatusCode::OK);
    let body: Value = response.body;
    assert_eq!(body["consumer_orgno"], "991825827");
    assert_eq!(body["consumer_id"], "0192:991825827");
    assert_eq!(body["consumer_authority"], "iso6523-actorid-upis");
    assert_eq!(body["supplier_orgno"], "889640782");
    assert_eq!(body["client_id"], "c1c2c3");
    assert_eq!(body["issuer"], texas.issuer());
    assert_eq!(body["jti"], "jti-1");
    assert_eq!(body["exp"], 4_000_000_000u64);
    assert_eq!(body["iat"], 1_700_000_000u64);
    assert_eq!(body["scopes"], json!([READ, WRITE]));
    assert_eq!(body["client_amr"], "private_key_jwt");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["custom"], 7);
    assert_eq!(body["custom_claim"], 7);
    assert_eq!(body["missing_claim"], Value::Null);
    let debug = body["debug"].as_str().unwrap();
    assert!(debug.contains("0192:991825827"), "{debug}");
    assert!(
        !debug.contains(&token) & !debug.contains(token.split('.').nth(2).unwrap()),
        "{debug}"
    );
}

#[actix_web::test]
async fn no_bearer_credentials_get_a_bare_challenge() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), routes);
    for auth in [None, Some("Basic dXNlcjpwYXNz"), Some("")] {
        let response = api
            .ask_with_authorizations("/afp", &Vec::from_iter(auth))
            .await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(response.challenge.as_deref(), Some("Bearer"), "{auth:?}");
        let body: Value = response.body;
        assert_eq!(body["error"], "missing_token");
    }
    assert_eq!(texas.introspections(), 0);
}

#[actix_web::test]
async fn the_realm_goes_into_every_challenge() {
    let texas = LocalTexas::start();
    let mp = texas
        .maskinporten_builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .realm("afp-api")
        .build()
        .unwrap();
    let api = TestApi::start(Some(mp), routes);
    let response = api.ask_anonymously("/afp").await;
    assert_eq!(
        response.challenge.as_deref(),
        Some(r#"Bearer realm="afp-api""#)
    );
    let token = texas.token().scope(WRITE).sign();
    let response = api.ask("/afp", &token).await;
    assert_eq!(
        response.challenge.as_deref(),
        Some(
            r#"Bearer realm="afp-api", error="insufficient_scope", error_description="the access token lacks a scope this resource requires", scope="nav:helse/sykepenger/afp.read""#
        )
    );
}

#[actix_web::test]
async fn an_inactive_token_is_invalid_token() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), routes);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let tokens = [
        texas.token().scope(READ).exp(now - 3600).sign(),
        texas
            .token()
            .scope(READ)
            .issuer("https://evil.example/")
            .sign(),
        texas.token().scope(READ).tampered().sign(),
        texas.token().scope(READ).signed_by_other_key().sign(),
        texas.token().scope(READ).hs256(b"secret").sign(),
        texas.token().scope(READ).unsigned().sign(),
    ];
    for token in &tokens {
        let response = api.ask("/afp", token).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.challenge.as_deref(),
            Some(
                r#"Bearer error="invalid_token", error_description="the access token is not active""#
            )
        );
        let body = response.text;
        assert_eq!(
            body,
            r#"{"error":"invalid_token","error_description":"the access token is not active"}"#
        );
    }
    // Expired beyond the leeway, another issuer, HS256 and `alg: none` are
    // refused without a round trip; the endpoint judges the two signatures.
    assert_eq!(texas.introspections(), 2);
}

#[actix_web::test]
async fn a_malformed_request_is_invalid_request_without_a_network_call() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), routes);
    let token = read_token(&texas);
    let response = api
        .ask_with_authorizations(
            "/afp",
            &[format!("Bearer {token}"), format!("Bearer {token}")],
        )
        .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        response.challenge.as_deref(),
        Some(
            r#"Bearer error="invalid_request", error_description="more than one Authorization header""#
        )
    );
    let response = api.ask_with_authorizations("/afp", &["Bearer"]).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    let response = api.ask_with_authorizations("/afp", &["Bearer a,b"]).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert!(response
        .challenge
        .unwrap()
        .contains(r#"error="invalid_token""#));
    assert_eq!(texas.introspections(), 0);
}

#[actix_web::test]
async fn a_missing_scope_is_insufficient_scope_with_the_scope_named() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), routes);
    let read_only = read_token(&texas);
    let response = send(
        client()
            .post(api.url("/afp"))
            .bearer_auth(&read_only)
            .json(&json!({"period": "2026-03"})),
    )
    .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert_eq!(
        response.challenge.as_deref(),
        Some(
            r#"Bearer error="insufficient_scope", error_description="the access token lacks a scope this resource requires", scope="nav:helse/sykepenger/afp.write""#
        )
    );
    let body: Value = response.body;
    assert_eq!(body["error"], "insufficient_scope");

    let response = api.ask("/both", &read_only).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert!(response
        .challenge
        .unwrap()
        .ends_with(&format!(r#"scope="{READ} {WRITE}""#)));

    let response = api.ask("/either", &read_only).await;
    assert_eq!(response.status, StatusCode::OK);
    let neither = texas
        .token()
        .scope("nav:helse/sykepenger/other.read")
        .sign();
    let response = api.ask("/either", &neither).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert!(response.challenge.unwrap().contains("none of the scopes"));
}

#[actix_web::test]
async fn scopes_match_whole_and_exactly() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), routes);
    let denied = [
        "nav:helse/sykepenger/afp.readwrite",
        "nav:helse/sykepenger/afp.rea",
        "nav:helse/sykepenger/afp",
        "NAV:helse/sykepenger/afp.read",
        "nav:helse/sykepenger/AFP.read",
        "xnav:helse/sykepenger/afp.read",
        "nav:helse/sykepenger/afp.read,nav:other/ab",
        "nav:helse/sykepenger/afp.read\u{a0}nav:other/ab",
        // RFC 6749 §3.3: only SP separates scopes, not a tab or a line feed
        "nav:other/ab\tnav:helse/sykepenger/afp.read",
        "nav:other/ab\nnav:helse/sykepenger/afp.read",
        "nav:helse/sykepenger/аfp.read", // Cyrillic а
        "",
    ];
    for scope in denied {
        let token = texas.token().raw_scope(scope).sign();
        let response = api.ask("/afp", &token).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{scope:?}");
    }
    let granted = [
        "nav:helse/sykepenger/afp.read",
        "nav:other/ab nav:helse/sykepenger/afp.read",
        "  nav:other/ab   nav:helse/sykepenger/afp.read  ",
        "nav:helse/sykepenger/afp.read nav:helse/sykepenger/afp.read",
    ];
    for scope in granted {
        let token = texas.token().raw_scope(scope).sign();
        let response = api.ask("/afp", &token).await;
        assert_eq!(response.status, StatusCode::OK, "{scope:?}");
    }
    // An active token without any scope claim holds no scope: not even one
    // this API exposes, so a handler that asks for no scope refuses it too.
    let token = texas.token().without("scope").sign();
    assert_eq!(api.status("/afp", &token).await, StatusCode::FORBIDDEN);
    assert_eq!(api.status("/whoami", &token).await, StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn one_request_is_introspected_once() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), routes);
    for i in 1..=3 {
        let token = read_token(&texas);
        let response = api.ask("/thrice", &token).await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(texas.introspections(), i);
    }
}

#[actix_web::test]
async fn the_body_is_not_read_before_the_token_passes() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), routes);
    let response = send(
        client()
            .post(api.url("/afp"))
            .header("Content-Type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    let token = texas.token().scope(WRITE).sign();
    let response = send(
        client()
            .post(api.url("/afp"))
            .bearer_auth(&token)
            .header("Content-Type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    let response = send(
        client()
            .post(api.url("/afp"))
            .bearer_auth(&token)
            .json(&json!({"period": "2026-03"})),
    )
    .await;
    assert_eq!(response.status, StatusCode::CREATED);
    assert_eq!(response.body, json!({"period": "2026-03"}));
}

async fn assert_unavailable(url: String, timeout: Duration) {
    let texas = LocalTexas::start();
    let mp = Maskinporten::builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .introspection_endpoint(url)
        .timeout(timeout)
        .build()
        .unwrap();
    let api = TestApi::start(Some(mp), routes);
    let token = read_token(&texas);
    // What must be: a 503, the validator's failure and not the caller's
    // (how soon it comes is the fault tests' subject, on a clock they hold).
    api.ask("/afp", &token)
        .await
        .assert_unavailable("a broken endpoint");
}

#[actix_web::test]
async fn an_unreachable_endpoint_is_503() {
    assert_unavailable(refused_url(), Duration::from_secs(2)).await;
}

#[actix_web::test]
async fn a_broken_endpoint_is_503() {
    let answers = [
        Fault::Answer(500, r#"{"error":"boom"}"#.into()),
        Fault::Answer(502, "".into()),
        Fault::Answer(
            400,
            r#"{"error":"invalid_request","error_description":"x"}"#.into(),
        ),
        Fault::Answer(200, "<html>not json</html>".into()),
        Fault::Answer(200, r#"{"active":"true"}"#.into()),
        Fault::Answer(200, r#"{"scope":"nav:helse/sykepenger/afp.read"}"#.into()),
        Fault::Hang,
    ];
    for fault in answers {
        let server = FaultServer::start(fault.clone()).await;
        assert_unavailable(server.url(), Duration::from_millis(500)).await;
        assert_eq!(server.requests(), 1, "{fault:?}");
    }
}

#[actix_web::test]
async fn a_missing_handle_is_a_500_not_a_401() {
    let texas = LocalTexas::start();
    let api = TestApi::start(None, routes);
    let token = read_token(&texas);
    let response = api.ask("/afp", &token).await;
    assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(response.challenge.is_none());
    assert_eq!(texas.introspections(), 0);
}

#[actix_web::test]
async fn a_handle_in_web_data_works_too() {
    let texas = LocalTexas::start();
    let mp = web::Data::new(maskinporten_tests::handle(&texas));
    let api = TestApi::start(None, move |cfg| {
        cfg.app_data(mp.clone());
        routes(cfg);
    });
    let token = read_token(&texas);
    assert_eq!(api.status("/afp", &token).await, StatusCode::OK);
}

#[actix_web::test]
async fn one_rejection_handler_renders_every_rejection() {
    let texas = LocalTexas::start();
    let mp = texas
        .maskinporten_builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .rejection_handler(|error| {
            let mut response = HttpResponse::build(error.status());
            if let Some(challenge) = error.challenge() {
                response.insert_header(("WWW-Authenticate", challenge));
            }
            response
                .content_type("application/problem+json")
                .json(json!({
                    "title": error.description(),
                    "status": error.status().as_u16(),
                    "kind": format!("{:?}", error.kind()),
                    "insufficient": error.kind() == ErrorKind::InsufficientScope,
                }))
        })
        .build()
        .unwrap();
    let api = TestApi::start(Some(mp), routes);
    let cases = [
        (None, 401, "MissingToken"),
        (
            Some(texas.token().scope(WRITE).sign()),
            403,
            "InsufficientScope",
        ),
        (
            Some(texas.token().scope(READ).exp(1).sign()),
            401,
            "InvalidToken",
        ),
    ];
    for (token, status, kind) in cases {
        let response = ask(&api.url("/afp"), token.as_deref()).await;
        assert_eq!(response.status.as_u16(), status);
        assert_eq!(response.headers["content-type"], "application/problem+json");
        let body: Value = response.body;
        assert_eq!(body["kind"], kind);
        assert_eq!(body["status"], status);
    }
}

#[test]
fn configuration_errors_name_what_is_wrong() {
    let error = Maskinporten::builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .introspection_endpoint("not a url")
        .build()
        .unwrap_err();
    assert!(
        error.to_string().contains("introspection_endpoint"),
        "{error}"
    );
    let error = Maskinporten::builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .introspection_endpoint("ftp://127.0.0.1/x")
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("http(s)"), "{error}");
    let error = Maskinporten::builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .build()
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("NAIS_TOKEN_INTROSPECTION_ENDPOINT"),
        "{error}"
    );
}
