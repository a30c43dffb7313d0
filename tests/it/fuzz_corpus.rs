//! The seed corpus of the cargo-fuzz targets `jws` and `jwks`, run on the
//! stable compiler: every file under `fuzz/corpus/jws/` and
//! `fuzz/corpus/jwks/` goes through the same entry points the targets call,
//! so CI checks their invariants on every seed (libFuzzer needs a nightly
//! compiler; `fuzz/README.md`). Tokens and the key set a `LocalTexas`
//! makes now go through them too.
//!
//! `MASKINPORTEN_FUZZ_SEEDS=1` writes those tokens and that key set into
//! the corpus directories: how the `local-texas-*` seeds were made.

use std::path::{Path, PathBuf};

use maskinporten_actix::{
    __private::fuzzing::{parse_jwks, read_jws},
    testing::LocalTexas,
};
use maskinporten_tests::ask;

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// Every seed of a target, by name.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut seeds: Vec<_> = std::fs::read_dir(corpus(target))
        .unwrap_or_else(|e| panic!("fuzz/corpus/{target}: {e}"))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    seeds.sort();
    seeds
}

/// Tokens a `LocalTexas` signs and the key set it serves, as (seed name,
/// bytes), and how many keys that set publishes.
type Seeds = Vec<(&'static str, String)>;

async fn local_texas_seeds() -> (Seeds, Seeds, usize) {
    let texas = LocalTexas::start();
    let tokens = vec![
        (
            "local-texas-token",
            texas.token().scope("nav:helse/sykepenger/afp.read").sign(),
        ),
        (
            "local-texas-token-other-key",
            texas.token().signed_by_other_key().sign(),
        ),
        (
            "local-texas-token-expired",
            texas
                .token()
                .expired(std::time::Duration::from_secs(3600))
                .sign(),
        ),
    ];
    let jwks = ask(&texas.jwks_uri(), None).await;
    assert_eq!(jwks.status, 200);
    let jwks = jwks.text;
    (
        tokens,
        vec![("local-texas-jwks.json", jwks)],
        texas.jwks_keys().len(),
    )
}

#[test]
fn every_jws_seed_keeps_the_invariants() {
    let seeds = seeds("jws");
    assert!(seeds.len() >= 10, "{} seeds", seeds.len());
    let read = seeds.iter().filter(|(_, seed)| read_jws(seed)).count();
    // Both outcomes are seeded: tokens read, and shapes refused.
    assert!(
        read >= 3 && read < seeds.len(),
        "{read} of {} read",
        seeds.len()
    );
}

#[test]
fn every_jwks_seed_keeps_the_invariants() {
    let seeds = seeds("jwks");
    assert!(seeds.len() >= 5, "{} seeds", seeds.len());
    let taken = seeds
        .iter()
        .filter(|(_, seed)| parse_jwks(seed) > 0)
        .count();
    assert!(
        taken >= 1 && taken < seeds.len(),
        "{taken} of {} taken",
        seeds.len()
    );
}

#[actix_web::test]
async fn what_local_texas_makes_is_read_and_taken() {
    let (tokens, jwks, published) = local_texas_seeds().await;
    for (name, token) in &tokens {
        assert!(read_jws(token.as_bytes()), "{name}");
    }
    for (name, set) in &jwks {
        assert_eq!(parse_jwks(set.as_bytes()), published, "{name}");
    }
    if std::env::var_os("MASKINPORTEN_FUZZ_SEEDS").is_some() {
        for (target, seeds) in [("jws", &tokens), ("jwks", &jwks)] {
            for (name, seed) in seeds {
                std::fs::write(corpus(target).join(name), seed).unwrap();
            }
        }
    }
}
