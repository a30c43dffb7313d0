//! Forged tokens on NAIS, tried as someone without credentials would: the
//! right `iss`, a future `exp`, RS256, any `kid` and a signature nobody
//! made, 500 a second, half of them with random `kid`s, against a sidecar
//! stand-in that serialises its work and takes 20 ms a token (a real sidecar
//! fetches the JWKS over the internet for every unknown `kid`). With the
//! JWKS known, the introspection strategy checks signatures before it asks
//! the sidecar: the forged tokens are refused with 401 (not 503) and never
//! reach the sidecar, and consumers with new, genuine tokens are answered
//! throughout; also while the JWKS cannot be fetched, once a key set was
//! held. Nothing here bounds wall time: the sidecar counts what reaches it.

use std::{
    cell::RefCell,
    rc::Rc,
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use maskinporten_actix::testing::{JwksFault, LocalTexas};
use maskinporten_tests::{b64_json, client, handlers::read_afp, read_token, TestApi, READ};
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::json;

const FORGED_PER_SECOND: u32 = 500;
const FLOOD: Duration = Duration::from_secs(3);
const SIDECAR_COST: Duration = Duration::from_millis(20);

/// A forged token: well formed, from the right issuer, unexpired, with the
/// trusted `kid` (even `i`) or a random one (odd `i`), and 256 bytes of
/// signature nobody made.
fn forged(issuer: &str, i: u32) -> String {
    let now = maskinporten_tests::now();
    let kid = if i.is_multiple_of(2) {
        maskinporten_actix::testing::DEFAULT_KID.to_owned()
    } else {
        format!("forged-{i}-{}", now)
    };
    let header = b64_json(&json!({"alg": "RS256", "kid": kid, "typ": "JWT"}));
    let payload = b64_json(&json!({
        "iss": issuer, "exp": now + 600, "iat": now, "jti": i, "scope": READ,
        "consumer": {"authority": "iso6523-actorid-upis", "ID": "0192:991825827"},
    }));
    let signature: String = (0..342)
        .map(|n| {
            let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            alphabet[(n * 7 + i as usize * 13) % 64] as char
        })
        .collect();
    format!("{header}.{payload}.{signature}")
}

#[actix_web::test]
async fn forged_tokens_never_reach_the_sidecar_and_genuine_ones_pass_during_a_flood() {
    let _turn = crate::TURN.lock().await;
    let texas = LocalTexas::builder().latency(SIDECAR_COST).start().unwrap();
    let maskinporten = texas
        .maskinporten_builder()
        .signature_check(texas.jwks_uri())
        .exposed_scopes([READ])
        .build()
        .unwrap();
    let api = Rc::new(TestApi::start(Some(maskinporten.clone()), |cfg| {
        cfg.service(read_afp);
    }));
    let url = api.url("/afp");
    // Warm the connection pool and the key set.
    let warm = read_token(&texas);
    assert_eq!(api.status("/afp", &warm).await, 200);
    texas.reset_introspections();

    let forged_statuses = Rc::new(RefCell::new(Vec::new()));
    let issuer = texas.issuer().to_owned();
    let flood = {
        let (url, statuses) = (url.clone(), Rc::clone(&forged_statuses));
        actix_web::rt::spawn(async move {
            let client = client();
            let every = Duration::from_secs(1) / FORGED_PER_SECOND;
            let start = Instant::now();
            let mut tasks = Vec::new();
            let total = FORGED_PER_SECOND * FLOOD.as_secs() as u32;
            let mut i = 0;
            while i < total {
                let (client, url, token) = (client.clone(), url.clone(), forged(&issuer, i));
                let statuses = Rc::clone(&statuses);
                tasks.push(actix_web::rt::spawn(async move {
                    let status = match client.get(&url).bearer_auth(token).send().await {
                        Ok(response) => response.status().as_u16(),
                        Err(_) => 0,
                    };
                    statuses.borrow_mut().push(status);
                }));
                i += 1;
                let due = start + every * i;
                actix_web::rt::time::sleep(due.saturating_duration_since(Instant::now())).await;
            }
            let paced = start.elapsed();
            for task in tasks {
                task.await.unwrap();
            }
            (i, paced)
        })
    };

    // Meanwhile, consumers renew their tokens: each new token is introspected.
    let client = client();
    let mut genuine = Vec::new();
    while !flood.is_finished() {
        actix_web::rt::time::sleep(Duration::from_millis(150)).await;
        let token = read_token(&texas);
        let response = client.get(&url).bearer_auth(&token).send().await.unwrap();
        genuine.push(response.status().as_u16());
    }
    let (sent, paced) = flood.await.unwrap();
    // The pace the sender kept (a loaded machine may fall behind 500/s).
    eprintln!(
        "forged flood: {sent} tokens in {paced:?} ({:.0}/s); {} genuine new tokens meanwhile",
        f64::from(sent) / paced.as_secs_f64(),
        genuine.len()
    );

    let statuses = forged_statuses.borrow();
    assert_eq!(statuses.len() as u32, sent);
    let not_401: Vec<_> = statuses.iter().filter(|&&s| s != 401).collect();
    assert!(not_401.is_empty(), "forged tokens answered {not_401:?}");
    // Asked while the flood went on (however few a loaded machine fits in),
    // every genuine token passed.
    assert!(!genuine.is_empty());
    assert!(genuine.iter().all(|&s| s == 200), "{genuine:?}");
    // Only the genuine tokens reached the sidecar.
    let introspections = texas.introspections();
    assert!(
        introspections <= genuine.len() as u64 + 3,
        "{introspections} introspections for {} genuine tokens",
        genuine.len()
    );
    let stats = maskinporten.stats();
    assert!(stats.refused_without_validator >= u64::from(sent));
}

/// Without the JWKS, the strategy works as before: every well-formed token
/// goes to the sidecar, which stays the judge.
#[actix_web::test]
async fn without_the_jwks_the_sidecar_judges_every_token() {
    let _turn = crate::TURN.lock().await;
    let texas = LocalTexas::start();
    let maskinporten = texas
        .maskinporten_builder()
        .exposed_scopes([READ])
        .build()
        .unwrap();
    let api = TestApi::start(Some(maskinporten), |cfg| {
        cfg.service(read_afp);
    });
    texas.reset_introspections();
    for i in 0..4 {
        assert_eq!(api.status("/afp", &forged(texas.issuer(), i)).await, 401);
    }
    assert_eq!(texas.introspections(), 4);
}

/// The least time between two refetches asked for by unknown kids, in the
/// outage tests: short, so that the flood's first unknown kid asks again.
const WINDOW: Duration = Duration::from_millis(50);

/// A token signed by the issuer's key but naming a `kid` nobody published,
/// distinct per `i` and per run.
fn unknown_kid(texas: &LocalTexas, i: usize) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    texas
        .token()
        .scope(READ)
        .kid(&format!("forged-{i}-{nanos:x}"))
        .sign()
}

/// Asks for every token at once: the forged ones and the genuine ones
/// interleaved, so that genuine tokens arrive while the forged flood goes
/// on. Returns the statuses and whether each 401 carried `invalid_token`.
async fn all_at_once(url: &str, tokens: &[(bool, String)]) -> Vec<(bool, u16, bool)> {
    let client = client();
    join_all(tokens.iter().map(|(forged, token)| {
        let request = client.get(url).bearer_auth(token).send();
        async move {
            let response = request.await.expect("the API answers");
            let invalid_token = response
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with(r#"Bearer error="invalid_token""#));
            (*forged, response.status().as_u16(), invalid_token)
        }
    }))
    .await
}

/// 40 tokens with random `kid`s and 5 genuine new tokens, interleaved.
fn forged_and_genuine(texas: &LocalTexas) -> Vec<(bool, String)> {
    (0..45)
        .map(|i| {
            if i % 9 == 4 {
                (false, read_token(texas))
            } else {
                (true, unknown_kid(texas, i))
            }
        })
        .collect()
}

/// The JWKS fails once a key set is held (an error status, then an endpoint
/// that never answers): the refetch the unknown kids ask for fails, and the
/// key set held still decides. Tokens with `kid`s it does not hold are
/// refused here, 401 as local validation refuses them, and not one reaches
/// the sidecar (counted there), so they cannot take its places in flight;
/// genuine new tokens asked meanwhile reach it and pass.
#[actix_web::test]
async fn a_jwks_outage_does_not_send_unknown_kids_to_the_sidecar() {
    let _turn = crate::TURN.lock().await;
    let texas = LocalTexas::builder().latency(SIDECAR_COST).start().unwrap();
    let maskinporten = texas
        .maskinporten_builder()
        .signature_check(texas.jwks_uri())
        .exposed_scopes([READ])
        .jwks_min_refetch_interval(WINDOW)
        .jwks_refresh_interval(Duration::from_secs(3600))
        .max_concurrent_introspections(2)
        .build()
        .unwrap();
    let api = TestApi::start(Some(maskinporten.clone()), |cfg| {
        cfg.service(read_afp);
    });
    let url = api.url("/afp");
    // Hold a key set.
    let warm = read_token(&texas);
    assert_eq!(api.status("/afp", &warm).await, 200);
    assert_eq!(texas.jwks_fetches(), 1);

    for fault in [
        JwksFault::Status(503),
        JwksFault::Delay(Duration::from_secs(3600)),
    ] {
        texas.set_jwks_fault(fault.clone());
        // Past the window since the last fetch (its end was before the
        // last answer): the first unknown kid asks for a refetch.
        actix_web::rt::time::sleep(WINDOW).await;
        let fetches = texas.jwks_fetches();
        texas.reset_introspections();
        let tokens = forged_and_genuine(&texas);
        let answers = all_at_once(&url, &tokens).await;
        for (forged, status, invalid_token) in &answers {
            if *forged {
                assert_eq!(*status, 401, "{fault:?}: a forged kid");
                assert!(invalid_token, "{fault:?}: a forged kid's challenge");
            } else {
                assert_eq!(*status, 200, "{fault:?}: a genuine token");
            }
        }
        let genuine = answers.iter().filter(|a| !a.0).count() as u64;
        assert_eq!(genuine, 5);
        assert_eq!(
            texas.introspections(),
            genuine,
            "{fault:?}: only the genuine tokens reach the sidecar"
        );
        assert!(
            texas.jwks_fetches() > fetches,
            "{fault:?}: the unknown kids asked for a refetch, which failed"
        );
    }
}

/// Before any key set was fetched, nothing here can tell a forged `kid`
/// from a new one: tokens go to the sidecar unchecked, and it judges them.
/// From the first key set on, unknown kids no longer reach it.
#[actix_web::test]
async fn until_a_key_set_is_fetched_the_sidecar_judges_alone() {
    let _turn = crate::TURN.lock().await;
    let texas = LocalTexas::start();
    texas.set_jwks_fault(JwksFault::Status(503));
    let maskinporten = texas
        .maskinporten_builder()
        .signature_check(texas.jwks_uri())
        .exposed_scopes([READ])
        .jwks_min_refetch_interval(WINDOW)
        .jwks_refresh_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let api = TestApi::start(Some(maskinporten), |cfg| {
        cfg.service(read_afp);
    });
    let url = api.url("/afp");
    texas.reset_introspections();
    let answers = all_at_once(&url, &forged_and_genuine(&texas)).await;
    for (forged, status, _) in &answers {
        assert_eq!(*status, if *forged { 401 } else { 200 });
    }
    assert_eq!(texas.introspections(), 45, "the sidecar judged every token");
    assert!(texas.jwks_fetches() >= 1);

    texas.set_jwks_fault(JwksFault::None);
    // Past the window: the next unknown kid fetches the key set.
    actix_web::rt::time::sleep(WINDOW).await;
    texas.reset_introspections();
    let answers = all_at_once(&url, &forged_and_genuine(&texas)).await;
    for (forged, status, _) in &answers {
        assert_eq!(*status, if *forged { 401 } else { 200 });
    }
    assert_eq!(texas.introspections(), 5, "only the genuine tokens");
}
