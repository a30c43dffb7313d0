//! Reading `Authorization: Bearer <token>` (RFC 6750 §2.1, RFC 9110 §11).
//!
//! Everything here is decided from the header alone, before any network call:
//! a request that cannot carry a usable token never reaches the validator.

use actix_web::http::header::{HeaderMap, AUTHORIZATION};

use crate::error::{ErrorKind, MaskinportenError};

/// The largest token accepted by default. Maskinporten tokens are one to two
/// KiB; anything far larger is not one, and is refused before it costs a
/// round trip.
pub(crate) const DEFAULT_MAX_TOKEN_LENGTH: usize = 8 * 1024;

/// The bearer token of a request, or why there is none.
pub(crate) fn bearer_token(headers: &HeaderMap, max_len: usize) -> Result<&str, MaskinportenError> {
    let mut values = headers.get_all(AUTHORIZATION);
    let Some(value) = values.next() else {
        return Err(missing());
    };
    if values.next().is_some() {
        return Err(MaskinportenError::new(
            ErrorKind::InvalidRequest,
            "more than one Authorization header",
        ));
    }
    parse(value.as_bytes(), max_len)
}

/// The token of a lone `Authorization: Bearer <token>` header, found without
/// checking its characters: only for looking it up in the cache.
///
/// Whenever [`parse`] accepts the header, this returns the same token. A token
/// the cache holds passed [`parse`] when it was first seen, so a cache hit on
/// these bytes stands for a header that [`parse`] would accept; anything else
/// goes through [`bearer_token`].
pub(crate) fn unchecked_token(headers: &HeaderMap) -> Option<&[u8]> {
    let mut values = headers.get_all(AUTHORIZATION);
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    // Spaces only, as in `parse`: a tab anywhere makes the header malformed.
    let mut value = value.as_bytes();
    while let [b' ', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' '] = value {
        value = rest;
    }
    let scheme = value.get(..6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") || value.get(6) != Some(&b' ') {
        return None;
    }
    let mut token = &value[7..];
    while let [b' ', rest @ ..] = token {
        token = rest;
    }
    (!token.is_empty()).then_some(token)
}

fn missing() -> MaskinportenError {
    MaskinportenError::new(ErrorKind::MissingToken, "no bearer token in the request")
}

/// Parses one `Authorization` field value.
pub(crate) fn parse(value: &[u8], max_len: usize) -> Result<&str, MaskinportenError> {
    // Only visible ASCII and spaces belong in credentials; a tab, a control
    // byte or a non-ASCII byte makes the whole header malformed.
    if !value.iter().all(|&b| b == b' ' || b.is_ascii_graphic()) {
        return Err(MaskinportenError::new(
            ErrorKind::InvalidRequest,
            "the Authorization header contains characters outside visible ASCII",
        ));
    }
    // Checked above: every byte is ASCII.
    let value = std::str::from_utf8(value).map_err(|_| missing())?;
    let value = value.trim_matches(' ');
    if value.is_empty() {
        return Err(missing());
    }
    let (scheme, rest) = match value.split_once(' ') {
        Some((scheme, rest)) => (scheme, rest.trim_start_matches(' ')),
        None => (value, ""),
    };
    // The scheme name is case-insensitive (RFC 9110 §11.1); another scheme
    // means no bearer credentials, which gets the bare challenge.
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(missing());
    }
    if rest.is_empty() {
        return Err(MaskinportenError::new(
            ErrorKind::InvalidRequest,
            "the Bearer scheme needs a token",
        ));
    }
    if rest.contains(' ') {
        return Err(MaskinportenError::new(
            ErrorKind::InvalidRequest,
            "the Authorization header carries more than one credential",
        ));
    }
    if rest.len() > max_len {
        return Err(MaskinportenError::new(
            ErrorKind::InvalidToken,
            "the access token is too large",
        ));
    }
    if !is_b64token(rest.as_bytes()) {
        return Err(MaskinportenError::new(
            ErrorKind::InvalidToken,
            "the access token is malformed",
        ));
    }
    Ok(rest)
}

/// RFC 6750's `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &[u8]) -> bool {
    let body_len = token.len() - token.iter().rev().take_while(|&&b| b == b'=').count();
    body_len > 0
        && token[..body_len].iter().all(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(value: &[u8]) -> Result<&str, ErrorKind> {
        parse(value, 64).map_err(|e| e.kind())
    }

    #[test]
    fn accepts_bearer_tokens_in_any_case_and_spacing() {
        assert_eq!(kind(b"Bearer abc.def-_~+/=="), Ok("abc.def-_~+/=="));
        assert_eq!(kind(b"bearer abc"), Ok("abc"));
        assert_eq!(kind(b"BEARER abc"), Ok("abc"));
        assert_eq!(kind(b"Bearer    abc  "), Ok("abc"));
    }

    fn headers(value: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let value = actix_web::http::header::HeaderValue::from_bytes(value).unwrap();
        headers.insert(AUTHORIZATION, value);
        headers
    }

    #[test]
    fn the_unchecked_token_is_the_parsed_one() {
        for value in [
            &b"Bearer abc"[..],
            b"bearer abc",
            b"BEARER  abc   ",
            b"   Bearer abc",
            b"Bearer abc.def-_~+/==",
        ] {
            let parsed = parse(value, 64).unwrap();
            assert_eq!(unchecked_token(&headers(value)), Some(parsed.as_bytes()));
        }
        for value in [
            &b"Bearer\tabc"[..],
            b"Basic abc",
            b"Bearer",
            b"Bearer   ",
            b"Bearerabc",
        ] {
            let headers = headers(value);
            let unchecked = unchecked_token(&headers);
            assert!(
                unchecked.is_none() || parse(value, 64).is_err(),
                "{value:?}"
            );
            assert!(
                unchecked.is_none_or(|t| !is_b64token(t) || t.contains(&b'\t')),
                "{value:?}"
            );
        }
    }

    #[test]
    fn tells_missing_from_malformed() {
        use ErrorKind::*;
        assert_eq!(kind(b""), Err(MissingToken));
        assert_eq!(kind(b"   "), Err(MissingToken));
        assert_eq!(kind(b"Basic dXNlcjpwYXNz"), Err(MissingToken));
        assert_eq!(kind(b"Bearerabc"), Err(MissingToken));
        assert_eq!(kind(b"Bearer"), Err(InvalidRequest));
        assert_eq!(kind(b"Bearer   "), Err(InvalidRequest));
        assert_eq!(kind(b"Bearer a b"), Err(InvalidRequest));
        assert_eq!(kind(b"Bearer\tabc"), Err(InvalidRequest));
        assert_eq!(kind(b"Bearer a\xffb"), Err(InvalidRequest));
        assert_eq!(kind(b"Bearer a,b"), Err(InvalidToken));
        assert_eq!(kind(b"Bearer ==="), Err(InvalidToken));
        assert_eq!(kind(b"Bearer a=b"), Err(InvalidToken));
        assert_eq!(
            kind(&[b"Bearer ".as_slice(), &[b'a'; 65]].concat()),
            Err(InvalidToken)
        );
        assert_eq!(
            kind(&[b"Bearer ".as_slice(), &[b'a'; 64]].concat()).map(str::len),
            Ok(64)
        );
    }
}
