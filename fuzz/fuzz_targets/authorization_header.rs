//! The `Authorization` parser: never panics; a token it accepts is a
//! non-empty RFC 6750 b64token without spaces, within the length limit, and
//! every outcome is the one the reference parser gives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maskinporten_actix::__private::internals::parse_authorization;
use maskinporten_fuzz::reference;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the length limit (0 to 255), the rest is the value.
    let Some((&max, value)) = data.split_first() else {
        return;
    };
    let max = usize::from(max);
    let parsed = parse_authorization(value, max);
    if let Ok(token) = parsed {
        assert!(!token.is_empty() && token.len() <= max);
        assert!(!token.contains(' '));
        let body = token.trim_end_matches('=');
        assert!(!body.is_empty());
        assert!(body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)));
    }
    assert_eq!(
        parsed.map(str::to_owned),
        reference::parse_authorization(value, max),
        "{:?}",
        String::from_utf8_lossy(value)
    );
});
