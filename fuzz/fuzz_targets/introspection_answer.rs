//! The introspection-answer decoder and the scope check on its claims: never
//! panic; `Active` only when the JSON has boolean `true` in `active`; every
//! verdict and every grant is the reference's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maskinporten_actix::__private::internals::{claims_allow, decode_introspection, Decoded};
use maskinporten_fuzz::reference::{self, POOL};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the required scopes (bits 0-5 of the pool) and
    // all or any (bit 7); the rest is the answer.
    let Some((&pick, answer)) = data.split_first() else {
        return;
    };
    let decoded = decode_introspection(answer);
    if decoded == Decoded::Active {
        let value: serde_json::Value = serde_json::from_slice(answer).unwrap();
        assert_eq!(value["active"], serde_json::Value::Bool(true));
    }
    assert_eq!(decoded, reference::decode(answer));

    let required: Vec<&str> = POOL
        .iter()
        .enumerate()
        .filter(|(i, _)| pick & (1 << i) != 0)
        .map(|(_, scope)| *scope)
        .collect();
    let any = pick & 0x80 != 0;
    assert_eq!(
        claims_allow(answer, &required, any),
        reference::allows(answer, &required, any)
    );
});
