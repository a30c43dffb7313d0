//! A flood of junk tokens against an introspection endpoint that hangs must
//! not lock out real consumers: tokens the sidecar would refuse anyway are
//! refused without a network call, the rest wait for one of a bounded number
//! of introspections, and a consumer whose token is cached is served
//! throughout without waiting for any of it.

use std::time::{Duration, Instant};

use actix_web::{get, web, HttpResponse, Responder};
use futures_util::{stream, StreamExt};
use maskinporten_actix::{require_scope, testing::TokenBuilder, Maskinporten};
use maskinporten_tests::{b64_json, client, now, Fault, FaultServer, TestApi};
use reqwest::StatusCode;
use serde_json::json;

const READ: &str = "nav:helse/sykepenger/afp.read";
const ISSUER: &str = "https://test.maskinporten.no/";
const TIMEOUT: Duration = Duration::from_millis(1000);
const BOUND: usize = 4;
const JUNK: usize = 1000;

#[get("/afp")]
#[require_scope("nav:helse/sykepenger/afp.read")]
async fn afp() -> impl Responder {
    HttpResponse::Ok().finish()
}

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

#[actix_web::test]
async fn a_flood_of_junk_tokens_does_not_lock_out_a_cached_consumer() {
    let _turn = crate::TURN.lock().await;
    // The endpoint runs on a runtime of its own, so that it notices a
    // connection closing as soon as the guard drops it, however busy the
    // API's thread is.
    let endpoint_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = endpoint_runtime
        .spawn(FaultServer::start(Fault::Answer(200, active_answer())))
        .await
        .unwrap();
    let mp = Maskinporten::builder()
        .introspection_endpoint(server.url())
        .issuer(ISSUER)
        .timeout(TIMEOUT)
        .max_concurrent_introspections(BOUND)
        .build()
        .unwrap();
    let api = TestApi::start(Some(mp.clone()), |cfg: &mut web::ServiceConfig| {
        cfg.service(afp);
    });
    let client = client();

    // The consumer's token is introspected once and cached.
    let consumer = TokenBuilder::new(ISSUER).scope(READ).sign();
    let get = |token: String| {
        let client = client.clone();
        let url = api.url("/afp");
        async move {
            let started = Instant::now();
            let response = client.get(url).bearer_auth(token).send().await.unwrap();
            (response.status(), started.elapsed())
        }
    };
    assert_eq!(get(consumer.clone()).await.0, StatusCode::OK);
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
    // The consumer calls every 10 ms for as long as the flood lasts.
    let consumer_calls = async {
        let mut answers = Vec::new();
        let started = Instant::now();
        while started.elapsed() < TIMEOUT * 3 {
            answers.push(get(consumer.clone()).await);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        answers
    };
    let (flooded, consumer_answers) = futures_util::join!(flood, consumer_calls);

    // No connection to the hanging endpoint outlives its request.
    let settled = Instant::now();
    while server.open_connections() > 0 && settled.elapsed() < TIMEOUT * 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.open_connections(), 0);
    // The cached consumer: served every time, never held up behind the
    // hanging introspections (each of which takes the whole timeout).
    assert!(consumer_answers.len() >= 50, "{}", consumer_answers.len());
    for (status, elapsed) in &consumer_answers {
        assert_eq!(*status, StatusCode::OK);
        assert!(
            *elapsed < TIMEOUT / 2,
            "the cached consumer waited {elapsed:?}"
        );
    }

    // Malformed junk: 401 at once, no introspection. Well-formed junk:
    // 503 (the endpoint hangs), within its timeout.
    let mut malformed = 0;
    for (well_formed, (status, elapsed)) in &flooded {
        if *well_formed {
            assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE);
            assert!(
                *elapsed < TIMEOUT + Duration::from_millis(750),
                "{elapsed:?}"
            );
        } else {
            assert_eq!(*status, StatusCode::UNAUTHORIZED);
            malformed += 1;
        }
    }
    assert_eq!(malformed, JUNK / 2);
    let stats = mp.stats();
    assert_eq!(stats.refused_without_validator, (JUNK / 2) as u64);
    // Only well-formed junk reached the endpoint, never more at once than
    // the bound, and the rest waited for a place and gave up in time.
    assert!(
        server.most_open_connections() <= BOUND as u64,
        "{} connections open at once",
        server.most_open_connections()
    );
    let reached = server.requests() - 1;
    assert_eq!(stats.introspections - 1, reached);
    assert!(reached >= BOUND as u64, "{reached}");
    assert!(reached < (JUNK / 2) as u64, "{reached}");
    assert_eq!(stats.cache_hits as usize, consumer_answers.len());
    drop(server);
    endpoint_runtime.shutdown_background();
}
