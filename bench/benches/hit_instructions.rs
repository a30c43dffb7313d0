//! Instruction counts of a warm guarded extraction, for before/after
//! comparisons that do not depend on how busy the machine is: the same
//! requests as `--bench extractor` (a 900-byte token, cached), extracted in
//! a loop by functions that are never inlined, so that callgrind can count
//! each pass on its own.
//!
//! ```sh
//! cargo bench -p maskinporten-bench --bench hit_instructions --no-run
//! valgrind --tool=callgrind --toggle-collect='*pass_guarded*' target/release/deps/hit_instructions-*
//! valgrind --tool=callgrind --toggle-collect='*pass_unguarded*' target/release/deps/hit_instructions-*
//! ```
//!
//! Three rounds of [`PASSES`] passes of [`REQUESTS`] requests each: divide
//! the instructions by 30 000. Under valgrind, SHA-256 runs aws-lc-rs's AVX
//! code (valgrind hides SHA-NI), about 31 600 instructions for 900 bytes;
//! natively it is the SHA-NI code, about 0.6 us.
//! Without valgrind it prints the wall-clock time per extraction of each pass.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use actix_web::{
    dev::Payload, http::header::AUTHORIZATION, test::TestRequest, FromRequest, HttpMessage,
    HttpRequest,
};
use futures_util::FutureExt;
use maskinporten_actix::{
    __private::{Guarded, Match, Requirement, Rule},
    testing::LocalTexas,
    MaskinportenClaims,
};

const READ: &str = "nav:helse/sykepenger/afp.read";

/// Extractions per pass: few enough that a batch of requests stays in the
/// CPU's caches, as a request the server has just parsed does.
const REQUESTS: usize = 100;

/// Passes of each kind per round.
const PASSES: usize = 100;

/// The token length the targets of the warm path are stated for.
const TOKEN_BYTES: usize = 900;

struct RequiresRead;

impl Requirement for RequiresRead {
    const RULE: Rule = Rule::Scopes(&[READ], Match::All);
}

/// A signed token of `len` bytes, or one more where base64 cannot make
/// exactly `len`.
fn token_of_length(texas: &LocalTexas, len: usize) -> String {
    texas
        .token()
        .scope(READ)
        .sign_padded(len)
        .expect("a token long enough")
}

fn requests(token: &str, maskinporten: &maskinporten_actix::Maskinporten) -> Vec<HttpRequest> {
    (0..REQUESTS)
        .map(|_| {
            TestRequest::get()
                .uri("/afp")
                .insert_header((AUTHORIZATION, format!("Bearer {token}")))
                .app_data(maskinporten.clone())
                .to_http_request()
        })
        .collect()
}

#[inline(never)]
fn pass_guarded(requests: &[HttpRequest]) {
    for req in requests {
        let claims =
            Guarded::<RequiresRead, (MaskinportenClaims,)>::from_request(req, &mut Payload::None)
                .now_or_never()
                .expect("a cache hit is ready at once")
                .expect("the token passes");
        drop(black_box(claims));
        // What the server does when the request is done and its
        // allocation goes back to the pool.
        req.extensions_mut().clear();
    }
}

#[inline(never)]
fn pass_unguarded(requests: &[HttpRequest]) {
    for req in requests {
        let extracted = <(HttpRequest,)>::from_request(req, &mut Payload::None)
            .now_or_never()
            .expect("ready")
            .expect("extracted");
        drop(black_box(extracted));
        req.extensions_mut().clear();
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to filter.
    let texas = LocalTexas::start();
    let maskinporten = texas
        .maskinporten_builder()
        .exposed_scopes([READ])
        .build()
        .expect("a handle for the local endpoint");
    let token = token_of_length(&texas, TOKEN_BYTES);
    actix_web::rt::System::new()
        .block_on(maskinporten.validate(&token))
        .expect("the token is active and now cached");
    for round in 0..3 {
        let (mut unguarded, mut guarded) = (Duration::ZERO, Duration::ZERO);
        // Each request is extracted again after its extensions are
        // cleared, as the server reuses a request's allocation.
        let batch = requests(&token, &maskinporten);
        for _ in 0..PASSES {
            let start = Instant::now();
            pass_unguarded(&batch);
            unguarded += start.elapsed();
            let start = Instant::now();
            pass_guarded(&batch);
            guarded += start.elapsed();
        }
        drop(batch);
        let per = |total: Duration| total.as_nanos() as f64 / (PASSES * REQUESTS) as f64;
        let (unguarded, guarded) = (per(unguarded), per(guarded));
        println!(
            "round {round}: unguarded {unguarded:.0} ns, guarded {guarded:.0} ns, \
             difference {:.0} ns per extraction ({}-byte token)",
            guarded - unguarded,
            token.len()
        );
    }
    assert_eq!(
        texas.introspections(),
        1,
        "every measured request was a hit"
    );
}
