//! What the cold-path benches share: timing validations of tokens new to a
//! handle.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use actix_web::rt::Runtime;
use maskinporten_actix::{testing::LocalTexas, Maskinporten, MaskinportenBuilder};

/// The scope every bench token holds and every bench handle exposes.
pub const SCOPE: &str = "nav:helse/sykepenger/afp.read";

/// The time `iters` validations of tokens new to the handle take: a fresh
/// handle from `builder` (an empty cache, its keys fetched and its
/// connection made outside the clock) for every `pool`'s worth of tokens,
/// the validations of a round inside one `block_on`.
pub fn new_tokens(
    runtime: &Runtime,
    texas: &LocalTexas,
    builder: impl Fn() -> MaskinportenBuilder,
    pool: &[String],
    iters: u64,
) -> Duration {
    let fresh_handle = || -> Maskinporten {
        let handle = builder().exposed_scopes([SCOPE]).build().unwrap();
        runtime.block_on(async {
            let warm = texas.token().scope(SCOPE).sign();
            assert!(handle.validate(&warm).await.is_ok());
        });
        handle
    };
    let mut spent = Duration::ZERO;
    let mut left = iters as usize;
    while left > 0 {
        let handle = fresh_handle();
        let round = left.min(pool.len());
        spent += runtime.block_on(async {
            let started = Instant::now();
            for token in &pool[..round] {
                assert!(handle.validate(black_box(token)).await.is_ok());
            }
            started.elapsed()
        });
        left -= round;
    }
    spent
}
