//! Forged tokens on NAIS, tried as someone without credentials would: the
//! right `iss`, a future `exp`, RS256, any `kid` and a signature nobody
//! made, 500 a second, half of them with random `kid`s, against a sidecar
//! stand-in that serialises its work and takes 20 ms a token (a real sidecar
//! fetches the JWKS over the internet for every unknown `kid`). With the
//! JWKS known, the introspection strategy checks signatures before it asks
//! the sidecar: the forged tokens are refused with 401 (not 503) and never
//! reach the sidecar, and consumers with new, genuine tokens are answered
//! throughout.

use std::{
    cell::RefCell,
    rc::Rc,
    time::{Duration, Instant},
};

use actix_web::{get, HttpResponse, Responder};
use maskinporten_actix::{require_scope, testing::LocalTexas};
use maskinporten_tests::{b64_json, client, TestApi};
use serde_json::json;

const READ: &str = "nav:helse/sykepenger/afp.read";
const FORGED_PER_SECOND: u32 = 500;
const FLOOD: Duration = Duration::from_secs(3);
const SIDECAR_COST: Duration = Duration::from_millis(20);

#[get("/afp")]
#[require_scope("nav:helse/sykepenger/afp.read")]
async fn afp() -> impl Responder {
    HttpResponse::Ok().finish()
}

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
        .build()
        .unwrap();
    let api = Rc::new(TestApi::start(Some(maskinporten.clone()), |cfg| {
        cfg.service(afp);
    }));
    let url = api.url("/afp");
    // Warm the connection pool and the key set.
    let warm = texas.token().scope(READ).sign();
    let response = client().get(&url).bearer_auth(&warm).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
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
        let token = texas.token().scope(READ).sign();
        let asked = Instant::now();
        let response = client.get(&url).bearer_auth(&token).send().await.unwrap();
        genuine.push((response.status().as_u16(), asked.elapsed()));
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
    assert!(genuine.len() >= 15, "{genuine:?}");
    for (status, took) in &genuine {
        assert_eq!(*status, 200, "{genuine:?}");
        assert!(*took < Duration::from_secs(1), "{genuine:?}");
    }
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
    let api = TestApi::start(Some(texas.maskinporten_builder().build().unwrap()), |cfg| {
        cfg.service(afp);
    });
    texas.reset_introspections();
    for i in 0..4 {
        let response = client()
            .get(api.url("/afp"))
            .bearer_auth(forged(texas.issuer(), i))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401);
    }
    assert_eq!(texas.introspections(), 4);
}
