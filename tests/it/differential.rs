//! Local validation and introspection reach the same decision: a table of
//! tokens sent over HTTP to two copies of one API, one validating through
//! `LocalTexas`' introspection endpoint, the other locally against its JWKS.
//! Same status for every token, same claims for the valid ones.

use std::time::{Duration, Instant};

use maskinporten_actix::testing::{LocalTexas, DEFAULT_KID, OTHER_KID};
use maskinporten_tests::{handlers::routes, TestApi, READ};
use reqwest::StatusCode;
use serde_json::{json, Value};

const WINDOW: Duration = Duration::from_millis(200);

/// The status of `/whoami`, and the claims it got when it answered 200.
async fn claims_of(api: &TestApi, token: &str) -> (StatusCode, Option<Value>) {
    let answer = api.ask("/whoami", token).await;
    let claims = (answer.status == StatusCode::OK).then(|| answer.body["claims"].clone());
    (answer.status, claims)
}

/// Flips one character in the middle of the signature.
fn tamper_signature(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let at = token.rfind('.').unwrap() + 20;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

struct Pair {
    introspection: TestApi,
    local: TestApi,
}

impl Pair {
    /// Sends the token to both; asserts they agree and that the answer is
    /// the one expected. Returns the claims of a valid token.
    async fn agree(&self, name: &str, token: &str, expected: StatusCode) -> Option<Value> {
        let (by_texas, claims_texas) = claims_of(&self.introspection, token).await;
        let (locally, claims_local) = claims_of(&self.local, token).await;
        assert_eq!(
            by_texas, locally,
            "{name}: introspection and local validation disagree"
        );
        assert_eq!(claims_texas, claims_local, "{name}: different claims");
        assert_eq!(locally, expected, "{name}");
        claims_local
    }
}

#[actix_web::test]
async fn local_validation_decides_as_introspection_does() {
    let texas = LocalTexas::start();
    let pair = Pair {
        introspection: TestApi::start(
            Some(
                texas
                    .maskinporten_builder()
                    .disable_cache()
                    // Agreement on every token, whatever API it is for.
                    .accept_any_scope()
                    .build()
                    .unwrap(),
            ),
            routes,
        ),
        local: TestApi::start(
            Some(
                texas
                    .maskinporten_local_builder()
                    .disable_cache()
                    .accept_any_scope()
                    .jwks_min_refetch_interval(WINDOW)
                    .jwks_refresh_interval(Duration::from_millis(250))
                    .build()
                    .unwrap(),
            ),
            routes,
        ),
    };
    let now = maskinporten_tests::now();
    let valid = texas
        .token()
        .scope(READ)
        .supplier("974761076")
        .claim("pid", json!("x"));
    let table: Vec<(&str, String, StatusCode)> = vec![
        ("valid", valid.sign(), StatusCode::OK),
        (
            "expired",
            texas.token().expired(Duration::from_secs(3600)).sign(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "expired inside the leeway",
            texas.token().expired(Duration::from_secs(30)).sign(),
            StatusCode::OK,
        ),
        (
            "iat in the future",
            texas.token().iat(now + 3600).sign(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "iat inside the leeway",
            texas.token().iat(now + 30).sign(),
            StatusCode::OK,
        ),
        (
            "nbf ahead",
            texas.token().nbf(now + 3600).sign(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "nbf passed",
            texas.token().nbf(now - 10).sign(),
            StatusCode::OK,
        ),
        (
            "no kid",
            texas.token().without_kid().sign(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "unknown kid",
            texas.token().kid("rotated-away").sign(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "alg none",
            texas.token().unsigned().sign(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "HS256 with the public key as secret",
            texas.token().hs256_with_public_key().sign(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "RS384",
            texas.token().rs384().sign(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong issuer",
            texas.token().issuer("https://maskinporten.no/").sign(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "missing iss",
            texas.token().without("iss").sign(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "missing exp",
            texas.token().without("exp").sign(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "missing iat",
            texas.token().without("iat").sign(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "tampered payload",
            texas.token().tampered().sign(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "tampered signature",
            tamper_signature(&texas.token().sign()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "another key under the trusted kid",
            texas.token().signed_by_other_key().kid(DEFAULT_KID).sign(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "a key not published yet",
            texas.token().signed_by_other_key().sign(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "aud unspecified",
            texas.token().claim("aud", json!("unspecified")).sign(),
            StatusCode::OK,
        ),
    ];
    assert!(table.len() >= 15);
    for (name, token, expected) in &table {
        pair.agree(name, token, *expected).await;
    }
    let claims = pair
        .agree("valid, again", &table[0].1, StatusCode::OK)
        .await
        .unwrap();
    assert_eq!(claims, Value::Object(valid.claims().clone()));

    // A key rotated in mid-test: both accept tokens signed by it.
    texas.set_jwks_keys(&[DEFAULT_KID, OTHER_KID]);
    tokio::time::sleep(WINDOW + Duration::from_millis(100)).await;
    let rotated = texas.token().scope(READ).signed_by_other_key();
    let claims = pair
        .agree(
            "signed by the rotated-in key",
            &rotated.sign(),
            StatusCode::OK,
        )
        .await;
    assert_eq!(claims.unwrap(), Value::Object(rotated.claims().clone()));

    // And the old key rotated out: both refuse it, local validation once
    // its background refresh has seen the new key set.
    texas.set_jwks_keys(&[OTHER_KID]);
    let seen = texas.jwks_fetches();
    let deadline = Instant::now() + Duration::from_secs(10);
    while texas.jwks_fetches() < seen + 2 {
        assert!(Instant::now() < deadline, "no background refresh");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pair.agree(
        "signed by the rotated-out key",
        &texas.token().sign(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    pair.agree("the rotated-in key, still", &rotated.sign(), StatusCode::OK)
        .await;
}

/// Claims only the issuer's key could sign, in odd forms: local validation
/// and `LocalTexas` decide each as the real Texas does (its answers,
/// measured against a release build, are in the project's facts): duplicated
/// `iss`/`exp` refused, `scope` twice taken as the last, a fractional or
/// huge-but-integral `exp` taken, `exp` of 1e300 or as a string refused, a
/// fractional `iat` refused, a future `nbf` refused.
#[actix_web::test]
async fn odd_claims_are_decided_as_texas_decides_them() {
    let texas = LocalTexas::start();
    let handle = |builder: maskinporten_actix::MaskinportenBuilder| {
        builder.disable_cache().accept_any_scope().build().unwrap()
    };
    let pair = Pair {
        introspection: TestApi::start(Some(handle(texas.maskinporten_builder())), routes),
        local: TestApi::start(Some(handle(texas.maskinporten_local_builder())), routes),
    };
    let now = maskinporten_tests::now();
    let issuer = texas.issuer().to_owned();
    let iss = |value: &str| format!(r#""iss":"{value}""#);
    let exp = |value: &str| format!(r#""exp":{value}"#);
    let base = || texas.token().scope(READ);
    let table: Vec<(&str, String, StatusCode)> = vec![
        (
            "iss twice, the real one first",
            base().raw_member(&iss("https://evil.example/")).sign(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "iss twice, the real one last",
            base()
                .without("iss")
                .raw_member(&iss("https://evil.example/"))
                .raw_member(&iss(&issuer))
                .sign(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "exp twice, the past one last",
            base().raw_member(&exp(&(now - 3600).to_string())).sign(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "scope twice",
            texas
                .token()
                .scope("nav:other/api.read")
                .raw_member(&format!(r#""scope":"{READ}""#))
                .sign(),
            StatusCode::OK,
        ),
        (
            "exp with a fraction",
            base()
                .without("exp")
                .raw_member(&exp(&format!("{}.5", now + 600)))
                .sign(),
            StatusCode::OK,
        ),
        (
            "exp of 1e300",
            base().without("exp").raw_member(&exp("1e300")).sign(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "exp of i64::MAX",
            base()
                .without("exp")
                .raw_member(&exp("9223372036854775807"))
                .sign(),
            StatusCode::OK,
        ),
        (
            "exp of u64::MAX",
            base()
                .without("exp")
                .raw_member(&exp("18446744073709551615"))
                .sign(),
            StatusCode::OK,
        ),
        (
            "exp as a string",
            base()
                .without("exp")
                .raw_member(&exp(&format!("\"{}\"", now + 600)))
                .sign(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "iat with a fraction",
            base()
                .without("iat")
                .raw_member(&format!(r#""iat":{}.5"#, now - 10))
                .sign(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "nbf in the future",
            base().nbf(now + 3600).sign(),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (name, token, expected) in &table {
        pair.agree(name, token, *expected).await;
    }
}
