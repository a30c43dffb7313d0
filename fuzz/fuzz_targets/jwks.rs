//! The JWKS parser of local validation and the signature check: never
//! panics; a set it takes holds keys under the kids of RSA entries, parses
//! the same way twice, and its kept entries written out again parse to the
//! same keys (`__private::fuzzing::parse_jwks`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use maskinporten_actix::__private::fuzzing::parse_jwks;

fuzz_target!(|data: &[u8]| {
    parse_jwks(data);
});
