//! Local validation over real HTTP: an API guarded by `#[require_scope]`
//! whose handle verifies tokens against the JWKS of a `LocalTexas`, never
//! asking its introspection endpoint.

use std::time::Duration;

use maskinporten_actix::{
    testing::{LocalTexas, DEFAULT_KID, OTHER_KID},
    Maskinporten,
};
use maskinporten_tests::{
    forged_token,
    handlers::{read_afp, routes},
    read_token, Answer, TestApi, READ,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[actix_web::test]
async fn a_valid_token_is_verified_locally_with_one_jwks_fetch_for_many_tokens() {
    let texas = LocalTexas::start();
    let maskinporten = maskinporten_tests::local_handle(&texas);
    // build() never touches the network.
    assert_eq!(texas.jwks_fetches(), 0);
    let api = TestApi::start(Some(maskinporten.clone()), routes);

    let builder = texas.token().scope(READ).consumer("974761076");
    let expected = builder.claims().clone();
    let Answer {
        status,
        challenge,
        body,
        ..
    } = api.ask("/afp", &builder.sign()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(challenge, None);
    assert_eq!(body["claims"], Value::Object(expected));

    for _ in 0..20 {
        let status = api.status("/afp", &read_token(&texas)).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(texas.introspections(), 0);
    assert_eq!(texas.jwks_fetches(), 1);
    let stats = maskinporten.stats();
    assert_eq!(stats.introspections, 0);
    assert_eq!(stats.cache_misses, 21);
}

#[actix_web::test]
async fn every_token_the_sidecar_refuses_is_refused_401_and_a_missing_scope_403() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::local_handle(&texas)), routes);
    let now = maskinporten_tests::now();
    let valid = read_token(&texas);
    let mut tampered_signature = valid.clone().into_bytes();
    let at = valid.rfind('.').unwrap() + 10;
    tampered_signature[at] = if tampered_signature[at] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let tampered_signature = String::from_utf8(tampered_signature).unwrap();

    let refused = [
        (
            "expired",
            texas
                .token()
                .scope(READ)
                .expired(Duration::from_secs(120))
                .sign(),
        ),
        (
            "iat in the future",
            texas.token().scope(READ).iat(now + 600).sign(),
        ),
        ("nbf ahead", texas.token().scope(READ).nbf(now + 600).sign()),
        ("no kid", texas.token().scope(READ).without_kid().sign()),
        (
            "unknown kid",
            texas.token().scope(READ).kid("nobody").sign(),
        ),
        ("alg none", texas.token().scope(READ).unsigned().sign()),
        (
            "HS256 with the public key",
            texas.token().scope(READ).hs256_with_public_key().sign(),
        ),
        ("RS384", texas.token().scope(READ).rs384().sign()),
        (
            "wrong issuer",
            texas
                .token()
                .scope(READ)
                .issuer("https://maskinporten.no/")
                .sign(),
        ),
        ("no iss", texas.token().scope(READ).without("iss").sign()),
        ("no exp", texas.token().scope(READ).without("exp").sign()),
        ("no iat", texas.token().scope(READ).without("iat").sign()),
        (
            "tampered payload",
            texas.token().scope(READ).tampered().sign(),
        ),
        (
            "widened scope",
            texas.token().tampered_claim("scope", json!(READ)).sign(),
        ),
        ("tampered signature", tampered_signature),
        ("another key under the trusted kid", forged_token(&texas)),
        (
            "another key under its own kid",
            texas.token().scope(READ).signed_by_other_key().sign(),
        ),
        ("not a JWT", "abc.def".to_owned()),
    ];
    for (why, token) in &refused {
        let Answer {
            status,
            challenge,
            text: body,
            ..
        } = api.ask("/afp", token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {body}");
        let challenge = challenge.unwrap_or_default();
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{why}: {challenge}"
        );
        assert!(!body.contains(token.as_str()), "{why}: the token is echoed");
    }
    let Answer {
        status, challenge, ..
    } = api
        .ask(
            "/afp",
            &texas.token().scope("nav:helse/sykepenger/afp.write").sign(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(challenge.unwrap().contains("insufficient_scope"));
    let status = api
        .status(
            "/afp",
            &texas
                .token()
                .scope(READ)
                .expired(Duration::from_secs(30))
                .sign(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "expired inside the leeway");
    assert_eq!(texas.introspections(), 0);
}

#[actix_web::test]
async fn the_leeway_is_configurable() {
    let texas = LocalTexas::start();
    let strict = texas
        .maskinporten_local_builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    let token = texas
        .token()
        .scope(READ)
        .expired(Duration::from_secs(30))
        .sign();
    assert!(strict.validate(&token).await.is_err());
    assert!(maskinporten_tests::local_handle(&texas)
        .validate(&token)
        .await
        .is_ok());
}

#[actix_web::test]
async fn an_audience_when_configured_must_be_in_aud_for_both_strategies() {
    let texas = LocalTexas::start();
    let audience = "https://afp.nav.no";
    let handles = [
        (
            "local",
            texas
                .maskinporten_local_builder()
                .exposed_scopes(maskinporten_tests::EXPOSED)
                .audience(audience)
                .build()
                .unwrap(),
        ),
        (
            "introspection",
            texas
                .maskinporten_builder()
                .exposed_scopes(maskinporten_tests::EXPOSED)
                .audience(audience)
                .build()
                .unwrap(),
        ),
    ];
    for (strategy, maskinporten) in handles {
        let api = TestApi::start(Some(maskinporten), routes);
        for (aud, expected) in [
            (Some(json!(audience)), StatusCode::OK),
            (Some(json!(["https://other", audience])), StatusCode::OK),
            (Some(json!("https://other")), StatusCode::UNAUTHORIZED),
            (Some(json!(["https://other"])), StatusCode::UNAUTHORIZED),
            (Some(json!("unspecified")), StatusCode::UNAUTHORIZED),
            (Some(json!([])), StatusCode::UNAUTHORIZED),
            (Some(json!(7)), StatusCode::UNAUTHORIZED),
            (None, StatusCode::UNAUTHORIZED),
        ] {
            let token = match &aud {
                Some(aud) => texas.token().scope(READ).claim("aud", aud.clone()),
                None => texas.token().scope(READ),
            }
            .sign();
            let Answer {
                status, challenge, ..
            } = api.ask("/afp", &token).await;
            assert_eq!(status, expected, "{strategy}: aud {aud:?}");
            if expected == StatusCode::UNAUTHORIZED {
                assert!(challenge.unwrap().contains("invalid_token"));
            }
        }
    }
    // Without an audience, aud is not looked at.
    let api = TestApi::start(Some(maskinporten_tests::local_handle(&texas)), routes);
    for aud in [json!("unspecified"), json!("https://other"), json!(["x"])] {
        let token = texas.token().scope(READ).claim("aud", aud).sign();
        assert_eq!(api.status("/afp", &token).await, StatusCode::OK);
    }
}

#[actix_web::test]
async fn cached_tokens_are_not_verified_again() {
    let texas = LocalTexas::start();
    let maskinporten = maskinporten_tests::local_handle(&texas);
    let api = TestApi::start(Some(maskinporten.clone()), routes);
    let token = read_token(&texas);
    for _ in 0..5 {
        assert_eq!(api.status("/afp", &token).await, StatusCode::OK);
    }
    let stats = maskinporten.stats();
    assert_eq!((stats.cache_misses, stats.cache_hits), (1, 4));
}

#[test]
fn configuration_errors_are_refused_by_build() {
    for (jwks_uri, why) in [
        ("not a url", "unparsable"),
        ("file:///etc/jwks.json", "not http"),
        ("ftp://example.com/jwks", "not http"),
        ("http://", "no host"),
    ] {
        let error = Maskinporten::builder()
            .exposed_scopes(maskinporten_tests::EXPOSED)
            .issuer("https://test.maskinporten.no/")
            .local_validation(jwks_uri)
            .build()
            .unwrap_err();
        assert!(error.to_string().contains("jwks_uri"), "{why}: {error}");
    }
    let error = Maskinporten::builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .issuer("  ")
        .local_validation("https://test.maskinporten.no/jwk")
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("issuer"), "{error}");
    let error = Maskinporten::builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .issuer("https://test.maskinporten.no/")
        .local_validation("https://test.maskinporten.no/jwk")
        .introspection_endpoint("http://127.0.0.1:7164/api/v1/introspect")
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("not both"), "{error}");
    // The keys of a JWKS URI sign for one issuer, given once: without it
    // nothing could be checked against `iss`.
    let error = Maskinporten::builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .local_validation("https://test.maskinporten.no/jwk")
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("needs the issuer"), "{error}");
    let error = Maskinporten::builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .issuer("https://test.maskinporten.no/")
        .local_validation("https://test.maskinporten.no/jwk")
        .audience("")
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("audience"), "{error}");

    let maskinporten = Maskinporten::builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .issuer("https://test.maskinporten.no/")
        .local_validation("https://test.maskinporten.no/jwk")
        .build()
        .unwrap();
    assert!(format!("{maskinporten:?}").contains("https://test.maskinporten.no/jwk"));
}

#[actix_web::test]
async fn the_other_key_is_trusted_once_published() {
    let texas = LocalTexas::start();
    texas.set_jwks_keys(&[DEFAULT_KID, OTHER_KID]);
    let api = TestApi::start(Some(maskinporten_tests::local_handle(&texas)), routes);
    for token in [
        read_token(&texas),
        texas.token().scope(READ).signed_by_other_key().sign(),
    ] {
        assert_eq!(api.status("/afp", &token).await, StatusCode::OK);
    }
    // Signed by one published key, named as the other: still refused.
    let crossed = forged_token(&texas);
    assert_eq!(api.status("/afp", &crossed).await, StatusCode::UNAUTHORIZED);
    assert_eq!(texas.jwks_fetches(), 1);
}

/// The README's example of testing a handler in local mode, as written there.
#[actix_web::test]
async fn readme_testing_in_local_mode() {
    let texas = LocalTexas::start();
    // A handle verifying against the endpoint's JWKS, never introspecting.
    let maskinporten = maskinporten_tests::local_handle(&texas);
    let app = actix_web::test::init_service(
        actix_web::App::new()
            .app_data(maskinporten)
            .service(read_afp),
    )
    .await;
    let token = texas
        .token()
        .scope("nav:helse/sykepenger/afp.read")
        .consumer("889640782")
        .sign();
    let request = actix_web::test::TestRequest::get()
        .uri("/afp")
        .insert_header(("Authorization", format!("Bearer {token}")))
        .to_request();
    let response = actix_web::test::call_service(&app, request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(texas.introspections(), 0);
    assert_eq!(texas.jwks_fetches(), 1);
}
