//! `LocalTexas` answers as the real NAIS sidecar does: every request captured
//! from Texas (`data/texas-introspection-vectors.json`, a copy of the shared
//! vectors file) is replayed over HTTP and must get the same status and body.
//! Also: the request counter, the 60 s leeway, the JWKS, the latency knob and
//! the server's lifecycle.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use maskinporten_actix::testing::{LocalTexas, TokenBuilder, DEFAULT_ISSUER, DEFAULT_KID};
use maskinporten_tests::{client, client_with_timeout};
use serde::Deserialize;
use serde_json::{json, Value};

const VECTORS: &str = include_str!("../data/texas-introspection-vectors.json");
const SCOPE: &str = "nav:helse/sykepenger/afp.read";

#[derive(Deserialize)]
struct Vectors {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    case: String,
    content_type: Option<String>,
    body: String,
    status: u16,
    response: Value,
}

/// The token each placeholder in a vector's request body stands for.
fn token_for(texas: &LocalTexas, placeholder: &str) -> TokenBuilder {
    let now = maskinporten_tests::now();
    let valid = texas.token().scope(SCOPE);
    match placeholder {
        "<valid RS256 JWT>" => valid,
        "<JWT, exp = now - 3600>" => valid.exp(now - 3600),
        "<JWT, exp = now - 30>" => valid.exp(now - 30),
        "<JWT, iat = now + 3600>" => valid.iat(now + 3600),
        "<JWT without kid>" => valid.without_kid(),
        "<unsigned JWT, alg none>" => valid.unsigned(),
        "<HMAC-signed JWT>" => valid.hs256(b"a shared secret of thirty-two bytes"),
        "<JWT with tampered payload>" => valid.tampered(),
        other => panic!("no token recipe for placeholder {other}"),
    }
}

/// The request body with its placeholder (if any) replaced by a real token.
fn materialise(texas: &LocalTexas, body: &str) -> (String, Option<TokenBuilder>) {
    let Some(start) = body.find('<') else {
        return (body.to_owned(), None);
    };
    let end = start + body[start..].find('>').expect("placeholder closes") + 1;
    let builder = token_for(texas, &body[start..end]);
    let token = builder.sign();
    (
        format!("{}{}{}", &body[..start], token, &body[end..]),
        Some(builder),
    )
}

fn is_uuid_shaped(s: &str) -> bool {
    let lens: Vec<usize> = s.split('-').map(str::len).collect();
    lens == [8, 4, 4, 4, 12] && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

/// Compares an answer with the captured one; placeholders in the capture
/// stand for the token's own values.
fn assert_matches(
    case: &str,
    expected: &Value,
    actual: &Value,
    token: Option<&TokenBuilder>,
    issuer: &str,
) {
    let expected = expected
        .as_object()
        .expect("captured response is an object");
    let actual = actual
        .as_object()
        .unwrap_or_else(|| panic!("{case}: answer is not an object: {actual}"));
    let expected_keys: BTreeSet<&String> = expected.keys().collect();
    let actual_keys: BTreeSet<&String> = actual.keys().collect();
    assert_eq!(actual_keys, expected_keys, "{case}: fields");

    let claims = token.map(|t| t.claims());
    for (name, want) in expected {
        let got = &actual[name];
        match want.as_str() {
            Some("<unix seconds>") => {
                assert!(got.is_i64(), "{case}: {name} = {got}");
                assert_eq!(
                    Some(got),
                    claims.and_then(|c| c.get(name)),
                    "{case}: {name}"
                );
            }
            Some("<uuid>") => {
                assert!(
                    got.as_str().is_some_and(is_uuid_shaped),
                    "{case}: {name} = {got}"
                );
                assert_eq!(
                    Some(got),
                    claims.and_then(|c| c.get(name)),
                    "{case}: {name}"
                );
            }
            Some("<configured issuer>") => assert_eq!(got, issuer, "{case}: {name}"),
            _ => assert_eq!(got, want, "{case}: {name}"),
        }
    }
}

async fn post(texas: &LocalTexas, content_type: Option<&str>, body: String) -> (u16, Value) {
    let client = client();
    let mut request = client.post(texas.introspection_endpoint()).body(body);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let response = request.send().await.expect("LocalTexas answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let body: Value = response.json().await.expect("JSON answer");
    (status, body)
}

async fn introspect(texas: &LocalTexas, token: &str) -> Value {
    let body = json!({"identity_provider": "maskinporten", "token": token}).to_string();
    let (status, body) = post(texas, Some("application/json"), body).await;
    assert_eq!(status, 200);
    body
}

#[tokio::test]
async fn replays_every_captured_texas_answer() {
    let vectors: Vectors = serde_json::from_str(VECTORS).expect("vectors file parses");
    assert_eq!(vectors.cases.len(), 19, "the capture holds 19 cases");

    let texas = LocalTexas::start();
    for case in &vectors.cases {
        let (body, token) = materialise(&texas, &case.body);
        let (status, answer) = post(&texas, case.content_type.as_deref(), body).await;
        assert_eq!(
            status, case.status,
            "{}: status; answer {answer}",
            case.case
        );
        if answer.get("active") == Some(&Value::Bool(true)) {
            assert_eq!(case.response["active"], true, "{}: {answer}", case.case);
            assert_matches(
                &case.case,
                &case.response,
                &answer,
                token.as_ref(),
                texas.issuer(),
            );
        } else {
            assert_eq!(answer, case.response, "{}", case.case);
        }
    }
    assert_eq!(texas.introspections(), 19);
}

#[test]
fn the_vectors_copy_is_the_shared_file() {
    // When the shared folder sits beside the checkout (as in CI), the copy
    // under tests/data must not have drifted from it.
    let shared = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/texas-introspection-vectors.json"
    );
    if let Ok(original) = std::fs::read_to_string(shared) {
        let original: Value = serde_json::from_str(&original).expect("shared vectors parse");
        let copy: Value = serde_json::from_str(VECTORS).expect("copied vectors parse");
        assert_eq!(original, copy, "tests/data copy differs from {shared}");
    }
}

#[tokio::test]
async fn counts_every_post_whatever_the_answer() {
    let texas = LocalTexas::start();
    assert_eq!(texas.introspections(), 0);
    let token = texas.token().scope(SCOPE).sign();
    assert_eq!(introspect(&texas, &token).await["active"], true);
    assert_eq!(introspect(&texas, "garbage").await["active"], false);
    let (status, _) = post(&texas, Some("text/plain"), "x".into()).await;
    assert_eq!(status, 400);
    assert_eq!(texas.introspections(), 3);

    // Other paths and methods are not introspections.
    let client = client();
    let get = client
        .get(texas.introspection_endpoint())
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 405);
    let other = client
        .post(format!("{}/api/v1/token", texas.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 404);
    assert_eq!(texas.introspections(), 3);

    assert_eq!(texas.reset_introspections(), 3);
    assert_eq!(texas.introspections(), 0);
}

#[tokio::test]
async fn sixty_seconds_of_leeway() {
    let texas = LocalTexas::start();
    let now = maskinporten_tests::now();
    let inside = texas.token().exp(now - 30).sign();
    assert_eq!(introspect(&texas, &inside).await["active"], true);
    let outside = texas.token().exp(now - 90).sign();
    assert_eq!(
        introspect(&texas, &outside).await,
        json!({"active": false, "error": "invalid token: ExpiredSignature"})
    );
    let early = texas.token().nbf(now + 30).iat(now + 30).sign();
    assert_eq!(introspect(&texas, &early).await["active"], true);
    let too_early = texas.token().nbf(now + 120).sign();
    assert_eq!(
        introspect(&texas, &too_early).await,
        json!({"active": false, "error": "invalid token: ImmatureSignature"})
    );
}

#[tokio::test]
async fn other_errors_texas_gives() {
    let texas = LocalTexas::start();
    let cases = [
        (
            texas.token().issuer("https://maskinporten.no/"),
            "invalid token: InvalidIssuer",
        ),
        (
            texas.token().without("iss"),
            "invalid token: Missing required claim: iss",
        ),
        (
            texas.token().without("exp"),
            "invalid token: Missing required claim: exp",
        ),
        (
            texas.token().without("iat"),
            "invalid token: Missing required claim: iat",
        ),
        (
            texas.token().kid("rotated-away"),
            "token can not be validated with this identity provider",
        ),
        (
            texas.token().signed_by_other_key(),
            "token can not be validated with this identity provider",
        ),
    ];
    for (builder, error) in cases {
        assert_eq!(
            introspect(&texas, &builder.sign()).await,
            json!({"active": false, "error": error}),
        );
    }
}

#[tokio::test]
async fn active_answers_carry_every_claim_verbatim() {
    let texas = LocalTexas::builder()
        .issuer("https://maskinporten.no/")
        .start()
        .unwrap();
    assert_eq!(texas.issuer(), "https://maskinporten.no/");
    let builder = texas
        .token()
        .raw_scope("nav:a/bc\tnav:d/ef")
        .consumer("974761076")
        .supplier("889640782")
        .claim("aud", json!("unspecified"))
        .claim(
            "authorization_details",
            json!([{"type": "urn:altinn:systemuser"}]),
        );
    let answer = introspect(&texas, &builder.sign()).await;
    let mut expected = builder.claims().clone();
    expected.insert("active".into(), Value::Bool(true));
    assert_eq!(answer, Value::Object(expected));

    // A token for the default issuer is not one for this endpoint.
    let foreign = TokenBuilder::new(DEFAULT_ISSUER).sign();
    assert_eq!(
        introspect(&texas, &foreign).await["error"],
        "invalid token: InvalidIssuer"
    );
}

#[tokio::test]
async fn serves_a_jwks_with_the_signing_key() {
    let texas = LocalTexas::start();
    let client = client();
    let response = client.get(texas.jwks_uri()).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().expect("keys array");
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["kid"], DEFAULT_KID);
    assert_eq!(key["e"], "AQAB");
    let n = key["n"].as_str().expect("n");
    assert_eq!(n.len(), 342, "a 2048-bit modulus, unpadded base64url");
    assert!(n
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));

    let meta: Value = client
        .get(texas.well_known_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["issuer"], texas.issuer());
    assert_eq!(meta["jwks_uri"], texas.jwks_uri());

    let env: Vec<&str> = texas.env_vars().iter().map(|(k, _)| *k).collect::<Vec<_>>();
    assert!(env.contains(&"NAIS_TOKEN_INTROSPECTION_ENDPOINT"));
}

#[tokio::test]
async fn latency_delays_answers() {
    let texas = LocalTexas::builder()
        .latency(Duration::from_millis(300))
        .start()
        .unwrap();
    assert_eq!(texas.latency(), Duration::from_millis(300));
    let token = texas.token().scope(SCOPE).sign();

    let started = Instant::now();
    assert_eq!(introspect(&texas, &token).await["active"], true);
    assert!(started.elapsed() >= Duration::from_millis(300));

    // A client with a shorter timeout gives up.
    let impatient = client_with_timeout(Duration::from_millis(100));
    let body = json!({"identity_provider": "maskinporten", "token": token}).to_string();
    let err = impatient
        .post(texas.introspection_endpoint())
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect_err("times out");
    assert!(err.is_timeout(), "{err}");

    // Introspections are serialised, as in Texas: three at once take 3 × latency.
    texas.set_latency(Duration::from_millis(200));
    let started = Instant::now();
    let (a, b, c) = tokio::join!(
        introspect(&texas, &token),
        introspect(&texas, &token),
        introspect(&texas, &token)
    );
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert!([a, b, c].iter().all(|answer| answer["active"] == true));

    texas.set_latency(Duration::ZERO);
    assert_eq!(texas.latency(), Duration::ZERO);
    assert_eq!(texas.introspections(), 5);
}

/// A `LocalTexas` waits at most a second for open connections when it is
/// dropped; actix-web's default is 30 seconds, and a server that waited for
/// idle kept-alive connections would wait as long. Twenty seconds tells
/// the two apart however busy the machine is.
const BEFORE_ACTIX_GIVES_UP: Duration = Duration::from_secs(20);

#[test]
fn starts_from_plain_code_and_stops_on_drop() {
    let texas = LocalTexas::start();
    let addr = texas.addr();
    assert!(addr.ip().is_loopback());
    assert_eq!(
        texas.introspection_endpoint(),
        format!("http://127.0.0.1:{}/api/v1/introspect", addr.port())
    );
    assert!(std::net::TcpStream::connect(addr).is_ok());
    let started = Instant::now();
    drop(texas);
    assert!(started.elapsed() < BEFORE_ACTIX_GIVES_UP);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "server still listening after drop"
    );
}

#[actix_web::test]
async fn works_inside_an_actix_runtime() {
    let texas = LocalTexas::builder().workers(2).start().unwrap();
    let token = texas.token().scope(SCOPE).sign();
    assert_eq!(introspect(&texas, &token).await["scope"], SCOPE);
    // Dropped while the client may still hold a kept-alive connection.
    let started = Instant::now();
    drop(texas);
    assert!(started.elapsed() < BEFORE_ACTIX_GIVES_UP);
}

#[test]
fn two_endpoints_side_by_side() {
    let a = LocalTexas::start();
    let b = LocalTexas::builder()
        .issuer("https://other.example/")
        .start()
        .unwrap();
    assert_ne!(a.addr(), b.addr());
    assert_ne!(a.issuer(), b.issuer());
    assert!(
        LocalTexas::builder().port(a.addr().port()).start().is_err(),
        "port in use"
    );
}

#[tokio::test]
async fn drop_does_not_wait_for_idle_kept_alive_connections() {
    let texas = LocalTexas::start();
    let client = client();
    let jwks = client.get(texas.jwks_uri()).send().await.unwrap();
    jwks.text().await.unwrap();
    // The client keeps its connection open while the endpoint goes away.
    let started = Instant::now();
    drop(texas);
    assert!(started.elapsed() < BEFORE_ACTIX_GIVES_UP);
    drop(client);
}

#[tokio::test]
async fn answers_garbage_without_falling_over() {
    let texas = LocalTexas::start();
    let client = client();
    let jwt_like = |header: &str, payload: &str| -> String {
        let body = json!({"identity_provider": "maskinporten", "token": format!("{header}.{payload}.c2ln")});
        body.to_string()
    };
    let bodies: Vec<(Option<&str>, Vec<u8>)> = vec![
        (Some("application/json"), b"".to_vec()),
        (Some("application/json"), b"{}".to_vec()),
        (Some("application/json"), b"[]".to_vec()),
        (Some("application/json"), b"null".to_vec()),
        (Some("application/json"), b"\xff\xfe{".to_vec()),
        (
            Some("application/json"),
            br#"{"token": null, "identity_provider": "maskinporten"}"#.to_vec(),
        ),
        (
            Some("application/json"),
            br#"{"token": "...", "identity_provider": "maskinporten"}"#.to_vec(),
        ),
        (
            Some("application/json"),
            br#"{"token": "a.b.c.d", "identity_provider": "maskinporten"}"#.to_vec(),
        ),
        // header "not json" and {"alg":"RS256","kid":"local-texas-1"} with a non-JSON payload
        (
            Some("application/json"),
            jwt_like("bm90IGpzb24", "eyJ9").into_bytes(),
        ),
        (
            Some("application/json"),
            jwt_like(
                "eyJhbGciOiJSUzI1NiIsImtpZCI6ImxvY2FsLXRleGFzLTEifQ",
                "bm90IGpzb24",
            )
            .into_bytes(),
        ),
        (
            Some("application/x-www-form-urlencoded"),
            b"token=%ff%fe&identity_provider=maskinporten".to_vec(),
        ),
        (Some("application/x-www-form-urlencoded"), b"&&==&".to_vec()),
        (None, b"\x00\x01\x02".to_vec()),
        (Some("application/json"), vec![b' '; 3 * 1024 * 1024]),
    ];
    for (content_type, body) in bodies {
        let shown = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
        let mut request = client.post(texas.introspection_endpoint()).body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let response = request.send().await.expect("an answer");
        let status = response.status().as_u16();
        let answer: Value = response.json().await.expect("a JSON answer");
        match status {
            200 => assert_eq!(answer["active"], false, "{shown}: {answer}"),
            400 => assert_eq!(answer["error"], "invalid_request", "{shown}: {answer}"),
            other => panic!("{shown}: status {other}: {answer}"),
        }
    }
    // Still serving.
    let token = texas.token().sign();
    assert_eq!(introspect(&texas, &token).await["active"], true);
}
