//! What local validation costs per token, without the network: RS256
//! verification alone (aws-lc-rs with the parsed key kept, and ring, which
//! parses the key on every verify: what the crate paid before), and a whole uncached validation (JWS reading,
//! key lookup, signature, claims) of a valid and of a forged token.
//!
//! ```sh
//! cargo bench -p maskinporten-bench --bench local
//! ```

use std::{
    hint::black_box,
    io::{Read, Write},
    net::TcpStream,
};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use criterion::{criterion_group, criterion_main, Criterion};
use maskinporten_actix::testing::{LocalTexas, DEFAULT_KID};
use ring::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use serde_json::Value;

mod common;
use common::SCOPE;

/// The JWKS LocalTexas serves, read over a plain HTTP/1.0 GET.
fn jwks(texas: &LocalTexas) -> Value {
    let mut stream = TcpStream::connect(texas.addr()).unwrap();
    stream
        .write_all(b"GET /jwks HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let body = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
    serde_json::from_str(body).unwrap()
}

fn unsigned(b64: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(b64).unwrap()
}

fn verify(c: &mut Criterion) {
    let texas = LocalTexas::start();
    let key = &jwks(&texas)["keys"][0];
    let (n, e) = (
        unsigned(key["n"].as_str().unwrap()),
        unsigned(key["e"].as_str().unwrap()),
    );
    let token = texas.token().scope(SCOPE).sign();
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let signature = unsigned(signature);
    let public = RsaPublicKeyComponents { n: &n, e: &e };
    assert!(public
        .verify(
            &RSA_PKCS1_2048_8192_SHA256,
            signing_input.as_bytes(),
            &signature
        )
        .is_ok());
    let parsed = aws_lc_rs::signature::RsaPublicKeyComponents { n: &n, e: &e }
        .to_parsed_public_key(&aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256)
        .unwrap();
    assert!(parsed
        .verify_sig(signing_input.as_bytes(), &signature)
        .is_ok());
    c.bench_function("aws-lc-rs RS256 verify, parsed 2048-bit key kept", |b| {
        b.iter(|| {
            black_box(&parsed)
                .verify_sig(black_box(signing_input.as_bytes()), black_box(&signature))
                .is_ok()
        })
    });
    c.bench_function("ring RS256 verify, 2048-bit key parsed each time", |b| {
        b.iter(|| {
            black_box(&public)
                .verify(
                    &RSA_PKCS1_2048_8192_SHA256,
                    black_box(signing_input.as_bytes()),
                    black_box(&signature),
                )
                .is_ok()
        })
    });

    let runtime = actix_web::rt::Runtime::new().unwrap();
    let maskinporten = texas
        .maskinporten_local_builder()
        .exposed_scopes([SCOPE])
        .disable_cache()
        .build()
        .unwrap();
    let forged = texas
        .token()
        .scope(SCOPE)
        .signed_by_other_key()
        .kid(DEFAULT_KID)
        .sign();
    runtime.block_on(async {
        assert!(maskinporten.validate(&token).await.is_ok());
        assert!(maskinporten.validate(&forged).await.is_err());
    });
    // Each sample's validations run inside one `block_on`, as a server's
    // run on a running executor: entering the runtime is not the guard's
    // cost.
    c.bench_function("local validation, cache off, valid token", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let started = std::time::Instant::now();
                for _ in 0..iters {
                    assert!(maskinporten.validate(black_box(&token)).await.is_ok());
                }
                started.elapsed()
            })
        })
    });
    c.bench_function("local validation, forged token with a valid kid", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let started = std::time::Instant::now();
                for _ in 0..iters {
                    assert!(maskinporten.validate(black_box(&forged)).await.is_err());
                }
                started.elapsed()
            })
        })
    });

    // The whole cold path of a new token as an API meets it: parse, verify,
    // claims, and the insert into the cache.
    let pool: Vec<String> = (0..2048)
        .map(|_| texas.token().scope(SCOPE).sign())
        .collect();
    c.bench_function(
        "local validation, new token, cache on (insert included)",
        |b| {
            b.iter_custom(|iters| {
                common::new_tokens(
                    &runtime,
                    &texas,
                    || texas.maskinporten_local_builder(),
                    &pool,
                    iters,
                )
            })
        },
    );
    // Printed last, after the rows.
    new_token_against_its_verify(&runtime, &texas, &parsed, &pool);
}

/// The ratio the cold path's target is set in, measured so that the
/// machine's drift between two criterion rows cancels: rounds of the pool's
/// tokens validated through a fresh handle, each beside the verify alone of
/// the same tokens (each signature and message new to the CPU's caches, as
/// in the validation), the two in alternating order; the median of the
/// rounds' ratios. The same endpoint, key, runtime and pool as the rows.
fn new_token_against_its_verify(
    runtime: &actix_web::rt::Runtime,
    texas: &LocalTexas,
    parsed: &aws_lc_rs::signature::ParsedPublicKey,
    pool: &[String],
) {
    const ROUNDS: usize = 15;
    let signed: Vec<(&str, Vec<u8>)> = pool
        .iter()
        .map(|token| {
            let (input, signature) = token.rsplit_once('.').unwrap();
            (input, unsigned(signature))
        })
        .collect();
    let verify_all = || {
        let started = std::time::Instant::now();
        for (input, signature) in &signed {
            assert!(parsed
                .verify_sig(black_box(input.as_bytes()), black_box(signature))
                .is_ok());
        }
        started.elapsed()
    };
    let validate_all = || {
        common::new_tokens(
            runtime,
            texas,
            || texas.maskinporten_local_builder(),
            pool,
            pool.len() as u64,
        )
    };
    // One round of each first, untimed: the key set fetched, the code warm.
    verify_all();
    validate_all();
    let per_token = |spent: std::time::Duration| spent.as_secs_f64() * 1e6 / pool.len() as f64;
    let mut rounds: Vec<(f64, f64)> = (0..ROUNDS)
        .map(|round| {
            let (verified, validated) = if round % 2 == 0 {
                let verified = verify_all();
                (verified, validate_all())
            } else {
                let validated = validate_all();
                (verify_all(), validated)
            };
            (per_token(verified), per_token(validated))
        })
        .collect();
    rounds.sort_by(|a, b| (a.1 / a.0).total_cmp(&(b.1 / b.0)));
    let (verified, validated) = rounds[ROUNDS / 2];
    let ratios: Vec<f64> = rounds.iter().map(|(v, w)| w / v).collect();
    println!(
        "new token against the verify of the same tokens, {ROUNDS} alternating rounds of {}: \
         median round {validated:.1} us against {verified:.1} us, ratio {:.3} (rounds {:.3} to {:.3})",
        pool.len(),
        validated / verified,
        ratios[0],
        ratios[ROUNDS - 1],
    );
}

criterion_group!(benches, verify);
criterion_main!(benches);
