//! A guard never fails open, and its rejections stay well-formed on the wire:
//! an empty requirement refuses, only SP separates scopes, and a scope that
//! RFC 6750's `scope` attribute cannot carry still gets a sendable challenge.

use actix_web::{get, HttpResponse, Responder};
use maskinporten_actix::{testing::LocalTexas, MaskinportenClaims};
use maskinporten_tests::{read_token, TestApi, READ};
use reqwest::StatusCode;
use serde_json::Value;

/// A scope NAIS accepts (the name pattern allows æ, ø and å) that the
/// challenge's `scope` attribute cannot carry.
const NON_ASCII: &str = "nav:helse/sykepenger/særfradrag.read";

#[get("/all-of-none")]
async fn all_of_none(claims: MaskinportenClaims) -> Result<HttpResponse, actix_web::Error> {
    claims.require_all(&[])?;
    Ok(HttpResponse::Ok().finish())
}

#[get("/any-of-none")]
async fn any_of_none(claims: MaskinportenClaims) -> Result<HttpResponse, actix_web::Error> {
    claims.require_any(&[])?;
    Ok(HttpResponse::Ok().finish())
}

#[maskinporten_actix::require_scope("nav:helse/sykepenger/særfradrag.read")]
#[get("/non-ascii")]
async fn non_ascii() -> impl Responder {
    HttpResponse::Ok().finish()
}

fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(all_of_none)
        .service(any_of_none)
        .service(non_ascii);
}

#[actix_web::test]
async fn an_empty_requirement_refuses_every_token() {
    let texas = LocalTexas::start();
    // The token is for this API: only the empty requirement stands between.
    let handle = texas
        .maskinporten_builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .exposed_scopes([READ])
        .build()
        .unwrap();
    let api = TestApi::start(Some(handle), routes);
    let token = read_token(&texas);
    for path in ["/all-of-none", "/any-of-none"] {
        let response = api.ask(path, &token).await;
        assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert!(response.challenge.is_none(), "{path}");
        let body: Value = response.body;
        assert_eq!(body["error"], "misconfigured", "{path}");
    }
}

#[actix_web::test]
async fn a_non_ascii_scope_gets_a_well_formed_challenge_and_the_scope_in_the_body() {
    maskinporten_actix::scope::validate(NON_ASCII).expect("a scope NAIS accepts");
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), routes);

    let without = read_token(&texas);
    let response = api.ask("/non-ascii", &without).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    let challenge = response.challenge.expect("a 403 carries its challenge");
    assert_eq!(
        challenge,
        r#"Bearer error="insufficient_scope", error_description="the access token lacks a scope this resource requires""#
    );
    let body: Value = response.body;
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(body["scope"], NON_ASCII);

    let with = texas.token().scope(NON_ASCII).sign();
    let response = api.ask("/non-ascii", &with).await;
    assert_eq!(response.status, StatusCode::OK);
}
