//! The introspection cache over real HTTP, counted at the endpoint: hits,
//! misses, expiry at `exp`, single-flight, no caching of failures, and
//! resistance to a flood of distinct tokens.

use std::time::Duration;

use futures_util::future::join_all;
use maskinporten_actix::{testing::LocalTexas, Maskinporten};
use maskinporten_tests::{
    client, handlers::routes, now, read_token, Fault, FaultServer, TestApi, READ,
};
use reqwest::StatusCode;
use serde_json::json;

fn with(
    texas: &LocalTexas,
    configure: impl FnOnce(
        maskinporten_actix::MaskinportenBuilder,
    ) -> maskinporten_actix::MaskinportenBuilder,
) -> Maskinporten {
    configure(
        texas
            .maskinporten_builder()
            .exposed_scopes(maskinporten_tests::EXPOSED),
    )
    .build()
    .unwrap()
}

#[actix_web::test]
async fn a_reused_token_is_introspected_once() {
    let _turn = crate::TURN.lock().await;
    let texas = LocalTexas::start();
    let mp = with(&texas, |b| b);
    let api = TestApi::start(Some(mp.clone()), routes);
    let token = read_token(&texas);
    for _ in 0..5 {
        assert_eq!(api.status("/afp", &token).await, StatusCode::OK);
    }
    assert_eq!(texas.introspections(), 1);
    let other = read_token(&texas);
    assert_eq!(api.status("/afp", &other).await, StatusCode::OK);
    assert_eq!(texas.introspections(), 2);
    let stats = mp.stats();
    assert_eq!(
        (stats.cache_hits, stats.cache_misses, stats.introspections),
        (4, 2, 2)
    );
    assert!(stats.introspection_time > Duration::ZERO);
    mp.settle_cache().await;
    assert_eq!(mp.stats().cached_entries, 2);
}

#[actix_web::test]
async fn without_the_cache_every_request_is_introspected() {
    let _turn = crate::TURN.lock().await;
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(with(&texas, |b| b.disable_cache())), routes);
    let token = read_token(&texas);
    for _ in 0..3 {
        assert_eq!(api.status("/afp", &token).await, StatusCode::OK);
    }
    assert_eq!(texas.introspections(), 3);
}

#[actix_web::test]
async fn no_answer_is_served_past_exp() {
    let _turn = crate::TURN.lock().await;
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(with(&texas, |b| b)), routes);
    // Expires at the next whole second but one: cached until then.
    let exp = now() + 2;
    let token = texas.token().scope(READ).exp(exp).sign();
    assert_eq!(api.status("/afp", &token).await, StatusCode::OK);
    assert_eq!(api.status("/afp", &token).await, StatusCode::OK);
    assert_eq!(texas.introspections(), 1);
    while now() < exp {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Past exp the token goes back to the endpoint, every time (Texas still
    // calls it active inside its 60 s leeway; the cache never does).
    assert_eq!(api.status("/afp", &token).await, StatusCode::OK);
    assert_eq!(api.status("/afp", &token).await, StatusCode::OK);
    assert_eq!(texas.introspections(), 3);
    // Once the endpoint calls it inactive, it is rejected, every time.
    let inactive = texas.token().scope(READ).signed_by_other_key().sign();
    assert_eq!(
        api.status("/afp", &inactive).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api.status("/afp", &inactive).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(texas.introspections(), 5, "inactive answers are not cached");
    // Past exp beyond the leeway it is refused without asking the endpoint.
    let long_expired = texas.token().scope(READ).exp(now() - 120).sign();
    assert_eq!(
        api.status("/afp", &long_expired).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(texas.introspections(), 5);
}

#[actix_web::test]
async fn the_max_ttl_caps_an_entry() {
    let _turn = crate::TURN.lock().await;
    let texas = LocalTexas::start();
    let api = TestApi::start(
        Some(with(&texas, |b| {
            b.cache_max_ttl(Duration::from_millis(500))
        })),
        routes,
    );
    let token = read_token(&texas);
    assert_eq!(api.status("/afp", &token).await, StatusCode::OK);
    assert_eq!(api.status("/afp", &token).await, StatusCode::OK);
    assert_eq!(texas.introspections(), 1);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(api.status("/afp", &token).await, StatusCode::OK);
    assert_eq!(texas.introspections(), 2);
}

#[actix_web::test]
async fn concurrent_first_requests_share_one_introspection() {
    let _turn = crate::TURN.lock().await;
    let texas = LocalTexas::builder()
        .latency(Duration::from_millis(300))
        .start()
        .unwrap();
    let api = TestApi::start(Some(with(&texas, |b| b)), routes);
    let token = read_token(&texas);
    let client = client();
    let responses =
        join_all((0..200).map(|_| client.get(api.url("/afp")).bearer_auth(&token).send())).await;
    for response in responses {
        assert_eq!(response.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(texas.introspections(), 1);
}

#[actix_web::test]
async fn failures_are_shared_by_a_flight_but_never_cached() {
    let _turn = crate::TURN.lock().await;
    // The endpoint holds the one introspection until every caller has
    // missed the cache and joined it, then answers garbage.
    let fault = FaultServer::start(Fault::Held("{not json".into())).await;
    let texas = LocalTexas::start();
    let mp = Maskinporten::builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .introspection_endpoint(fault.url())
        .timeout(Duration::from_secs(3600))
        .build()
        .unwrap();
    let api = TestApi::start(Some(mp.clone()), routes);
    let token = read_token(&texas);
    let client = client();
    let requests =
        join_all((0..20).map(|_| client.get(api.url("/afp")).bearer_auth(&token).send()));
    let release = async {
        crate::until(|| mp.stats().cache_misses == 20).await;
        fault.release();
    };
    let (responses, ()) = futures_util::join!(requests, release);
    for response in responses {
        assert_eq!(response.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    assert_eq!(fault.requests(), 1);

    fault.set(Fault::Answer(500, "{}".into()));
    assert_eq!(
        api.status("/afp", &token).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        api.status("/afp", &token).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(fault.requests(), 3);

    // The endpoint recovers: the next request passes, and is then cached.
    let active = json!({
        "active": true, "iss": texas.issuer(), "exp": now() + 120, "iat": now(),
        "scope": READ, "consumer": {"authority": "iso6523-actorid-upis", "ID": "0192:991825827"},
    });
    fault.set(Fault::Answer(200, active.to_string()));
    assert_eq!(api.status("/afp", &token).await, StatusCode::OK);
    assert_eq!(api.status("/afp", &token).await, StatusCode::OK);
    assert_eq!(fault.requests(), 4);
    assert_eq!(mp.stats().validator_failures, 3);
}

#[actix_web::test]
async fn a_flood_of_distinct_tokens_does_not_evict_hot_entries() {
    let _turn = crate::TURN.lock().await;
    let texas = LocalTexas::start();
    let mp = with(&texas, |b| {
        b.cache_capacity(100).max_concurrent_introspections(64)
    });
    let api = TestApi::start(Some(mp.clone()), routes);
    let client = client();
    let hot: Vec<String> = (0..50).map(|_| read_token(&texas)).collect();
    let hot_round = || async {
        for token in &hot {
            assert_eq!(api.status("/afp", token).await, StatusCode::OK);
        }
    };
    for _ in 0..4 {
        hot_round().await;
    }
    assert_eq!(texas.introspections(), 50);
    // 1 000 one-off tokens, ten times the capacity, while the 50 regular
    // consumers go on calling.
    let flood: Vec<String> = (0..1000).map(|_| read_token(&texas)).collect();
    for chunk in flood.chunks(50) {
        join_all(
            chunk
                .iter()
                .map(|t| client.get(api.url("/afp")).bearer_auth(t).send()),
        )
        .await;
        hot_round().await;
    }
    mp.settle_cache().await;
    assert!(mp.stats().cached_entries <= 100);
    let hot_misses = texas.introspections() - 50 - 1000;
    // 1 000 requests with hot tokens went on during the flood.
    assert!(
        hot_misses <= 50,
        "{hot_misses} of 1000 hot requests missed the cache during the flood"
    );
    eprintln!("hot requests that missed the cache during the flood: {hot_misses} of 1000");
}

/// A cached token inside a malformed header is still a malformed header: the
/// cache is consulted before the character checks, and must not change any
/// answer.
#[actix_web::test]
async fn a_cached_token_in_a_malformed_header_is_still_refused() {
    let _turn = crate::TURN.lock().await;
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), routes);
    let token = read_token(&texas);
    assert_eq!(api.status("/afp", &token).await, StatusCode::OK);
    let cases: [(&[u8], &[u8], u16); 12] = [
        (b"Bearer ", b"", 200),
        (b"bearer   ", b"   ", 200),
        (b"BEARER ", b"", 200),
        (b"Bearer\t", b"", 400),
        // A trailing tab is optional whitespace around the field value, which
        // the HTTP parser strips: the guard sees `Bearer <token>`.
        (b"Bearer ", b"\t", 200),
        (b"Bearer ", b" x", 400),
        (b"Bearer ", b",", 401),
        (b"Bearer ", b"=x", 401),
        (b"Bearer ", b"\xff", 400),
        (b"Basic ", b"", 401),
        (b"Bearer x ", b"", 400),
        (b"Bearer", b"", 401),
    ];
    for (before, after, expected) in cases {
        let header = [
            b"Authorization: ".as_slice(),
            before,
            token.as_bytes(),
            after,
        ]
        .concat();
        let response = api.raw_get("/afp", &[header]).await;
        assert_eq!(
            response.status,
            expected,
            "{:?} <token> {:?}",
            String::from_utf8_lossy(before),
            String::from_utf8_lossy(after)
        );
    }
    let twice = format!("Authorization: Bearer {token}").into_bytes();
    let response = api.raw_get("/afp", &[twice.clone(), twice]).await;
    assert_eq!(response.status, 400);
    assert_eq!(texas.introspections(), 1);
}

/// Answers may carry up to 64 KiB of extra claims each: the cache is bounded
/// by what its entries weigh, not only by how many there are.
#[actix_web::test]
async fn heavy_answers_are_bounded_by_bytes() {
    let _turn = crate::TURN.lock().await;
    const MAX_BYTES: u64 = 1024 * 1024;
    let texas = LocalTexas::start();
    let heavy = json!({
        "active": true, "iss": texas.issuer(), "exp": now() + 600, "iat": now(),
        "scope": READ, "padding": "x".repeat(60 * 1024),
    });
    let fault = FaultServer::start(Fault::Answer(200, heavy.to_string())).await;
    let mp = Maskinporten::builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .introspection_endpoint(fault.url())
        .cache_capacity(10_000)
        .cache_max_bytes(MAX_BYTES)
        .build()
        .unwrap();
    let api = TestApi::start(Some(mp.clone()), routes);
    for _ in 0..3 {
        let tokens: Vec<String> = (0..20).map(|_| read_token(&texas)).collect();
        for token in &tokens {
            assert_eq!(api.status("/afp", token).await, StatusCode::OK);
        }
    }
    mp.settle_cache().await;
    let stats = mp.stats();
    // Count alone would have kept all 60 (3.6 MiB); bytes keep at most 16.
    assert!(stats.cached_bytes <= MAX_BYTES, "{stats:?}");
    assert!(stats.cached_bytes >= 60 * 1024, "{stats:?}");
    assert!(stats.cached_entries <= MAX_BYTES / (60 * 1024), "{stats:?}");

    // A usual answer weighs a few hundred bytes: the documented figure
    // (with a floor of bytes / entries below it, 33 bytes here).
    let light = LocalTexas::start();
    let mp = light
        .maskinporten_builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .cache_capacity(1_000_000)
        .build()
        .unwrap();
    mp.validate(&light.token().scope(READ).sign())
        .await
        .unwrap();
    mp.settle_cache().await;
    let weight = mp.stats().cached_bytes;
    assert!(
        (300..=1000).contains(&weight),
        "a usual entry weighs {weight} bytes"
    );
    eprintln!("a usual entry weighs {weight} bytes");
}
