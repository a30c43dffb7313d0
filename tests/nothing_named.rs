//! A program whose guards name no scope, and whose handle neither lists the
//! exposed scopes nor opts out: it cannot tell a token for this API from
//! one for any other, so it refuses every token (500, its own fault) rather
//! than take them all. A binary of its own: every scope literal anywhere in
//! a program is in the set, and this one must have none.

use actix_web::{get, HttpResponse, Responder};
use maskinporten_actix::{testing::LocalTexas, MaskinportenClaims};
use maskinporten_tests::{client, TestApi};
use serde_json::Value;

#[get("/bare")]
async fn bare(_claims: MaskinportenClaims) -> impl Responder {
    HttpResponse::Ok().finish()
}

#[actix_web::test]
async fn without_a_named_scope_every_token_is_refused_until_the_handle_says_what_it_takes() {
    let texas = LocalTexas::start();
    let token = texas.token().scope("nav:helse/sykepenger/afp.read").sign();

    let api = TestApi::start(Some(texas.maskinporten_builder().build().unwrap()), |cfg| {
        cfg.service(bare);
    });
    for _ in 0..2 {
        let response = client()
            .get(api.url("/bare"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 500);
        assert!(response.headers().get("www-authenticate").is_none());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "misconfigured");
    }

    for handle in [
        texas
            .maskinporten_builder()
            .accept_any_scope()
            .build()
            .unwrap(),
        texas
            .maskinporten_builder()
            .exposed_scopes(["nav:helse/sykepenger/afp.read"])
            .build()
            .unwrap(),
    ] {
        let api = TestApi::start(Some(handle), |cfg| {
            cfg.service(bare);
        });
        let response = client()
            .get(api.url("/bare"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
}
