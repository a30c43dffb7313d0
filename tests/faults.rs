//! The guard when the introspection endpoint misbehaves, over loopback: it
//! refuses connections, stays silent, answers too slowly, answers an error
//! status, garbage, half an answer or far too much. For each fault the caller
//! gets the status the rejection table promises (where only the timeout
//! ends the fault, no sooner than the timeout), nothing is cached that
//! should not be (the next request reaches the endpoint again, counted
//! there), and the first healthy answer lets the caller through again.
//!
//! The endpoint and the API run in real time on real sockets, so nothing
//! here bounds how long an answer may take: how fast a loaded machine
//! answers is no behaviour of the guard. What must hold is asserted
//! instead: a 503 ended by the timeout never comes before it, and
//! introspections run side by side is counted at the endpoint.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use maskinporten_actix::{env, testing::TokenBuilder, Maskinporten};
use maskinporten_tests::{
    assert_no_stray_panics, chunked_response, handlers::routes, now, truncated_response,
    watch_panics, Fault, FaultServer, TestApi, READ,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

const ISSUER: &str = "https://test.maskinporten.no/";

/// The timeout every handle here is built with: short, so that a fault that
/// is only ended by the timeout costs little.
const TIMEOUT: Duration = Duration::from_millis(300);
/// The guard's limit on an introspection answer.
const MAX_ANSWER: usize = 64 * 1024;

/// A real Maskinporten-shaped token; the fault server never looks at it.
fn token() -> String {
    TokenBuilder::new(ISSUER).scope(READ).sign()
}

/// The claims of an active answer, as Texas sends them.
fn active_claims() -> serde_json::Map<String, Value> {
    let Value::Object(claims) = json!({
        "active": true,
        "iss": ISSUER,
        "client_id": "c0ffee",
        "client_amr": "private_key_jwt",
        "consumer": {"authority": "iso6523-actorid-upis", "ID": "0192:991825827"},
        "scope": READ,
        "token_type": "Bearer",
        "exp": now() + 120,
        "iat": now(),
        "jti": "jti-1",
    }) else {
        unreachable!()
    };
    claims
}

/// A healthy active answer granting READ.
fn healthy() -> String {
    Value::Object(active_claims()).to_string()
}

/// A healthy active answer padded with an extra claim to exactly `len` bytes.
fn active_of_len(len: usize) -> String {
    let mut claims = active_claims();
    claims.insert("padding".into(), Value::from(""));
    let base = Value::Object(claims.clone()).to_string().len();
    claims.insert("padding".into(), Value::from("x".repeat(len - base)));
    let answer = Value::Object(claims).to_string();
    assert_eq!(answer.len(), len);
    answer
}

fn handle(url: &str) -> Maskinporten {
    Maskinporten::builder()
        .introspection_endpoint(url)
        .exposed_scopes([READ])
        .timeout(TIMEOUT)
        .build()
        .expect("maskinporten")
}

/// How a fault ends for the guard.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The endpoint's answer (or its closing the connection) ends it.
    Answer,
    /// Only the timeout ends it: the 503 comes no sooner than the timeout.
    Timeout,
}

/// One fault, from start to recovery: two requests are answered 503 (no
/// sooner than the timeout, for a fault only the timeout ends) and both
/// reach the endpoint (a failure is never cached); then the endpoint turns
/// healthy, the next request passes, and the one after that is served from
/// the cache (so the counting above would have seen a cached failure).
async fn fault_then_recovery(case: &'static str, fault: Fault, ending: Ending) {
    let server = FaultServer::start(fault).await;
    let api = TestApi::start(Some(handle(&server.url())), routes);
    let token = token();
    for attempt in 1..=2 {
        let started = Instant::now();
        let response = api.ask("/afp", &token).await;
        let elapsed = started.elapsed();
        response.assert_unavailable(case);
        if ending == Ending::Timeout {
            assert!(
                elapsed >= TIMEOUT,
                "{case}: answered after {elapsed:?}, before the timeout {TIMEOUT:?}"
            );
        }
        assert_eq!(
            server.connections(),
            attempt,
            "{case}: attempt {attempt} reached the endpoint"
        );
    }
    server.set(Fault::Answer(200, healthy()));
    let response = api.ask("/afp", &token).await;
    assert_eq!(response.status, StatusCode::OK, "{case}: recovery");
    assert_eq!(
        server.connections(),
        3,
        "{case}: recovery reached the endpoint"
    );
    let response = api.ask("/afp", &token).await;
    assert_eq!(response.status, StatusCode::OK, "{case}: cached");
    assert_eq!(
        server.connections(),
        3,
        "{case}: the active answer is cached"
    );
}

async fn all_faults(cases: Vec<(&'static str, Fault)>, ending: Ending) {
    watch_panics();
    join_all(
        cases
            .into_iter()
            .map(|(case, fault)| fault_then_recovery(case, fault, ending)),
    )
    .await;
    assert_no_stray_panics();
}

#[actix_web::test]
async fn error_statuses_are_503_and_never_cached() {
    let texas_error = r#"{"error":"invalid_request","error_description":"missing field `token`"}"#;
    all_faults(
        vec![
            ("500", Fault::Answer(500, r#"{"error":"boom"}"#.into())),
            ("502 empty", Fault::Answer(502, String::new())),
            ("503", Fault::Answer(503, "upstream unavailable".into())),
            (
                "400 invalid_request",
                Fault::Answer(400, texas_error.into()),
            ),
            // An endpoint's 401 or 403 is about the guard's request, not the
            // caller's token: it must not turn into the caller's 401 or 403.
            ("401", Fault::Answer(401, r#"{"active":false}"#.into())),
            ("403", Fault::Answer(403, healthy())),
            ("404", Fault::Answer(404, healthy())),
            // Even with an active body: only 200 is an answer.
            ("201 active", Fault::Answer(201, healthy())),
            (
                "204",
                Fault::Raw(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n".to_vec()),
            ),
            (
                "not HTTP",
                Fault::Raw(b"SSH-2.0-OpenSSH_9.2\r\n\r\n".to_vec()),
            ),
            ("closed at once", Fault::Raw(Vec::new())),
        ],
        Ending::Answer,
    )
    .await;
}

#[actix_web::test]
async fn unusable_answers_are_503_and_never_cached() {
    let mut no_active = active_claims();
    no_active.remove("active");
    let no_active = Value::Object(no_active).to_string();
    let mut active_string = active_claims();
    active_string.insert("active".into(), Value::from("true"));
    let active_string = Value::Object(active_string).to_string();
    let mut active_one = active_claims();
    active_one.insert("active".into(), Value::from(1));
    let active_one = Value::Object(active_one).to_string();
    let mut active_null = active_claims();
    active_null.insert("active".into(), Value::Null);
    let active_null = Value::Object(active_null).to_string();
    let mut no_exp = active_claims();
    no_exp.remove("exp");
    let no_exp = Value::Object(no_exp).to_string();
    let healthy = healthy();
    let active_twice = format!(r#"{{"active":false,{}"#, &healthy[1..]);
    let scope_twice = format!(r#"{}","scope":"{READ}"}}"#, &healthy[..healthy.len() - 2]);
    for twice in [&active_twice, &scope_twice] {
        // Valid JSON to a parser that keeps the last of each key.
        let last_wins: Value = serde_json::from_str(twice).expect("JSON");
        assert_eq!(last_wins["active"], true, "{twice}");
    }
    all_faults(
        vec![
            ("non-JSON", Fault::Answer(200, "<html>hello</html>".into())),
            ("empty body", Fault::Answer(200, String::new())),
            (
                "truncated JSON",
                Fault::Answer(200, healthy[..healthy.len() / 2].into()),
            ),
            ("JSON without active", Fault::Answer(200, no_active)),
            // "true" is not true: a non-boolean `active` is a broken answer.
            ("active \"true\"", Fault::Answer(200, active_string)),
            ("active 1", Fault::Answer(200, active_one)),
            ("active null", Fault::Answer(200, active_null)),
            ("array", Fault::Answer(200, format!("[{healthy}]"))),
            ("active but no exp", Fault::Answer(200, no_exp)),
            (
                "trailing garbage",
                Fault::Answer(200, format!("{healthy}}}")),
            ),
            // A claim named twice: keeping the last `active` or `scope` would
            // turn an inactive answer active, or widen the scopes.
            (
                "active false, then active true",
                Fault::Answer(200, active_twice),
            ),
            ("scope named twice", Fault::Answer(200, scope_twice)),
        ],
        Ending::Answer,
    )
    .await;
}

#[actix_web::test]
async fn silence_and_slowness_are_503_at_the_timeout_never_before() {
    all_faults(
        vec![
            // Accepted, never read, never answered.
            ("silent", Fault::Silent),
            // Read, never answered.
            ("hang", Fault::Hang),
            // A healthy active answer, too late: it must not let anyone in.
            ("slow", Fault::Slow(TIMEOUT * 10, healthy())),
            // The head in time, the body one byte every 20 ms (about 5 s): the
            // timeout covers the body, not only the head.
            (
                "trickle",
                Fault::Trickle(Duration::from_millis(20), healthy()),
            ),
        ],
        Ending::Timeout,
    )
    .await;
}

#[actix_web::test]
async fn oversized_and_cut_answers_are_503_and_never_cached() {
    let healthy = healthy();
    let too_large = active_of_len(MAX_ANSWER + 1);
    all_faults(
        vec![
            (
                "64 KiB + 1 with Content-Length",
                Fault::Answer(200, too_large.clone()),
            ),
            (
                "64 KiB + 1 chunked",
                Fault::Raw(chunked_response(&too_large, 4096)),
            ),
            (
                "1 MiB chunked",
                Fault::Raw(chunked_response(&active_of_len(1 << 20), 16 * 1024)),
            ),
            // Content-Length announces more than the server ever sends.
            (
                "closed mid-body",
                Fault::Raw(truncated_response(&healthy, healthy.len() / 2)),
            ),
            (
                "closed mid-chunk",
                Fault::Raw({
                    let mut raw = chunked_response(&healthy, 64);
                    raw.truncate(raw.len() - 40);
                    raw
                }),
            ),
            (
                "closed before the last chunk",
                Fault::Raw({
                    let mut raw = chunked_response(&healthy, 64);
                    raw.truncate(raw.len() - b"0\r\n\r\n".len());
                    raw
                }),
            ),
        ],
        Ending::Answer,
    )
    .await;
}

/// The limit is the guard's documented 64 KiB, not less: an answer of
/// exactly that size is read, with or without `Content-Length`.
#[actix_web::test]
async fn an_answer_of_exactly_64_kib_is_read() {
    watch_panics();
    let answer = active_of_len(MAX_ANSWER);
    for (case, fault) in [
        ("Content-Length", Fault::Answer(200, answer.clone())),
        ("chunked", Fault::Raw(chunked_response(&answer, 4096))),
    ] {
        let server = FaultServer::start(fault).await;
        let api = TestApi::start(Some(handle(&server.url())), routes);
        let response = api.ask("/afp", &token()).await;
        assert_eq!(response.status, StatusCode::OK, "{case}");
        assert_eq!(server.requests(), 1, "{case}");
    }
    assert_no_stray_panics();
}

/// An active answer whose claims no Maskinporten token has (a `scope` that
/// is not a string) while the sidecar's own checks hold (`iss`, `exp`,
/// `iat`): the sidecar copies a token's claims verbatim, so the token is at
/// fault. It is refused as local validation refuses it (401), and, being
/// junk, never remembered.
#[actix_web::test]
async fn a_token_with_unusable_claims_is_401_as_in_local_validation() {
    watch_panics();
    let mut claims = active_claims();
    claims.insert("scope".into(), json!([READ]));
    let server = FaultServer::start(Fault::Answer(200, Value::Object(claims).to_string())).await;
    let api = TestApi::start(Some(handle(&server.url())), routes);
    let token = token();
    for _ in 0..2 {
        let response = api.ask("/afp", &token).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
        let challenge = response.challenge.unwrap();
        assert!(
            challenge.starts_with(r#"Bearer error="invalid_token""#),
            "{challenge}"
        );
    }
    assert_eq!(server.requests(), 2, "never remembered");
    assert_no_stray_panics();
}

/// Per the facts: an active answer without `scope` is a valid token holding
/// no scope. A scope-guarded route says 403, and so does a claims-only
/// route: the token holds none of the scopes the API exposes. It is a real
/// answer, so its refusal is remembered like any refusal of a valid token.
#[actix_web::test]
async fn an_active_answer_without_scope_holds_no_scope() {
    watch_panics();
    let mut claims = active_claims();
    claims.remove("scope");
    let server = FaultServer::start(Fault::Answer(200, Value::Object(claims).to_string())).await;
    let api = TestApi::start(Some(handle(&server.url())), routes);
    let token = token();
    let response = api.ask("/afp", &token).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert_eq!(
        response.challenge.as_deref().unwrap(),
        r#"Bearer error="insufficient_scope", error_description="the access token lacks a scope this resource requires", scope="nav:helse/sykepenger/afp.read""#
    );
    // Holding no scope, it holds none this API exposes: a claims-only
    // route refuses it too, and the refusal is remembered.
    let response = api.ask("/whoami", &token).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert_eq!(
        server.requests(),
        1,
        "the refusal of a valid token is remembered"
    );
    assert_no_stray_panics();
}

/// An inactive answer is the caller's 401, and is not cached either: the
/// same token is asked about again, and passes once the endpoint says so.
#[actix_web::test]
async fn an_inactive_answer_is_401_and_never_cached() {
    watch_panics();
    let server = FaultServer::start(Fault::Answer(
        200,
        r#"{"active":false,"error":"invalid token: ExpiredSignature"}"#.into(),
    ))
    .await;
    let api = TestApi::start(Some(handle(&server.url())), routes);
    let token = token();
    for attempt in 1..=2 {
        let response = api.ask("/afp", &token).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.challenge.as_deref().unwrap(),
            r#"Bearer error="invalid_token", error_description="the access token is not active""#
        );
        assert_eq!(server.requests(), attempt);
    }
    server.set(Fault::Answer(200, healthy()));
    assert_eq!(api.status("/afp", &token).await, StatusCode::OK);
    assert_eq!(server.requests(), 3);
    assert_no_stray_panics();
}

/// The sidecar goes away and comes back on the same port: refused
/// connections are 503, tokens validated before the outage go on being
/// served from the cache, and the first request after the restart gets
/// through.
#[actix_web::test]
async fn an_outage_is_503_and_the_endpoint_is_used_again_when_it_is_back() {
    watch_panics();
    let server = FaultServer::start(Fault::Answer(200, healthy())).await;
    let mp = handle(&server.url());
    let api = TestApi::start(Some(mp.clone()), routes);
    let before = token();
    assert_eq!(api.status("/afp", &before).await, StatusCode::OK);
    assert_eq!(server.connections(), 1);

    server.stop().await;
    let during = token();
    for _ in 0..2 {
        let response = api.ask("/afp", &during).await;
        response.assert_unavailable("refused");
    }
    assert_eq!(
        api.status("/afp", &before).await,
        StatusCode::OK,
        "a token validated before the outage"
    );
    assert_eq!(mp.stats().validator_failures, 2);

    server.restart().await;
    assert_eq!(api.status("/afp", &during).await, StatusCode::OK);
    assert_eq!(server.connections(), 2, "one connection since the restart");
    assert_eq!(api.status("/afp", &during).await, StatusCode::OK);
    assert_eq!(server.connections(), 2, "then cached");
    assert_no_stray_panics();
}

/// Texas never redirects. A redirect from the introspection endpoint is a
/// fault, not an instruction to send the caller's token somewhere else: the
/// token must not reach the redirect's target, and the caller gets 503.
#[actix_web::test]
async fn a_redirect_is_not_followed() {
    watch_panics();
    let target = FaultServer::start(Fault::Answer(200, healthy())).await;
    for status in [301, 302, 303, 307, 308] {
        let redirect = format!(
            "HTTP/1.1 {status} Moved\r\nLocation: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            target.url()
        );
        let server = FaultServer::start(Fault::Raw(redirect.into_bytes())).await;
        let api = TestApi::start(Some(handle(&server.url())), routes);
        let response = api.ask("/afp", &token()).await;
        response.assert_unavailable(&format!("redirect {status}"));
        assert_eq!(server.requests(), 1, "{status}");
        assert_eq!(
            target.requests(),
            0,
            "{status}: the token went to the target"
        );
    }
    assert_no_stray_panics();
}

/// Many callers during a fault: each gets its 503, no sooner than the
/// timeout of its own introspection. Introspections of different tokens run
/// side by side up to the handle's bound, not queued behind one another:
/// with a timeout far longer than the test, the endpoint holds all 20 open
/// at once before any of them ends.
#[actix_web::test]
async fn concurrent_callers_during_a_hang_are_introspected_side_by_side() {
    watch_panics();
    // The endpoint on a runtime of its own, which the test shuts down to
    // close every connection it holds.
    let endpoint_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = endpoint_runtime
        .spawn(FaultServer::start(Fault::Hang))
        .await
        .unwrap();
    let long = Duration::from_secs(3600);
    let mp = Maskinporten::builder()
        .introspection_endpoint(server.url())
        .exposed_scopes([READ])
        .timeout(long)
        .max_concurrent_introspections(20)
        .build()
        .expect("maskinporten");
    let api = TestApi::start(Some(mp), routes);
    let tokens: Vec<String> = (0..20).map(|_| token()).collect();
    let requests = join_all(tokens.iter().map(|t| api.ask("/afp", t)));
    let side_by_side = async {
        // Every request read by the endpoint, which answers none.
        while server.requests() < 20 {
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
        // Every one still held open: none was queued behind another.
        let open = (server.open_connections(), server.requests());
        // The endpoint goes away, closing what it holds: the end of the
        // fault for every caller at once.
        endpoint_runtime.shutdown_background();
        open
    };
    let (responses, open) = futures_util::join!(requests, side_by_side);
    assert_eq!(open, (20, 20));
    for response in responses {
        response.assert_unavailable("hang, concurrent");
    }
    assert_eq!(server.requests(), 20);
    assert_eq!(server.most_open_connections(), 20);
    assert_no_stray_panics();
}

/// A URL that cannot be an introspection endpoint is a `ConfigError` at
/// start-up, never a panic, whatever the string.
#[test]
fn unparsable_endpoint_urls_are_config_errors() {
    for url in bad_urls() {
        let result = std::panic::catch_unwind(|| {
            Maskinporten::builder()
                .exposed_scopes(maskinporten_tests::EXPOSED)
                .introspection_endpoint(url)
                .build()
                .map(|_| ())
        });
        let error = result
            .unwrap_or_else(|_| panic!("build() panicked on {url:?}"))
            .expect_err(url);
        assert_eq!(error.variable(), None, "{url:?}");
        assert!(
            error
                .to_string()
                .starts_with("cannot configure Maskinporten: introspection_endpoint: "),
            "{url:?}: {error}"
        );
    }
}

fn bad_urls() -> [&'static str; 14] {
    [
        "",
        " ",
        "not a url",
        "127.0.0.1:7164/api/v1/introspect",
        "localhost:7164",
        "http://",
        "http://:7164/api",
        "http://[::1/api",
        "http://127.0.0.1:99999/api",
        "http://exa mple/api",
        "ftp://127.0.0.1/api",
        "unix:///run/texas.sock",
        "http://\u{0}/",
        "h\u{0}ttp://127.0.0.1/",
    ]
}

/// The same through `from_env`, in a child process: the environment is
/// process-wide, and the other tests here run on threads beside this one.
#[test]
fn unparsable_endpoint_urls_in_the_environment_are_config_errors() {
    use std::os::unix::ffi::OsStrExt;
    let me = std::env::current_exe().unwrap();
    let mut values: Vec<&std::ffi::OsStr> = bad_urls()
        .into_iter()
        // A NUL byte cannot be put in the environment at all.
        .filter(|u| !u.contains('\0'))
        .map(std::ffi::OsStr::new)
        .collect();
    // Not UTF-8: `VarError::NotUnicode`.
    values.push(std::ffi::OsStr::from_bytes(b"http://127.0.0.1:7164/\xff"));
    for value in values {
        let output = std::process::Command::new(&me)
            .args([
                "--exact",
                "from_env_child",
                "--include-ignored",
                "--nocapture",
            ])
            .env(env::INTROSPECTION_ENDPOINT, value)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "{value:?}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Run by the test above, with the variable set.
#[test]
#[ignore = "run in a child process by unparsable_endpoint_urls_in_the_environment_are_config_errors"]
fn from_env_child() {
    // Only meaningful with the variable the parent sets.
    let Some(value) = std::env::var_os(env::INTROSPECTION_ENDPOINT) else {
        return;
    };
    let error = Maskinporten::builder_from_env()
        .and_then(|b| b.build())
        .expect_err("an invalid endpoint");
    assert_eq!(error.variable(), Some(env::INTROSPECTION_ENDPOINT));
    assert!(
        error.to_string().starts_with(
            "cannot configure Maskinporten: the environment variable \
                 NAIS_TOKEN_INTROSPECTION_ENDPOINT "
        ),
        "{value:?}: {error}"
    );
}
