//! The compact-JWS reader both strategies run first: never panics; what it
//! reads is three base64url parts that encode back to themselves, its
//! prechecks agree with their steps, and the `Authorization` parser takes
//! it unchanged (`__private::fuzzing::read_jws`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use maskinporten_actix::__private::fuzzing::read_jws;

fuzz_target!(|data: &[u8]| {
    read_jws(data);
});
