//! No token, nor any recognisable part of one, leaves the guard: not in its
//! logs at any level, not in a response body or header, not in the `Debug`
//! or `Display` of its types, not in a panic message built from them.
//!
//! Every log line of the process (the guard's `tracing` events, the `log`
//! records of actix and reqwest, the local endpoint's) is captured at TRACE
//! into a buffer, and so is every field of every span and event as it is
//! given to a subscriber (the `maskinporten.validate` span's fields as
//! recorded, what an OpenTelemetry layer would export); requests are sent
//! with valid, invalid, expired, malformed and oversized tokens and against
//! failing endpoints, and then the buffers, the responses and the formatted
//! values are searched for each token's payload, its signature, a long
//! substring and the whole.

use std::{
    panic::{catch_unwind, AssertUnwindSafe},
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{get, web, HttpResponse, Responder};
use maskinporten_actix::{
    require_scope, testing::LocalTexas, Maskinporten, MaskinportenClaims, MaskinportenError,
};
use maskinporten_tests::{
    fields, logs, read_token, refused_url, Fault, FaultServer, TestApi, READ, WRITE,
};
use reqwest::StatusCode;

/// The parts of a token that must never show: the whole, and for a JWT its
/// payload, its signature, and a 24-character substring from the middle
/// (across the payload/signature boundary).
fn fragments(token: &str) -> Vec<String> {
    let mut fragments = vec![token.to_owned()];
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() == 3 {
        fragments.push(parts[1].to_owned());
        if !parts[2].is_empty() {
            fragments.push(parts[2].to_owned());
        }
        let boundary = parts[0].len() + 1 + parts[1].len();
        fragments.push(token[boundary - 12..(boundary + 12).min(token.len())].to_owned());
    }
    let middle = token.len() / 2;
    fragments.push(token[middle.saturating_sub(12)..(middle + 12).min(token.len())].to_owned());
    fragments
}

fn assert_clean(what: &str, text: &str, tokens: &[String]) {
    for token in tokens {
        for fragment in fragments(token) {
            assert!(
                !text.contains(&fragment),
                "{what} holds a part of a token ({fragment:?})"
            );
        }
    }
}

#[get("/afp")]
#[require_scope("nav:helse/sykepenger/afp.read")]
async fn read_afp(claims: MaskinportenClaims) -> impl Responder {
    // A handler that logs the claims it got, at every level: the claims are
    // safe to log, the token is not in them.
    tracing::info!(?claims, "afp read");
    tracing::trace!(claims = %format!("{claims:#?}"), "afp read, in full");
    HttpResponse::Ok().body(format!("{claims:?}"))
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(read_afp);
}

/// Sends `Authorization` values and returns every response as text: status,
/// each header, the body.
async fn exchange(api: &TestApi, authorizations: &[&str]) -> (StatusCode, String) {
    let answer = api.ask_with_authorizations("/afp", authorizations).await;
    (answer.status, answer.seen())
}

#[actix_web::test]
async fn no_token_in_logs_or_responses() {
    let logs = logs();
    let texas = LocalTexas::start();
    let good = maskinporten_tests::handle(&texas);
    let api = TestApi::start(Some(good), routes);
    let hour = Duration::from_secs(3600);

    let mut tokens: Vec<String> = Vec::new();
    // Token, expected status.
    let mut cases: Vec<(String, u16)> = vec![
        (read_token(&texas), 200),
        (texas.token().scope(WRITE).sign(), 403),
        (texas.token().scope(READ).expired(hour).sign(), 401),
        (texas.token().scope(READ).tampered().sign(), 401),
        (texas.token().scope(READ).unsigned().sign(), 401),
        (texas.token().scope(READ).hs256(b"secret").sign(), 401),
        (
            texas
                .token()
                .scope(READ)
                .issuer("https://maskinporten.no/")
                .sign(),
            401,
        ),
        (texas.token().scope(READ).signed_by_other_key().sign(), 401),
        (texas.token().scope(READ).without_kid().sign(), 401),
        // Not JWTs: outside b64token, too large, b64token but garbage.
        ("leakcheck$0123456789abcdefghijklmnopqrstuvwxyz".into(), 401),
        (format!("leakcheck{}", "Zq9".repeat(3000)), 401),
        ("leakcheckABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".into(), 401),
    ];
    for (token, status) in &cases {
        tokens.push(token.clone());
        let (got, text) = exchange(&api, &[&format!("Bearer {token}")]).await;
        assert_eq!(got.as_u16(), *status, "{text}");
        assert_clean("a response", &text, &tokens);
    }
    // The valid one again: answered from the cache.
    let (got, _) = exchange(&api, &[&format!("Bearer {}", cases[0].0)]).await;
    assert_eq!(got, StatusCode::OK);

    // Malformed requests around a valid token.
    let valid = read_token(&texas);
    tokens.push(valid.clone());
    for (authorizations, status) in [
        (
            vec![format!("Bearer {valid}"), format!("Bearer {valid}")],
            400,
        ),
        (vec![format!("Bearer {valid} {valid}")], 400),
        (vec![format!("Bearer {valid}, Basic eHl6")], 400),
        (vec![format!("Bearer\t{valid}")], 400),
        (vec![format!("Bearer {valid};")], 401),
        (vec![format!("Basic {valid}")], 401),
    ] {
        let authorizations: Vec<&str> = authorizations.iter().map(String::as_str).collect();
        let (got, text) = exchange(&api, &authorizations).await;
        assert_eq!(got.as_u16(), status, "{text}");
        assert_clean("a response", &text, &tokens);
    }

    // Failing endpoints: error status, silence, garbage, unusable claims,
    // nobody listening, a redirect.
    let now = maskinporten_tests::now();
    let unusable = format!(r#"{{"active":true,"iss":"x","exp":"soon","iat":{now}}}"#);
    let faults = [
        Fault::Answer(500, r#"{"error":"boom"}"#.into()),
        Fault::Hang,
        Fault::Answer(200, "<html>".into()),
        Fault::Answer(200, unusable),
        Fault::Raw(
            b"HTTP/1.1 307 X\r\nLocation: http://127.0.0.1:9/\r\nContent-Length: 0\r\n\r\n"
                .to_vec(),
        ),
    ];
    let mut failing = Vec::new();
    for fault in faults {
        let server = FaultServer::start(fault).await;
        failing.push((server.url(), Some(server)));
    }
    failing.push((refused_url(), None));
    for (url, _server) in &failing {
        let mp = Maskinporten::builder()
            .exposed_scopes(maskinporten_tests::EXPOSED)
            .introspection_endpoint(url)
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let api = TestApi::start(Some(mp), routes);
        let token = read_token(&texas);
        tokens.push(token.clone());
        let (got, text) = exchange(&api, &[&format!("Bearer {token}")]).await;
        assert_eq!(got, StatusCode::SERVICE_UNAVAILABLE, "{url}: {text}");
        assert_clean("a response", &text, &tokens);
    }
    cases.clear();

    // Let the workers' last lines land.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let captured = logs.text();
    // The capture works, at every level the guard logs at: otherwise the
    // search below would prove nothing.
    for line in [
        "token introspected",                                   // DEBUG
        "token is not active",                                  // DEBUG
        "token could not be validated",                         // WARN
        "introspection endpoint answered with an error status", // WARN
        "its claims are unusable",                              // WARN
        "afp read",                                             // INFO, the handler's
        "afp read, in full",                                    // TRACE, the handler's
    ] {
        assert!(captured.contains(line), "no {line:?} in the captured logs");
    }
    // The validation span, with its fields as recorded, closing once per
    // request; the sidecar's reason for an inactive token is an event in it.
    assert!(
        captured.contains("maskinporten.validate"),
        "the span's name is not in the fmt layer's context"
    );
    assert!(
        captured
            .lines()
            .any(|l| l.contains("maskinporten.validate") && l.contains("token is not active")),
        "the sidecar's reason is not logged inside the validation span"
    );
    assert_clean("the logs", &captured, &tokens);
    let fields = fields().text();
    for field in [
        "new maskinporten.validate",
        "decision=allowed",
        "decision=insufficient_scope",
        "decision=invalid_token",
        "decision=invalid_request",
        "decision=missing_token",
        "decision=validator_unavailable",
        "strategy=introspection",
        "cache=hit",
        "cache=miss",
        "scopes=nav:helse/sykepenger/afp.read",
        "consumer=",
        "latency_us=",
        "reason=", // the sidecar's text and the guard's own reasons
    ] {
        assert!(
            fields.contains(field),
            "no {field:?} in the captured fields"
        );
    }
    assert_clean("the span and event fields", &fields, &tokens);
    eprintln!(
        "{} tokens searched for in {} KiB of logs and {} KiB of fields",
        tokens.len(),
        captured.len() / 1024,
        fields.len() / 1024
    );
}

// The `unwrap`s on literal results below are the point: their panic
// messages are what is searched.
#[allow(clippy::unnecessary_literal_unwrap)]
#[actix_web::test]
async fn no_token_in_debug_display_or_panic_messages() {
    let _ = logs();
    let texas = LocalTexas::start();
    let mp = texas
        .maskinporten_builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .realm("afp-api")
        .exposed_scopes([READ, WRITE])
        .build()
        .unwrap();
    let valid = texas.token().scope(READ).consumer("889640782").sign();
    let claims = mp.validate(&valid).await.expect("valid");
    let mut tokens = vec![valid];
    let mut texts = vec![
        format!("{claims:?}"),
        format!("{claims:#?}"),
        format!("{mp:?}"),
        format!("{:?}", mp.stats()),
    ];
    assert!(texts[0].contains("889640782"), "{}", texts[0]);

    let mut errors: Vec<MaskinportenError> = Vec::new();
    for token in [
        texas
            .token()
            .scope(READ)
            .expired(Duration::from_secs(3600))
            .sign(),
        texas.token().scope(READ).tampered().sign(),
        texas.token().scope(READ).unsigned().sign(),
        "leakcheck0123456789abcdefghijklmnopqrstuvwxyz".to_owned(),
    ] {
        errors.push(mp.validate(&token).await.expect_err("invalid"));
        tokens.push(token);
    }
    let write_only = texas.token().scope(WRITE).sign();
    let write_claims = mp.validate(&write_only).await.unwrap();
    tokens.push(write_only);
    errors.push(write_claims.require_all(&[READ]).unwrap_err());
    errors.push(write_claims.require_any(&["not a scope"]).unwrap_err());

    let down = Maskinporten::builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .introspection_endpoint(refused_url())
        .build()
        .unwrap();
    let token = read_token(&texas);
    errors.push(down.validate(&token).await.unwrap_err());
    tokens.push(token);

    for error in &errors {
        texts.push(format!("{error:?}"));
        texts.push(format!("{error:#?}"));
        texts.push(error.to_string());
        texts.push(error.challenge().unwrap_or_default());
        let response = error.default_response();
        for (name, value) in response.headers() {
            texts.push(format!("{name}: {value:?}"));
        }
    }

    // Panic messages of the usual shortcuts, `unwrap` and `expect`, on the
    // guard's results.
    let messages = Arc::new(Mutex::new(Vec::<String>::new()));
    let previous = std::panic::take_hook();
    std::panic::set_hook({
        let messages = Arc::clone(&messages);
        Box::new(move |info| messages.lock().unwrap().push(info.to_string()))
    });
    for error in &errors {
        let result: Result<MaskinportenClaims, MaskinportenError> = Err(error.clone());
        assert!(catch_unwind(AssertUnwindSafe(|| result.clone().unwrap())).is_err());
        assert!(catch_unwind(AssertUnwindSafe(|| result.expect("validated"))).is_err());
    }
    let ok: Result<MaskinportenClaims, MaskinportenError> = Ok(claims.clone());
    assert!(catch_unwind(AssertUnwindSafe(|| ok.unwrap_err())).is_err());
    std::panic::set_hook(previous);
    let messages = messages.lock().unwrap().clone();
    assert_eq!(messages.len(), errors.len() * 2 + 1);
    assert!(messages[0].contains("MaskinportenError"), "{}", messages[0]);
    texts.extend(messages);

    for text in &texts {
        assert_clean(text, text, &tokens);
    }
}
