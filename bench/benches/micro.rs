//! Micro-benchmarks of the per-request work that touches no network: what a
//! guarded request costs on top of the handler when its token is cached
//! (header parsing, the cache key, the scope check) and when it is not
//! (decoding the introspection answer).
//!
//! ```sh
//! cargo bench -p maskinporten-bench --bench micro
//! ```
//!
//! The inputs are shaped like production ones: a ~1 KiB RS256 Maskinporten
//! token and the answer Texas gives for it.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use maskinporten_actix::{
    __private::internals::{
        claims_allow, decode_introspection, parse_authorization, precheck, token_key, Decoded,
    },
    MaskinportenBuilder,
};

const READ: &str = "nav:helse/sykepenger/afp.read";
const WRITE: &str = "nav:helse/sykepenger/afp.write";

/// The claims of a Maskinporten token with two scopes, a consumer and a
/// supplier, as Texas answers them (`active` first).
fn answer(active: bool) -> String {
    format!(
        concat!(
            r#"{{"active":{},"iss":"https://test.maskinporten.no/","#,
            r#""client_id":"2f4c6a1e-7b3d-4e8f-9a0b-1c2d3e4f5a6b","client_amr":"private_key_jwt","#,
            r#""consumer":{{"authority":"iso6523-actorid-upis","ID":"0192:991825827"}},"#,
            r#""supplier":{{"authority":"iso6523-actorid-upis","ID":"0192:974761076"}},"#,
            r#""scope":"nav:helse/sykepenger/afp.read nav:helse/sykepenger/afp.write","#,
            r#""token_type":"Bearer","exp":1900000120,"iat":1900000000,"#,
            r#""jti":"c9b1e2d3-4f5a-4b6c-8d7e-9f0a1b2c3d4e"}}"#
        ),
        active
    )
}

/// A JWT-shaped token as long as a real RS256 Maskinporten token: header,
/// the claims above, and a 256-byte signature, each base64url-encoded.
fn token() -> String {
    let header = br#"{"kid":"local-texas-1","alg":"RS256","typ":"JWT"}"#;
    let claims = answer(true).replace(r#""active":true,"#, "");
    let signature: Vec<u8> = (0..=255u8).map(|b| b.wrapping_mul(167)).collect();
    format!(
        "{}.{}.{}",
        b64url(header),
        b64url(claims.as_bytes()),
        b64url(&signature)
    )
}

fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn header_parsing(c: &mut Criterion) {
    let token = token();
    assert!((900..1200).contains(&token.len()), "a ~1 KiB token");
    let valid = format!("Bearer {token}");
    // Worst case for a rejection: the bad byte comes last, after the scan of
    // the whole token.
    let control_byte = format!("Bearer {token}\x01");
    let other_scheme = "Basic YWZwLWNsaWVudDpzZWNyZXQ=";
    assert_eq!(
        parse_authorization(
            valid.as_bytes(),
            MaskinportenBuilder::DEFAULT_MAX_TOKEN_LENGTH
        ),
        Ok(token.as_str())
    );
    assert!(parse_authorization(
        control_byte.as_bytes(),
        MaskinportenBuilder::DEFAULT_MAX_TOKEN_LENGTH
    )
    .is_err());
    assert!(parse_authorization(
        other_scheme.as_bytes(),
        MaskinportenBuilder::DEFAULT_MAX_TOKEN_LENGTH
    )
    .is_err());

    let mut group = c.benchmark_group("parse_authorization");
    group.bench_function("valid 1 KiB token", |b| {
        b.iter(|| {
            parse_authorization(
                black_box(valid.as_bytes()),
                MaskinportenBuilder::DEFAULT_MAX_TOKEN_LENGTH,
            )
        })
    });
    group.bench_function("invalid: control byte at the end", |b| {
        b.iter(|| {
            parse_authorization(
                black_box(control_byte.as_bytes()),
                MaskinportenBuilder::DEFAULT_MAX_TOKEN_LENGTH,
            )
        })
    });
    group.bench_function("invalid: another scheme", |b| {
        b.iter(|| {
            parse_authorization(
                black_box(other_scheme.as_bytes()),
                MaskinportenBuilder::DEFAULT_MAX_TOKEN_LENGTH,
            )
        })
    });
    group.finish();
}

fn cache_key(c: &mut Criterion) {
    let token = token();
    c.bench_function("token_key: SHA-256 of a 1 KiB token", |b| {
        b.iter(|| token_key(black_box(&token)))
    });
    // What the key cost before it was hashed with the crypto provider.
    c.bench_function("sha2 crate: SHA-256 of a 1 KiB token (before)", |b| {
        b.iter(|| <sha2::Sha256 as sha2::Digest>::digest(black_box(&token)))
    });
}

fn claims(c: &mut Criterion) {
    let active = answer(true);
    let inactive = r#"{"active":false,"error":"token is expired"}"#;
    assert_eq!(decode_introspection(active.as_bytes()), Decoded::Active);
    assert_eq!(decode_introspection(inactive.as_bytes()), Decoded::Inactive);
    assert_eq!(claims_allow(active.as_bytes(), &[READ], false), Some(true));
    assert_eq!(
        claims_allow(
            active.as_bytes(),
            &["nav:helse/sykepenger/afp.admin"],
            false
        ),
        Some(false)
    );

    let mut group = c.benchmark_group("decode_introspection");
    group.bench_function("active answer", |b| {
        b.iter(|| decode_introspection(black_box(active.as_bytes())))
    });
    group.bench_function("inactive answer", |b| {
        b.iter(|| decode_introspection(black_box(inactive.as_bytes())))
    });
    group.finish();

    // `claims_allow` decodes too: the scope check alone is the difference
    // from `decode_introspection/active answer`.
    let mut group = c.benchmark_group("claims_allow (decode + scope check)");
    group.bench_function("all of one scope", |b| {
        b.iter(|| claims_allow(black_box(active.as_bytes()), &[READ], false))
    });
    group.bench_function("all of two scopes", |b| {
        b.iter(|| claims_allow(black_box(active.as_bytes()), &[READ, WRITE], false))
    });
    group.bench_function("any of two, missing", |b| {
        b.iter(|| {
            claims_allow(
                black_box(active.as_bytes()),
                &[
                    "nav:helse/sykepenger/afp.admin",
                    "nav:helse/sykepenger/afp.audit",
                ],
                true,
            )
        })
    });
    group.finish();
}

/// What refusing a token without the network costs, per token: the
/// compact-JWS reading and the claim checks on a cache miss, before any
/// introspection.
fn local_precheck(c: &mut Criterion) {
    const ISSUER: &str = "https://test.maskinporten.no/";
    let good = token();
    let parts: Vec<&str> = good.split('.').collect();
    let unsigned = format!("{}.{}.{}", b64url(br#"{"alg":"none"}"#), parts[1], parts[2]);
    let not_a_jws = "a".repeat(good.len());
    assert_eq!(precheck(&good, Some(ISSUER)), Ok(()));
    assert!(precheck(&good, Some("https://maskinporten.no/")).is_err());
    assert!(precheck(&unsigned, Some(ISSUER)).is_err());
    assert!(precheck(&not_a_jws, Some(ISSUER)).is_err());

    let mut group = c.benchmark_group("precheck (1 KiB token)");
    group.bench_function("passes", |b| {
        b.iter(|| precheck(black_box(&good), Some(ISSUER)))
    });
    group.bench_function("refused: another issuer", |b| {
        b.iter(|| precheck(black_box(&good), Some("https://maskinporten.no/")))
    });
    group.bench_function("refused: alg none", |b| {
        b.iter(|| precheck(black_box(&unsigned), Some(ISSUER)))
    });
    group.bench_function("refused: not a compact JWS", |b| {
        b.iter(|| precheck(black_box(&not_a_jws), Some(ISSUER)))
    });
    group.finish();
}

criterion_group!(benches, header_parsing, cache_key, claims, local_precheck);
criterion_main!(benches);
