//! A flood of junk tokens against an introspection endpoint that hangs must
//! not lock out real consumers: tokens the sidecar would refuse anyway are
//! refused without a network call, the rest wait for one of a bounded number
//! of introspections (no longer than the timeout), and a consumer whose
//! token is cached is served throughout without waiting for any of it.
//!
//! Nothing here is timed on the wall clock: the bound is counted at the
//! endpoint (connections open at once), "without waiting" is a consumer
//! served while every place stays taken, and the timeout is measured on
//! tokio's paused clock.

use std::time::Duration;

use actix_web::web;
use futures_util::{stream, StreamExt};
use maskinporten_actix::{testing::TokenBuilder, Maskinporten};
use maskinporten_tests::{
    b64_json, client, handlers::read_afp, now, Fault, FaultServer, TestApi, READ,
};
use reqwest::StatusCode;
use serde_json::json;

use crate::{until, FrozenClock};

const ISSUER: &str = "https://test.maskinporten.no/";
const BOUND: usize = 4;
const JUNK: usize = 1000;

/// A token the sidecar would have to check the signature of: a compact
/// JWS, RS256 with a kid, unexpired, from the issuer, with a signature
/// nobody made.
fn well_formed_junk(i: usize) -> String {
    let header = b64_json(&json!({"alg": "RS256", "kid": "local-texas-1", "typ": "JWT"}));
    let payload = b64_json(&json!({"iss": ISSUER, "exp": now() + 600, "iat": now(), "jti": i}));
    format!("{header}.{payload}.{}", "A".repeat(342))
}

/// A token the sidecar would refuse without looking at a key, each of a
/// kind chosen by `i`.
fn malformed_junk(i: usize) -> String {
    let claims = json!({"iss": ISSUER, "exp": now() + 600, "iat": now(), "jti": i});
    let rs256 = b64_json(&json!({"alg": "RS256", "kid": "local-texas-1"}));
    let sig = "A".repeat(342);
    match i % 8 {
        0 => format!("junk{i}"),
        1 => format!("{rs256}.{}", b64_json(&claims)),
        2 => format!(
            "{}.{}.{sig}",
            b64_json(&json!({"alg": "none", "kid": "k"})),
            b64_json(&claims)
        ),
        3 => format!(
            "{}.{}.{sig}",
            b64_json(&json!({"alg": "RS256"})),
            b64_json(&claims)
        ),
        4 => format!(
            "{}.{}.{sig}",
            b64_json(&json!({"alg": "HS256", "kid": "k"})),
            b64_json(&claims)
        ),
        5 => {
            let expired =
                json!({"iss": ISSUER, "exp": now() - 3600, "iat": now() - 4000, "jti": i});
            format!("{rs256}.{}.{sig}", b64_json(&expired))
        }
        6 => {
            let other = json!({"iss": "https://maskinporten.no/", "exp": now() + 600, "jti": i});
            format!("{rs256}.{}.{sig}", b64_json(&other))
        }
        _ => format!("{rs256}.bm90IGpzb24{i}.{sig}"),
    }
}

/// The answer a sidecar gives for the consumer's token.
fn active_answer() -> String {
    json!({
        "active": true,
        "iss": ISSUER,
        "client_id": "c0ffee",
        "consumer": {"authority": "iso6523-actorid-upis", "ID": "0192:991825827"},
        "scope": READ,
        "exp": now() + 600,
        "iat": now(),
        "jti": "consumer",
    })
    .to_string()
}

/// A runtime of its own for the endpoint, so that it notices a connection
/// closing as soon as the guard drops it, however busy the API's thread is.
fn endpoint_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// Waits until `BOUND` junk introspections hang at the endpoint, beside
/// the consumer's first one: every place in flight is taken.
async fn every_place_taken(server: &FaultServer) {
    while (server.open_connections(), server.requests()) != (BOUND as u64, 1 + BOUND as u64) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_web::test]
async fn a_flood_of_junk_tokens_does_not_lock_out_a_cached_consumer() {
    let _turn = crate::TURN.lock().await;
    let endpoint_runtime = endpoint_runtime();
    let server = endpoint_runtime
        .spawn(FaultServer::start(Fault::Answer(200, active_answer())))
        .await
        .unwrap();
    // No introspection gives up during the flood: the junk holds its
    // places until the endpoint goes away.
    let mp = Maskinporten::builder()
        .introspection_endpoint(server.url())
        .issuer(ISSUER)
        .exposed_scopes([READ])
        .timeout(Duration::from_secs(3600))
        .max_concurrent_introspections(BOUND)
        .build()
        .unwrap();
    let api = TestApi::start(Some(mp.clone()), |cfg: &mut web::ServiceConfig| {
        cfg.service(read_afp);
    });
    let client = client();

    // The consumer's token is introspected once and cached.
    let consumer = TokenBuilder::new(ISSUER).scope(READ).sign();
    let get = |token: String| {
        let client = client.clone();
        let url = api.url("/afp");
        async move {
            let response = client.get(url).bearer_auth(token).send().await.unwrap();
            response.status()
        }
    };
    assert_eq!(get(consumer.clone()).await, StatusCode::OK);
    assert_eq!(server.requests(), 1);

    // From now on the endpoint hangs on every request.
    server.set(Fault::Hang);
    let junk: Vec<(bool, String)> = (0..JUNK)
        .map(|i| {
            if i % 2 == 0 {
                (true, well_formed_junk(i))
            } else {
                (false, malformed_junk(i))
            }
        })
        .collect();
    let flood = stream::iter(junk.clone())
        .map(|(well_formed, token)| async move { (well_formed, get(token).await) })
        .buffer_unordered(200)
        .collect::<Vec<_>>();
    let consumer_calls = async {
        every_place_taken(&server).await;
        let mut answers = Vec::new();
        for _ in 0..20 {
            answers.push(get(consumer.clone()).await);
        }
        // Every place stayed taken by hanging junk, and no other junk
        // reached the endpoint: the consumer was served without waiting
        // for any of it.
        let taken = (server.open_connections(), server.requests());
        // Then the endpoint goes away, closing the hanging connections:
        // the junk gets its answers.
        endpoint_runtime.shutdown_background();
        (answers, taken)
    };
    let (flooded, (consumer_answers, taken)) = futures_util::join!(flood, consumer_calls);

    assert_eq!(taken, (BOUND as u64, 1 + BOUND as u64));
    assert!(consumer_answers.iter().all(|s| *s == StatusCode::OK));
    // Malformed junk: 401, no introspection. Well-formed junk: 503 (the
    // endpoint hung, then went away).
    let mut malformed = 0;
    for (well_formed, status) in &flooded {
        if *well_formed {
            assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE);
        } else {
            assert_eq!(*status, StatusCode::UNAUTHORIZED);
            malformed += 1;
        }
    }
    assert_eq!(malformed, JUNK / 2);
    let stats = mp.stats();
    assert_eq!(stats.refused_without_validator, (JUNK / 2) as u64);
    // Only well-formed junk reached the endpoint, never more at once than
    // the bound.
    assert_eq!(server.most_open_connections(), BOUND as u64);
    assert_eq!(server.requests(), 1 + BOUND as u64);
    assert_eq!(stats.cache_hits as usize, consumer_answers.len());
    drop(server);
}

/// The same on tokio's paused clock, with the handle on the test's own
/// runtime: junk that waits for a place gives up at its timeout, the junk
/// in flight at its timeout too, not one of them sooner, and the cached
/// consumer is served while the clock stands still.
#[tokio::test(start_paused = true)]
async fn junk_waits_for_a_place_no_longer_than_the_timeout() {
    const TIMEOUT: Duration = Duration::from_secs(1);
    let _turn = crate::TURN.lock().await;
    let clock = FrozenClock::hold();
    let endpoint_runtime = endpoint_runtime();
    let server = endpoint_runtime
        .spawn(FaultServer::start(Fault::Answer(200, active_answer())))
        .await
        .unwrap();
    let mp = Maskinporten::builder()
        .introspection_endpoint(server.url())
        .issuer(ISSUER)
        .exposed_scopes([READ])
        .timeout(TIMEOUT)
        .max_concurrent_introspections(BOUND)
        .build()
        .unwrap();
    let consumer = TokenBuilder::new(ISSUER).scope(READ).sign();
    mp.validate(&consumer).await.unwrap();
    server.set(Fault::Hang);

    let junk: Vec<_> = (0..5 * BOUND)
        .map(|i| {
            let (mp, token) = (mp.clone(), well_formed_junk(2 * i));
            tokio::spawn(async move {
                let asked = tokio::time::Instant::now();
                let status = mp.validate(&token).await.unwrap_err().status();
                (status, asked.elapsed())
            })
        })
        .collect();
    until(|| (server.open_connections(), server.requests()) == (BOUND as u64, 1 + BOUND as u64))
        .await;
    // On a clock that stands still, it cannot have waited for a timeout.
    let claims = mp.validate(&consumer).await.unwrap();
    assert!(claims.has_scope(READ));
    assert_eq!(mp.stats().cache_hits, 1);

    clock.advance(TIMEOUT - Duration::from_millis(1)).await;
    assert!(
        junk.iter().all(|task| !task.is_finished()),
        "503 before the timeout"
    );
    // The timeout, and the moment the abandoned connections take to close.
    clock.advance(Duration::from_millis(1)).await;
    clock.advance(TIMEOUT / 10).await;
    for task in junk {
        let (status, waited) = task.await.unwrap();
        assert_eq!(status.as_u16(), 503);
        assert!(waited >= TIMEOUT, "{waited:?}");
        assert!(waited <= TIMEOUT + TIMEOUT / 10, "{waited:?}");
    }
    // The junk that waited gave up at its deadline rather than take a place
    // freed after it.
    assert_eq!(server.requests(), 1 + BOUND as u64);
    assert_eq!(server.most_open_connections(), BOUND as u64);
    // No connection to the hanging endpoint outlives its request.
    until(|| server.open_connections() == 0).await;
    drop(server);
    endpoint_runtime.shutdown_background();
}
