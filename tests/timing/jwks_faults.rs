//! Local validation when Maskinporten's JWKS misbehaves, over real HTTP on
//! loopback: down at start, down later, slow, garbage, keys removed and
//! added, and a flood of made-up kids. Every test counts the JWKS fetches.
//!
//! Waits are generous bounds on background work, never exact timings.

use std::{
    net::TcpListener,
    time::{Duration, Instant},
};

use actix_web::{get, web, HttpResponse, Responder};
use maskinporten_actix::{
    require_scope,
    testing::{JwksFault, LocalTexas, DEFAULT_KID, OTHER_KID},
    Maskinporten, MaskinportenClaims,
};
use maskinporten_tests::{client, TestApi};
use reqwest::{header::WWW_AUTHENTICATE, StatusCode};

const READ: &str = "nav:helse/sykepenger/afp.read";
/// The least time between two fetches asked for by unknown kids, here.
const WINDOW: Duration = Duration::from_millis(300);
/// Long enough that no background refresh happens during a test.
const NEVER: Duration = Duration::from_secs(3600);

#[get("/afp")]
#[require_scope("nav:helse/sykepenger/afp.read")]
async fn read_afp(_claims: MaskinportenClaims) -> impl Responder {
    HttpResponse::Ok().finish()
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(read_afp);
}

/// A local-validation handle without a claims cache, so every request is
/// verified against the keys held now.
fn handle(texas: &LocalTexas, refresh: Duration) -> Maskinporten {
    texas
        .maskinporten_local_builder()
        .disable_cache()
        .jwks_min_refetch_interval(WINDOW)
        .jwks_refresh_interval(refresh)
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

async fn status(api: &TestApi, token: &str) -> StatusCode {
    let response = client()
        .get(api.url("/afp"))
        .bearer_auth(token)
        .send()
        .await
        .expect("the API answers");
    let status = response.status();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        // Not the caller's fault: no challenge.
        assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
    }
    status
}

/// Waits, at most 10 s, until `/jwks` has been asked `n` times.
async fn until_fetches(texas: &LocalTexas, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while texas.jwks_fetches() < n {
        assert!(
            Instant::now() < deadline,
            "fetches stayed at {}",
            texas.jwks_fetches()
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn down_at_start_answers_503_then_200_once_it_is_up() {
    let _turn = crate::TURN.lock().await;
    // Nothing listens on the port yet.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let maskinporten = Maskinporten::builder()
        .issuer(maskinporten_actix::testing::DEFAULT_ISSUER)
        .local_validation(format!("http://127.0.0.1:{port}/jwks"))
        .disable_cache()
        .jwks_min_refetch_interval(WINDOW)
        .build()
        .unwrap();
    let api = TestApi::start(Some(maskinporten), routes);
    let token =
        maskinporten_actix::testing::TokenBuilder::new(maskinporten_actix::testing::DEFAULT_ISSUER)
            .scope(READ)
            .sign();
    assert_eq!(status(&api, &token).await, StatusCode::SERVICE_UNAVAILABLE);

    let texas = LocalTexas::builder().port(port).start().unwrap();
    actix_web::rt::time::sleep(WINDOW + Duration::from_millis(100)).await;
    assert_eq!(status(&api, &token).await, StatusCode::OK);
    assert_eq!(status(&api, &token).await, StatusCode::OK);
    assert_eq!(texas.jwks_fetches(), 1);
}

#[actix_web::test]
async fn an_error_status_at_start_is_503_and_retried_once_per_window() {
    let _turn = crate::TURN.lock().await;
    let texas = LocalTexas::start();
    texas.set_jwks_fault(JwksFault::Status(503));
    let api = TestApi::start(Some(handle(&texas, NEVER)), routes);
    let token = texas.token().scope(READ).sign();
    for _ in 0..5 {
        assert_eq!(status(&api, &token).await, StatusCode::SERVICE_UNAVAILABLE);
    }
    assert_eq!(
        texas.jwks_fetches(),
        1,
        "one attempt per window, not per request"
    );

    texas.set_jwks_fault(JwksFault::None);
    actix_web::rt::time::sleep(WINDOW + Duration::from_millis(100)).await;
    for _ in 0..5 {
        assert_eq!(status(&api, &token).await, StatusCode::OK);
    }
    assert_eq!(texas.jwks_fetches(), 2);
    assert_eq!(texas.introspections(), 0);
}

#[actix_web::test]
async fn down_later_keeps_serving_with_the_keys_held() {
    let _turn = crate::TURN.lock().await;
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(handle(&texas, Duration::from_millis(200))), routes);
    assert_eq!(
        status(&api, &texas.token().scope(READ).sign()).await,
        StatusCode::OK
    );
    assert_eq!(texas.jwks_fetches(), 1);

    texas.set_jwks_fault(JwksFault::Status(500));
    // Two failed background refreshes.
    until_fetches(&texas, 3).await;
    for _ in 0..3 {
        let fresh = texas.token().scope(READ).sign();
        assert_eq!(status(&api, &fresh).await, StatusCode::OK);
    }
    // A kid the key set held does not hold, while the JWKS cannot be
    // fetched: the key set held decides, 401, never 503 nor 200.
    actix_web::rt::time::sleep(WINDOW).await;
    let unknown = texas.token().scope(READ).signed_by_other_key().sign();
    assert_eq!(status(&api, &unknown).await, StatusCode::UNAUTHORIZED);

    // Each fault in turn: the keys held keep serving.
    for fault in [
        JwksFault::Garbage,
        JwksFault::EmptyKeySet,
        JwksFault::Oversized,
    ] {
        texas.set_jwks_fault(fault.clone());
        let seen = texas.jwks_fetches();
        until_fetches(&texas, seen + 2).await;
        let fresh = texas.token().scope(READ).sign();
        assert_eq!(status(&api, &fresh).await, StatusCode::OK, "{fault:?}");
    }
}

#[actix_web::test]
async fn slow_is_bounded_by_the_timeout() {
    let _turn = crate::TURN.lock().await;
    let texas = LocalTexas::start();
    texas.set_jwks_fault(JwksFault::Delay(Duration::from_secs(3)));
    let api = TestApi::start(Some(handle(&texas, NEVER)), routes);
    let token = texas.token().scope(READ).sign();
    let started = Instant::now();
    assert_eq!(status(&api, &token).await, StatusCode::SERVICE_UNAVAILABLE);
    // The timeout is 500 ms; the JWKS takes 3 s.
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(texas.jwks_fetches(), 1);

    texas.set_jwks_fault(JwksFault::Delay(Duration::from_millis(50)));
    actix_web::rt::time::sleep(WINDOW + Duration::from_millis(100)).await;
    assert_eq!(status(&api, &token).await, StatusCode::OK);
    assert_eq!(texas.jwks_fetches(), 2);
}

#[actix_web::test]
async fn garbage_empty_or_oversized_at_start_is_503() {
    let _turn = crate::TURN.lock().await;
    for fault in [
        JwksFault::Garbage,
        JwksFault::EmptyKeySet,
        JwksFault::Oversized,
        JwksFault::Status(404),
    ] {
        let texas = LocalTexas::start();
        texas.set_jwks_fault(fault.clone());
        let api = TestApi::start(Some(handle(&texas, NEVER)), routes);
        let token = texas.token().scope(READ).sign();
        for _ in 0..3 {
            assert_eq!(
                status(&api, &token).await,
                StatusCode::SERVICE_UNAVAILABLE,
                "{fault:?}"
            );
        }
        assert_eq!(texas.jwks_fetches(), 1, "{fault:?}");
    }
}

#[actix_web::test]
async fn a_removed_key_is_refused_after_the_refresh() {
    let _turn = crate::TURN.lock().await;
    let texas = LocalTexas::start();
    texas.set_jwks_keys(&[DEFAULT_KID, OTHER_KID]);
    let api = TestApi::start(Some(handle(&texas, Duration::from_millis(200))), routes);
    let old = texas.token().scope(READ).signed_by_other_key().sign();
    assert_eq!(status(&api, &old).await, StatusCode::OK);

    texas.set_jwks_keys(&[DEFAULT_KID]);
    let seen = texas.jwks_fetches();
    // One refresh after the removal has surely completed once the next one
    // has started.
    until_fetches(&texas, seen + 2).await;
    assert_eq!(status(&api, &old).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        status(&api, &texas.token().scope(READ).sign()).await,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn an_added_key_is_accepted_after_exactly_one_refetch() {
    let _turn = crate::TURN.lock().await;
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(handle(&texas, NEVER)), routes);
    assert_eq!(
        status(&api, &texas.token().scope(READ).sign()).await,
        StatusCode::OK
    );
    assert_eq!(texas.jwks_fetches(), 1);

    let new = texas.token().scope(READ).signed_by_other_key().sign();
    actix_web::rt::time::sleep(WINDOW + Duration::from_millis(100)).await;
    // Not published yet: the refetch finds no such kid, 401.
    assert_eq!(status(&api, &new).await, StatusCode::UNAUTHORIZED);
    assert_eq!(texas.jwks_fetches(), 2);

    texas.set_jwks_keys(&[DEFAULT_KID, OTHER_KID]);
    actix_web::rt::time::sleep(WINDOW + Duration::from_millis(100)).await;
    assert_eq!(status(&api, &new).await, StatusCode::OK);
    assert_eq!(texas.jwks_fetches(), 3);
    for _ in 0..5 {
        let token = texas.token().scope(READ).signed_by_other_key().sign();
        assert_eq!(status(&api, &token).await, StatusCode::OK);
    }
    assert_eq!(texas.jwks_fetches(), 3);
}

#[actix_web::test]
async fn a_thousand_made_up_kids_fetch_at_most_once_per_window() {
    let _turn = crate::TURN.lock().await;
    let texas = LocalTexas::start();
    let window = Duration::from_secs(1);
    let maskinporten = texas
        .maskinporten_local_builder()
        .disable_cache()
        .jwks_min_refetch_interval(window)
        .jwks_refresh_interval(NEVER)
        .build()
        .unwrap();
    let api = TestApi::start(Some(maskinporten), routes);
    assert_eq!(
        status(&api, &texas.token().scope(READ).sign()).await,
        StatusCode::OK
    );
    actix_web::rt::time::sleep(window + Duration::from_millis(100)).await;
    texas.reset_jwks_fetches();

    let tokens: Vec<String> = (0..1000)
        .map(|i| {
            texas
                .token()
                .scope(READ)
                .kid(&format!("made-up-{i}"))
                .sign()
        })
        .collect();
    let started = Instant::now();
    let http = client();
    let mut statuses = Vec::with_capacity(tokens.len());
    for batch in tokens.chunks(100) {
        let requests = batch.iter().map(|token| {
            let http = http.clone();
            let url = api.url("/afp");
            async move {
                http.get(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("the API answers")
                    .status()
            }
        });
        statuses.extend(futures_util::future::join_all(requests).await);
    }
    let elapsed = started.elapsed();
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED));
    let fetches = texas.jwks_fetches();
    let windows = elapsed.as_secs_f64() / window.as_secs_f64();
    assert!(fetches >= 1, "the first made-up kid may refetch");
    assert!(
        fetches as f64 <= windows.ceil() + 1.0,
        "{fetches} fetches in {elapsed:?}"
    );
}

#[actix_web::test]
async fn concurrent_unknown_kids_share_one_fetch() {
    let _turn = crate::TURN.lock().await;
    let texas = LocalTexas::start();
    texas.set_jwks_fault(JwksFault::Delay(Duration::from_millis(300)));
    let maskinporten = texas
        .maskinporten_local_builder()
        .disable_cache()
        .jwks_refresh_interval(NEVER)
        .build()
        .unwrap();
    let results = futures_util::future::join_all((0..50).map(|i| {
        let maskinporten = maskinporten.clone();
        let token = texas.token().scope(READ).kid(&format!("k{i}")).sign();
        async move { maskinporten.validate(&token).await }
    }))
    .await;
    assert!(results
        .iter()
        .all(|r| r.as_ref().is_err_and(|e| e.status().as_u16() == 401)));
    assert_eq!(texas.jwks_fetches(), 1);
}
