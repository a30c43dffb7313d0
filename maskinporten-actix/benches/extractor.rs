//! What the guard costs a request in CPU, without the network: the whole
//! `#[require_scope]` extraction (header, cache key, cache lookup, scope
//! check, the handler's own `MaskinportenClaims`) for a cached token, next to
//! extracting the same arguments with no guard.
//!
//! ```sh
//! cargo bench -p maskinporten-actix --features testing --bench extractor
//! ```

use std::hint::black_box;

use actix_web::{
    dev::Payload, http::header::AUTHORIZATION, test::TestRequest, FromRequest, HttpRequest,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use futures_util::FutureExt;
use maskinporten_actix::{
    __private::{Guarded, Match, Requirement, Rule},
    testing::LocalTexas,
    MaskinportenClaims,
};

const READ: &str = "nav:helse/sykepenger/afp.read";

/// What `#[require_scope("nav:helse/sykepenger/afp.read")]` expands to.
struct RequiresRead;

impl Requirement for RequiresRead {
    const RULE: Rule = Rule::Scopes(&[READ], Match::All);
}

fn extraction(c: &mut Criterion) {
    let texas = LocalTexas::start();
    let maskinporten = texas.maskinporten();
    let token = texas.token().scope(READ).sign();
    actix_web::rt::System::new()
        .block_on(maskinporten.validate(&token))
        .expect("the token is active and now cached");
    let request = || {
        TestRequest::get()
            .uri("/afp")
            .insert_header((AUTHORIZATION, format!("Bearer {token}")))
            .app_data(maskinporten.clone())
            .to_http_parts()
    };

    let mut group = c.benchmark_group("extraction");
    group.bench_function("unguarded: (HttpRequest,)", |b| {
        b.iter_batched(
            request,
            |(req, mut payload): (HttpRequest, Payload)| {
                <(HttpRequest,)>::from_request(black_box(&req), &mut payload)
                    .now_or_never()
                    .expect("ready")
                    .expect("extracted")
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function(
        "guarded, warm cache: Guarded<_, (MaskinportenClaims,)>",
        |b| {
            b.iter_batched(
                request,
                |(req, mut payload): (HttpRequest, Payload)| {
                    Guarded::<RequiresRead, (MaskinportenClaims,)>::from_request(
                        black_box(&req),
                        &mut payload,
                    )
                    .now_or_never()
                    .expect("a cache hit is ready at once")
                    .expect("the token passes")
                },
                BatchSize::SmallInput,
            )
        },
    );
    group.finish();
    assert_eq!(
        texas.introspections(),
        1,
        "every measured request was a hit"
    );
}

criterion_group!(benches, extraction);
criterion_main!(benches);
