//! `Maskinporten::local_from_env`, in the test binary of the tests that
//! change the process environment.

use maskinporten_actix::{env, Maskinporten};

use crate::ENV;
use maskinporten_tests::{forged_token, read_token, READ};

fn clear() {
    for name in [env::ISSUER, env::JWKS_URI, env::WELL_KNOWN_URL] {
        std::env::remove_var(name);
    }
}

#[test]
fn a_missing_or_invalid_variable_is_named() {
    let _env = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    clear();
    let error = Maskinporten::local_builder_from_env()
        .and_then(|b| b.exposed_scopes(maskinporten_tests::EXPOSED).build())
        .unwrap_err();
    assert_eq!(error.variable(), Some(env::ISSUER), "{error}");
    assert!(error.to_string().contains(env::WELL_KNOWN_URL), "{error}");

    std::env::set_var(env::ISSUER, "https://test.maskinporten.no/");
    let error = Maskinporten::local_builder_from_env()
        .and_then(|b| b.exposed_scopes(maskinporten_tests::EXPOSED).build())
        .unwrap_err();
    assert_eq!(error.variable(), Some(env::JWKS_URI), "{error}");

    clear();
    std::env::set_var(env::JWKS_URI, "https://test.maskinporten.no/jwk");
    let error = Maskinporten::local_builder_from_env()
        .and_then(|b| b.exposed_scopes(maskinporten_tests::EXPOSED).build())
        .unwrap_err();
    assert_eq!(error.variable(), Some(env::ISSUER), "{error}");

    std::env::set_var(env::ISSUER, "https://test.maskinporten.no/");
    // Keys over plain http only from loopback: on the path to any other
    // host they could be swapped.
    for invalid in [
        "localhost/jwk",
        "file:///jwk",
        "http://",
        "http://test.maskinporten.no/jwk",
        "http://10.0.0.1/jwk",
    ] {
        std::env::set_var(env::JWKS_URI, invalid);
        let error = Maskinporten::local_builder_from_env()
            .and_then(|b| b.exposed_scopes(maskinporten_tests::EXPOSED).build())
            .unwrap_err();
        assert_eq!(error.variable(), Some(env::JWKS_URI), "{invalid}: {error}");
    }
    for loopback in [
        "http://127.0.0.1:7/jwk",
        "http://localhost:7/jwk",
        "http://[::1]:7/jwk",
    ] {
        std::env::set_var(env::JWKS_URI, loopback);
        Maskinporten::local_builder_from_env()
            .and_then(|b| b.exposed_scopes(maskinporten_tests::EXPOSED).build())
            .expect(loopback);
    }

    clear();
    for invalid in [
        "not a url",
        "http://test.maskinporten.no/.well-known/oauth-authorization-server",
    ] {
        std::env::set_var(env::WELL_KNOWN_URL, invalid);
        let error = Maskinporten::local_builder_from_env()
            .and_then(|b| b.exposed_scopes(maskinporten_tests::EXPOSED).build())
            .unwrap_err();
        assert_eq!(error.variable(), Some(env::WELL_KNOWN_URL), "{error}");
    }
    clear();
}

#[test]
fn keys_by_hand_are_fetched_over_https_or_from_loopback_only() {
    let local = |jwks: &str| {
        Maskinporten::builder()
            .exposed_scopes(maskinporten_tests::EXPOSED)
            .issuer("https://test.maskinporten.no/")
            .local_validation(jwks)
            .build()
    };
    assert!(local("https://test.maskinporten.no/jwk").is_ok());
    assert!(local("http://127.0.0.1:7/jwk").is_ok());
    let error = local("http://test.maskinporten.no/jwk").unwrap_err();
    assert!(error.to_string().contains("https"), "{error}");
    let checked = |jwks: &str| {
        Maskinporten::builder()
            .exposed_scopes(maskinporten_tests::EXPOSED)
            .introspection_endpoint("http://127.0.0.1:7164/api/v1/introspect")
            .issuer("https://test.maskinporten.no/")
            .signature_check(jwks)
            .build()
    };
    assert!(checked("https://test.maskinporten.no/jwk").is_ok());
    assert!(checked("http://test.maskinporten.no/jwk").is_err());
    // Local validation checks every signature itself.
    let both = Maskinporten::builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .issuer("https://test.maskinporten.no/")
        .local_validation("https://test.maskinporten.no/jwk")
        .signature_check("https://test.maskinporten.no/jwk")
        .build();
    assert!(both.is_err());
}

#[actix_web::test]
async fn from_env_checks_signatures_before_the_sidecar_when_the_jwks_is_set() {
    let texas = crate::local_texas();
    let maskinporten = {
        let _env = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        clear();
        std::env::set_var(env::INTROSPECTION_ENDPOINT, texas.introspection_endpoint());
        std::env::set_var(env::ISSUER, texas.issuer());
        std::env::set_var(env::JWKS_URI, texas.jwks_uri());
        let maskinporten = Maskinporten::builder_from_env()
            .and_then(|b| b.exposed_scopes(maskinporten_tests::EXPOSED).build())
            .unwrap();
        std::env::remove_var(env::INTROSPECTION_ENDPOINT);
        clear();
        maskinporten
    };
    texas.reset_introspections();
    let forged = forged_token(&texas);
    let error = maskinporten.validate(&forged).await.unwrap_err();
    assert_eq!(error.kind(), maskinporten_actix::ErrorKind::InvalidToken);
    let unknown_kid = texas.token().scope(READ).signed_by_other_key().sign();
    assert!(maskinporten.validate(&unknown_kid).await.is_err());
    assert_eq!(
        texas.introspections(),
        0,
        "forged tokens never reach the sidecar"
    );
    // A genuine token still goes to the sidecar, which judges it.
    maskinporten.validate(&read_token(&texas)).await.unwrap();
    assert_eq!(texas.introspections(), 1);
}

#[actix_web::test]
async fn reads_issuer_and_jwks_uri_without_touching_the_network() {
    let texas = crate::local_texas();
    // The environment is read by local_from_env only: the lock is released
    // before anything is awaited.
    let maskinporten = {
        let _env = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        clear();
        std::env::set_var(env::ISSUER, texas.issuer());
        std::env::set_var(env::JWKS_URI, texas.jwks_uri());
        // Ignored while the two above are set.
        std::env::set_var(env::WELL_KNOWN_URL, "http://127.0.0.1:9/nothing-here");
        let maskinporten = Maskinporten::local_builder_from_env()
            .and_then(|b| b.exposed_scopes(maskinporten_tests::EXPOSED).build())
            .unwrap();
        clear();
        maskinporten
    };
    assert_eq!(texas.jwks_fetches(), 0);
    let claims = maskinporten.validate(&read_token(&texas)).await.unwrap();
    assert_eq!(claims.issuer(), texas.issuer());
    let other = texas.token().issuer("https://maskinporten.no/").sign();
    assert!(maskinporten.validate(&other).await.is_err());
    assert_eq!((texas.jwks_fetches(), texas.introspections()), (1, 0));
}

#[actix_web::test]
async fn discovers_both_from_the_well_known_url_on_first_need() {
    let texas = crate::local_texas();
    let maskinporten = {
        let _env = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        clear();
        std::env::set_var(env::WELL_KNOWN_URL, texas.well_known_url());
        let maskinporten = Maskinporten::local_builder_from_env()
            .and_then(|b| b.exposed_scopes(maskinporten_tests::EXPOSED).build())
            .unwrap();
        clear();
        maskinporten
    };
    assert!(format!("{maskinporten:?}").contains(&texas.well_known_url()));
    assert_eq!(texas.jwks_fetches(), 0);
    let claims = maskinporten.validate(&read_token(&texas)).await.unwrap();
    assert_eq!(claims.issuer(), texas.issuer());
    // The discovered issuer is enforced.
    let other = texas.token().issuer("https://maskinporten.no/").sign();
    assert!(maskinporten.validate(&other).await.is_err());
    assert_eq!((texas.jwks_fetches(), texas.introspections()), (1, 0));
}
