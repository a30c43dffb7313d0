//! What a new token costs through the sidecar, split so that what remains
//! is the round trip: the bare round trip to the local endpoint (the same
//! request the crate sends, over the same kind of client), and a whole
//! uncached validation through the crate, with and without the signature
//! check in front. The endpoint runs in this process, so its own work is in
//! every row alike; the crate's part is a row minus the round trip.
//!
//! ```sh
//! cargo bench -p maskinporten-bench --bench introspection
//! ```

use std::{hint::black_box, time::Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use maskinporten_actix::{testing::LocalTexas, MaskinportenBuilder};

mod common;
use common::SCOPE;

/// How a row's handle is configured against the local endpoint.
type Configure = fn(&LocalTexas) -> MaskinportenBuilder;

/// Tokens enough that each iteration of a round is a token new to the handle.
const POOL: usize = 1024;

fn introspection(c: &mut Criterion) {
    let texas = LocalTexas::start();
    let runtime = actix_web::rt::Runtime::new().unwrap();
    let pool: Vec<String> = (0..POOL)
        .map(|_| texas.token().scope(SCOPE).sign())
        .collect();

    // The crate's client: no proxy, plain HTTP to loopback (the TLS set-up
    // is never used; it only has to exist).
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .build()
        .unwrap();
    let endpoint = texas.introspection_endpoint();
    c.bench_function("sidecar round trip alone (JSON POST, keep-alive)", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let started = Instant::now();
                for i in 0..iters as usize {
                    let answer = client
                        .post(&endpoint)
                        .json(&serde_json::json!({
                            "identity_provider": "maskinporten",
                            "token": black_box(&pool[i % POOL]),
                        }))
                        .send()
                        .await
                        .unwrap()
                        .bytes()
                        .await
                        .unwrap();
                    assert!(answer.starts_with(b"{\"active\":true"));
                }
                started.elapsed()
            })
        })
    });

    let rows: [(&str, Configure); 2] = [
        (
            "introspection, new token, cache on (insert included)",
            |texas| texas.maskinporten_builder(),
        ),
        (
            "introspection + signature check, new token, cache on (insert included)",
            |texas| {
                texas
                    .maskinporten_builder()
                    .signature_check(texas.jwks_uri())
            },
        ),
    ];
    for (name, builder) in rows {
        c.bench_function(name, |b| {
            b.iter_custom(|iters| {
                common::new_tokens(&runtime, &texas, || builder(&texas), &pool, iters)
            })
        });
    }
}

criterion_group!(benches, introspection);
criterion_main!(benches);
