//! Local validation when Maskinporten's JWKS misbehaves: down at start, down
//! later, slow, garbage, keys removed and added, and a flood of made-up
//! kids. The JWKS is served over real HTTP on loopback by a `LocalTexas` on
//! its own thread, and every test counts its fetches there.
//!
//! The handle runs on the test's runtime, whose clock is frozen
//! ([`FrozenClock`]): refetch windows, refreshes and the fetch timeout pass
//! only when a test advances the clock, so each fetch counted here is one
//! the rules allow, whatever the load on the machine.

use std::time::Duration;

use maskinporten_actix::{
    testing::{JwksFault, LocalTexas, DEFAULT_ISSUER, DEFAULT_KID, OTHER_KID},
    Maskinporten, MaskinportenBuilder,
};

use maskinporten_tests::b64_json;
use serde_json::json;

use crate::{until, FrozenClock};
use maskinporten_tests::{read_token, READ};

/// The least time between two fetches asked for by unknown kids, here.
const WINDOW: Duration = Duration::from_millis(300);
/// The fetch timeout.
const TIMEOUT: Duration = Duration::from_millis(500);
/// The background refresh of the tests that watch it.
const REFRESH: Duration = Duration::from_secs(60);
/// Never reached on a frozen clock that is not advanced that far.
const NEVER: Duration = Duration::from_secs(3600);

/// A local-validation handle's settings: no claims cache, so every token is
/// verified against the keys held now.
fn settings(builder: MaskinportenBuilder, refresh: Duration) -> MaskinportenBuilder {
    builder
        .exposed_scopes([READ])
        .disable_cache()
        .jwks_min_refetch_interval(WINDOW)
        .jwks_refresh_interval(refresh)
        .timeout(TIMEOUT)
}

fn handle(texas: &LocalTexas, refresh: Duration) -> Maskinporten {
    settings(
        texas
            .maskinporten_local_builder()
            .exposed_scopes(maskinporten_tests::EXPOSED),
        refresh,
    )
    .build()
    .unwrap()
}

/// The status a request with `token` would get: 200, or the rejection's.
async fn status(maskinporten: &Maskinporten, token: &str) -> u16 {
    match maskinporten.validate(token).await {
        Ok(_) => 200,
        Err(error) => error.status().as_u16(),
    }
}

/// A token naming a `kid` nobody published, otherwise well formed, with a
/// signature nobody made (no key is ever found to check it with).
fn made_up(texas: &LocalTexas, kid: &str) -> String {
    let now = maskinporten_tests::now();
    let header = b64_json(&json!({"alg": "RS256", "kid": kid, "typ": "JWT"}));
    let payload = b64_json(&json!({
        "iss": texas.issuer(), "exp": now + 600, "iat": now, "scope": READ,
    }));
    format!("{header}.{payload}.{}", "A".repeat(342))
}

/// Waits until a fetch in flight (a refresh) has ended and its keys are
/// installed: a made-up kid waits for the fetch in flight, and asks for
/// none of its own inside the window the fetch opened.
async fn after_the_fetch_in_flight(maskinporten: &Maskinporten, texas: &LocalTexas) {
    assert_eq!(status(maskinporten, &made_up(texas, "settle")).await, 401);
}

#[tokio::test(start_paused = true)]
async fn down_at_start_answers_503_then_200_once_it_is_up() {
    let _turn = crate::TURN.lock().await;
    let clock = FrozenClock::hold();
    // Nothing listens on the port yet.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let maskinporten = settings(
        Maskinporten::builder()
            .exposed_scopes(maskinporten_tests::EXPOSED)
            .issuer(DEFAULT_ISSUER)
            .local_validation(format!("http://127.0.0.1:{port}/jwks")),
        NEVER,
    )
    .build()
    .unwrap();
    let token = maskinporten_actix::testing::TokenBuilder::new(DEFAULT_ISSUER)
        .scope(READ)
        .sign();
    assert_eq!(status(&maskinporten, &token).await, 503);

    let texas = LocalTexas::builder().port(port).start().unwrap();
    // Up now, but inside the window of the failed attempt: not asked.
    assert_eq!(status(&maskinporten, &token).await, 503);
    assert_eq!(texas.jwks_fetches(), 0);
    clock.advance(WINDOW).await;
    assert_eq!(status(&maskinporten, &token).await, 200);
    assert_eq!(status(&maskinporten, &token).await, 200);
    assert_eq!(texas.jwks_fetches(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_error_status_at_start_is_503_and_retried_once_per_window() {
    let _turn = crate::TURN.lock().await;
    let clock = FrozenClock::hold();
    let texas = LocalTexas::start();
    texas.set_jwks_fault(JwksFault::Status(503));
    let maskinporten = handle(&texas, NEVER);
    let token = read_token(&texas);
    for _ in 0..5 {
        assert_eq!(status(&maskinporten, &token).await, 503);
    }
    assert_eq!(
        texas.jwks_fetches(),
        1,
        "one attempt per window, not per request"
    );

    texas.set_jwks_fault(JwksFault::None);
    clock.advance(WINDOW - Duration::from_millis(1)).await;
    assert_eq!(status(&maskinporten, &token).await, 503, "still the window");
    assert_eq!(texas.jwks_fetches(), 1);
    clock.advance(Duration::from_millis(1)).await;
    for _ in 0..5 {
        assert_eq!(status(&maskinporten, &token).await, 200);
    }
    assert_eq!(texas.jwks_fetches(), 2);
    assert_eq!(texas.introspections(), 0);
}

#[tokio::test(start_paused = true)]
async fn down_later_keeps_serving_with_the_keys_held() {
    let _turn = crate::TURN.lock().await;
    let clock = FrozenClock::hold();
    let texas = LocalTexas::start();
    let maskinporten = handle(&texas, REFRESH);
    assert_eq!(status(&maskinporten, &read_token(&texas)).await, 200);
    assert_eq!(texas.jwks_fetches(), 1);

    texas.set_jwks_fault(JwksFault::Status(500));
    // Two failed background refreshes.
    for fetches in [2, 3] {
        clock.advance(REFRESH).await;
        until(|| texas.jwks_fetches() == fetches).await;
        after_the_fetch_in_flight(&maskinporten, &texas).await;
    }
    assert_eq!(texas.jwks_fetches(), 3);
    for _ in 0..3 {
        let fresh = read_token(&texas);
        assert_eq!(status(&maskinporten, &fresh).await, 200);
    }
    // A kid the key set held does not hold, while the JWKS cannot be
    // fetched: the key set held decides, 401, never 503 nor 200; the
    // refetch it asks for fails.
    clock.advance(WINDOW).await;
    let unknown = texas.token().scope(READ).signed_by_other_key().sign();
    assert_eq!(status(&maskinporten, &unknown).await, 401);
    assert_eq!(texas.jwks_fetches(), 4);

    // Each fault in turn: the keys held keep serving.
    for fault in [
        JwksFault::Garbage,
        JwksFault::EmptyKeySet,
        JwksFault::Oversized,
    ] {
        texas.set_jwks_fault(fault.clone());
        let seen = texas.jwks_fetches();
        clock.advance(REFRESH).await;
        until(|| texas.jwks_fetches() == seen + 1).await;
        after_the_fetch_in_flight(&maskinporten, &texas).await;
        let fresh = read_token(&texas);
        assert_eq!(status(&maskinporten, &fresh).await, 200, "{fault:?}");
        assert_eq!(texas.jwks_fetches(), seen + 1, "{fault:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn slow_is_503_at_the_timeout_never_before() {
    let _turn = crate::TURN.lock().await;
    let clock = FrozenClock::hold();
    let texas = LocalTexas::start();
    // Slower than any test: only the timeout ends the fetch.
    texas.set_jwks_fault(JwksFault::Delay(NEVER));
    let maskinporten = handle(&texas, NEVER);
    let token = read_token(&texas);
    let asked = tokio::time::Instant::now();
    let answer = tokio::spawn({
        let (maskinporten, token) = (maskinporten.clone(), token.clone());
        async move { status(&maskinporten, &token).await }
    });
    until(|| texas.jwks_fetches() == 1).await;
    clock.advance(TIMEOUT - Duration::from_millis(1)).await;
    assert!(!answer.is_finished(), "answered before the timeout");
    clock.advance(Duration::from_millis(1)).await;
    assert_eq!(answer.await.unwrap(), 503);
    assert_eq!(asked.elapsed(), TIMEOUT);

    texas.set_jwks_fault(JwksFault::Delay(Duration::from_millis(50)));
    clock.advance(WINDOW).await;
    assert_eq!(status(&maskinporten, &token).await, 200);
    assert_eq!(texas.jwks_fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn garbage_empty_or_oversized_at_start_is_503() {
    let _turn = crate::TURN.lock().await;
    let _clock = FrozenClock::hold();
    for fault in [
        JwksFault::Garbage,
        JwksFault::EmptyKeySet,
        JwksFault::Oversized,
        JwksFault::Status(404),
    ] {
        let texas = LocalTexas::start();
        texas.set_jwks_fault(fault.clone());
        let maskinporten = handle(&texas, NEVER);
        let token = read_token(&texas);
        for _ in 0..3 {
            assert_eq!(status(&maskinporten, &token).await, 503, "{fault:?}");
        }
        assert_eq!(texas.jwks_fetches(), 1, "{fault:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_removed_key_is_refused_after_the_refresh() {
    let _turn = crate::TURN.lock().await;
    let clock = FrozenClock::hold();
    let texas = LocalTexas::start();
    texas.set_jwks_keys(&[DEFAULT_KID, OTHER_KID]);
    let maskinporten = handle(&texas, REFRESH);
    let old = texas.token().scope(READ).signed_by_other_key().sign();
    assert_eq!(status(&maskinporten, &old).await, 200);

    texas.set_jwks_keys(&[DEFAULT_KID]);
    clock.advance(REFRESH - Duration::from_millis(1)).await;
    assert_eq!(status(&maskinporten, &old).await, 200, "before the refresh");
    clock.advance(Duration::from_millis(1)).await;
    // The refresh, and nothing else, fetches the key set without the key.
    until(|| texas.jwks_fetches() == 2).await;
    after_the_fetch_in_flight(&maskinporten, &texas).await;
    assert_eq!(status(&maskinporten, &old).await, 401);
    assert_eq!(status(&maskinporten, &read_token(&texas)).await, 200);
    assert_eq!(texas.jwks_fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_added_key_is_accepted_after_exactly_one_refetch() {
    let _turn = crate::TURN.lock().await;
    let clock = FrozenClock::hold();
    let texas = LocalTexas::start();
    let maskinporten = handle(&texas, NEVER);
    assert_eq!(status(&maskinporten, &read_token(&texas)).await, 200);
    assert_eq!(texas.jwks_fetches(), 1);

    let new = texas.token().scope(READ).signed_by_other_key().sign();
    // Inside the window of the first fetch: refused without a refetch.
    assert_eq!(status(&maskinporten, &new).await, 401);
    assert_eq!(texas.jwks_fetches(), 1);
    clock.advance(WINDOW).await;
    // Not published yet: the refetch finds no such kid, 401.
    assert_eq!(status(&maskinporten, &new).await, 401);
    assert_eq!(texas.jwks_fetches(), 2);

    texas.set_jwks_keys(&[DEFAULT_KID, OTHER_KID]);
    clock.advance(WINDOW).await;
    assert_eq!(status(&maskinporten, &new).await, 200);
    assert_eq!(texas.jwks_fetches(), 3);
    for _ in 0..5 {
        let token = texas.token().scope(READ).signed_by_other_key().sign();
        assert_eq!(status(&maskinporten, &token).await, 200);
    }
    assert_eq!(texas.jwks_fetches(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_thousand_made_up_kids_fetch_once_per_window() {
    let _turn = crate::TURN.lock().await;
    let clock = FrozenClock::hold();
    let texas = LocalTexas::start();
    let maskinporten = handle(&texas, NEVER);
    assert_eq!(status(&maskinporten, &read_token(&texas)).await, 200);
    for window in 1..=3 {
        clock.advance(WINDOW).await;
        texas.reset_jwks_fetches();
        let tokens: Vec<String> = (0..1000)
            .map(|i| made_up(&texas, &format!("made-up-{window}-{i}")))
            .collect();
        for batch in tokens.chunks(100) {
            let statuses =
                futures_util::future::join_all(batch.iter().map(|t| status(&maskinporten, t)))
                    .await;
            assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
        }
        assert_eq!(
            texas.jwks_fetches(),
            1,
            "window {window}: one fetch for 1 000 made-up kids"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn concurrent_unknown_kids_share_one_fetch() {
    let _turn = crate::TURN.lock().await;
    let _clock = FrozenClock::hold();
    let texas = LocalTexas::start();
    texas.set_jwks_fault(JwksFault::Delay(Duration::from_millis(300)));
    let maskinporten = handle(&texas, NEVER);
    let statuses = futures_util::future::join_all((0..50).map(|i| {
        let (maskinporten, token) = (maskinporten.clone(), made_up(&texas, &format!("k{i}")));
        async move { status(&maskinporten, &token).await }
    }))
    .await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(texas.jwks_fetches(), 1);
}
