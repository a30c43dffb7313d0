//! `Maskinporten::local_from_env`, alone in its own test binary because it
//! changes the process environment.

use maskinporten_actix::{
    testing::LocalTexas, Maskinporten, ISSUER_ENV, JWKS_URI_ENV, WELL_KNOWN_URL_ENV,
};

/// The tests here change the one process environment: one at a time.
static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn clear() {
    for name in [ISSUER_ENV, JWKS_URI_ENV, WELL_KNOWN_URL_ENV] {
        std::env::remove_var(name);
    }
}

#[test]
fn a_missing_or_invalid_variable_is_named() {
    let _env = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    clear();
    let error = Maskinporten::local_from_env().unwrap_err();
    assert_eq!(error.variable(), Some(ISSUER_ENV), "{error}");
    assert!(error.to_string().contains(WELL_KNOWN_URL_ENV), "{error}");

    std::env::set_var(ISSUER_ENV, "https://test.maskinporten.no/");
    let error = Maskinporten::local_from_env().unwrap_err();
    assert_eq!(error.variable(), Some(JWKS_URI_ENV), "{error}");

    clear();
    std::env::set_var(JWKS_URI_ENV, "https://test.maskinporten.no/jwk");
    let error = Maskinporten::local_from_env().unwrap_err();
    assert_eq!(error.variable(), Some(ISSUER_ENV), "{error}");

    std::env::set_var(ISSUER_ENV, "https://test.maskinporten.no/");
    for invalid in ["localhost/jwk", "file:///jwk", "http://"] {
        std::env::set_var(JWKS_URI_ENV, invalid);
        let error = Maskinporten::local_from_env().unwrap_err();
        assert_eq!(error.variable(), Some(JWKS_URI_ENV), "{invalid}: {error}");
    }

    clear();
    std::env::set_var(WELL_KNOWN_URL_ENV, "not a url");
    let error = Maskinporten::local_from_env().unwrap_err();
    assert_eq!(error.variable(), Some(WELL_KNOWN_URL_ENV), "{error}");
    clear();
}

#[actix_web::test]
async fn reads_issuer_and_jwks_uri_without_touching_the_network() {
    let texas = LocalTexas::start();
    // The environment is read by local_from_env only: the lock is released
    // before anything is awaited.
    let maskinporten = {
        let _env = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        clear();
        std::env::set_var(ISSUER_ENV, texas.issuer());
        std::env::set_var(JWKS_URI_ENV, texas.jwks_uri());
        // Ignored while the two above are set.
        std::env::set_var(WELL_KNOWN_URL_ENV, "http://127.0.0.1:9/nothing-here");
        let maskinporten = Maskinporten::local_from_env().unwrap();
        clear();
        maskinporten
    };
    assert_eq!(texas.jwks_fetches(), 0);
    let claims = maskinporten.validate(&texas.token().sign()).await.unwrap();
    assert_eq!(claims.issuer(), texas.issuer());
    let other = texas.token().issuer("https://maskinporten.no/").sign();
    assert!(maskinporten.validate(&other).await.is_err());
    assert_eq!((texas.jwks_fetches(), texas.introspections()), (1, 0));
}

#[actix_web::test]
async fn discovers_both_from_the_well_known_url_on_first_need() {
    let texas = LocalTexas::start();
    let maskinporten = {
        let _env = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        clear();
        std::env::set_var(WELL_KNOWN_URL_ENV, texas.well_known_url());
        let maskinporten = Maskinporten::local_from_env().unwrap();
        clear();
        maskinporten
    };
    assert!(format!("{maskinporten:?}").contains(&texas.well_known_url()));
    assert_eq!(texas.jwks_fetches(), 0);
    let claims = maskinporten.validate(&texas.token().sign()).await.unwrap();
    assert_eq!(claims.issuer(), texas.issuer());
    // The discovered issuer is enforced.
    let other = texas.token().issuer("https://maskinporten.no/").sign();
    assert!(maskinporten.validate(&other).await.is_err());
    assert_eq!((texas.jwks_fetches(), texas.introspections()), (1, 0));
}
