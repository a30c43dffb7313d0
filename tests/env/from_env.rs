//! `Maskinporten::from_env`, in the test binary of the tests that change
//! the process environment.

use maskinporten_actix::{env, testing::LocalTexas, ErrorKind, Maskinporten};

use crate::ENV;

#[test]
fn from_env_reads_the_nais_variable_and_names_it_when_it_is_wrong() {
    let _env = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    std::env::remove_var(env::INTROSPECTION_ENDPOINT);
    let error = Maskinporten::builder_from_env()
        .and_then(|b| b.exposed_scopes(maskinporten_tests::EXPOSED).build())
        .unwrap_err();
    assert_eq!(error.variable(), Some(env::INTROSPECTION_ENDPOINT));
    assert!(
        error.to_string().starts_with(
            "cannot configure Maskinporten: the environment variable \
                 NAIS_TOKEN_INTROSPECTION_ENDPOINT is not set"
        ),
        "{error}"
    );

    for invalid in [
        "",
        "localhost:7164",
        "http://",
        "::::",
        "file:///etc/passwd",
    ] {
        std::env::set_var(env::INTROSPECTION_ENDPOINT, invalid);
        let error = Maskinporten::builder_from_env()
            .and_then(|b| b.exposed_scopes(maskinporten_tests::EXPOSED).build())
            .unwrap_err();
        assert_eq!(
            error.variable(),
            Some(env::INTROSPECTION_ENDPOINT),
            "{invalid}"
        );
        assert!(
            error
                .to_string()
                .contains("NAIS_TOKEN_INTROSPECTION_ENDPOINT"),
            "{error}"
        );
    }

    std::env::set_var(
        env::INTROSPECTION_ENDPOINT,
        "http://127.0.0.1:7164/api/v1/introspect",
    );
    let maskinporten = Maskinporten::builder_from_env()
        .and_then(|b| b.exposed_scopes(maskinporten_tests::EXPOSED).build())
        .expect("a valid endpoint");
    assert!(format!("{maskinporten:?}").contains("http://127.0.0.1:7164/api/v1/introspect"));
}

/// With `MASKINPORTEN_ISSUER` beside the endpoint (NAIS sets both), a token
/// from another issuer is refused without a round trip; one from the
/// configured issuer is introspected.
#[actix_web::test]
// The lock only keeps the other tests of this binary off the environment;
// nothing else waits for it on this runtime.
#[allow(clippy::await_holding_lock)]
async fn from_env_reads_the_issuer_and_refuses_other_issuers_unasked() {
    let _env = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let texas = LocalTexas::start();
    std::env::set_var(env::INTROSPECTION_ENDPOINT, texas.introspection_endpoint());
    std::env::set_var(env::ISSUER, texas.issuer());
    let maskinporten = Maskinporten::builder_from_env()
        .and_then(|b| b.exposed_scopes(maskinporten_tests::EXPOSED).build())
        .expect("configured");
    let other = texas.token().issuer("https://maskinporten.no/").sign();
    let error = maskinporten.validate(&other).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidToken);
    assert_eq!(texas.introspections(), 0);
    assert_eq!(maskinporten.stats().refused_without_validator, 1);
    // A scope this program names (the handle's default of exposed scopes).
    let named = maskinporten_actix::scopes!["nav:helse/sykepenger/afp.read"];
    let good = texas.token().scope(named.iter().next().unwrap()).sign();
    maskinporten.validate(&good).await.expect("active");
    assert_eq!(texas.introspections(), 1);
    std::env::remove_var(env::ISSUER);
}

/// `builder_from_env` reads what `from_env` reads, and takes more on top:
/// here the exposed scopes, which refuse a token issued for another API
/// with 403 while a token for this one passes; a missing endpoint is the
/// same error naming the variable.
#[actix_web::test]
#[allow(clippy::await_holding_lock)]
async fn builder_from_env_reads_the_same_variables_and_takes_exposed_scopes() {
    let _env = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    std::env::remove_var(env::INTROSPECTION_ENDPOINT);
    let error = Maskinporten::builder_from_env().map(drop).unwrap_err();
    assert_eq!(error.variable(), Some(env::INTROSPECTION_ENDPOINT));

    let texas = LocalTexas::start();
    std::env::set_var(env::INTROSPECTION_ENDPOINT, texas.introspection_endpoint());
    std::env::set_var(env::ISSUER, texas.issuer());
    let maskinporten = Maskinporten::builder_from_env()
        .expect("configured")
        .exposed_scopes(["nav:helse/sykepenger/afp.read"])
        .build()
        .expect("built");
    let elsewhere = texas.token().scope("nav:helse/other/api.read").sign();
    let error = maskinporten.validate(&elsewhere).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InsufficientScope);
    let ours = texas.token().scope("nav:helse/sykepenger/afp.read").sign();
    maskinporten
        .validate(&ours)
        .await
        .expect("a token for this API");
    // The issuer was read too: another issuer's token never reaches Texas.
    let before = texas.introspections();
    let other = texas.token().issuer("https://maskinporten.no/").sign();
    assert_eq!(
        maskinporten.validate(&other).await.unwrap_err().kind(),
        ErrorKind::InvalidToken
    );
    assert_eq!(texas.introspections(), before);
    std::env::remove_var(env::ISSUER);
}
