//! The scope grammar: never panics, and accepts exactly what the NAIS
//! patterns (as a regular expression) accept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maskinporten_fuzz::reference;

fuzz_target!(|data: &[u8]| {
    let scope = String::from_utf8_lossy(data);
    let result = maskinporten_names::validate(&scope);
    assert_eq!(
        result.is_ok(),
        reference::scope_is_valid(&scope),
        "{scope:?}: {result:?}"
    );
    if let Err(error) = result {
        assert!(!error.to_string().is_empty());
    }
});
