//! What local validation costs per token, without the network: ring's
//! RS256 verification alone, and a whole uncached validation (JWS reading,
//! key lookup, signature, claims) of a valid and of a forged token.
//!
//! ```sh
//! cargo bench -p maskinporten-actix --features testing --bench local
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
    let token = texas.token().scope("nav:helse/sykepenger/afp.read").sign();
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
    c.bench_function("ring RS256 verify, 2048-bit key", |b| {
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
        .exposed_scopes(["nav:helse/sykepenger/afp.read"])
        .disable_cache()
        .build()
        .unwrap();
    let forged = texas
        .token()
        .scope("nav:helse/sykepenger/afp.read")
        .signed_by_other_key()
        .kid(DEFAULT_KID)
        .sign();
    runtime.block_on(async {
        assert!(maskinporten.validate(&token).await.is_ok());
        assert!(maskinporten.validate(&forged).await.is_err());
    });
    c.bench_function("local validation, cache off, valid token", |b| {
        b.iter(|| {
            runtime
                .block_on(maskinporten.validate(black_box(&token)))
                .is_ok()
        })
    });
    c.bench_function("local validation, forged token with a valid kid", |b| {
        b.iter(|| {
            runtime
                .block_on(maskinporten.validate(black_box(&forged)))
                .is_err()
        })
    });
}

criterion_group!(benches, verify);
criterion_main!(benches);
