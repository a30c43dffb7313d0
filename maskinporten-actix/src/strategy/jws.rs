//! Reading a token as a compact JWS (RFC 7515 §7.1): the part both strategies
//! share. Introspection uses it to refuse, without a network call, what the
//! sidecar would refuse anyway; local validation uses it before it checks
//! the signature.
//!
//! Nothing here trusts the token: the header and the claims are only read.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use serde::Deserialize;

use crate::claims::ClaimSetBuilder;

/// The one signature algorithm Maskinporten uses and the sidecar accepts.
pub(crate) const RS256: &str = "RS256";

/// A compact JWS, read but not verified.
pub(crate) struct CompactJws<'t> {
    /// `<header>.<payload>`, the bytes the signature covers.
    pub(crate) signing_input: &'t str,
    /// The third part, still base64url.
    pub(crate) signature: &'t str,
    pub(crate) header: Header,
    /// The payload's claims, read into the claim set they make once the
    /// token is found valid.
    pub(crate) claims: ClaimSetBuilder,
}

/// The JOSE header fields the decision needs; the rest is ignored.
#[derive(Deserialize)]
pub(crate) struct Header {
    pub(crate) alg: String,
    #[serde(default)]
    pub(crate) kid: Option<String>,
    /// Extensions the token says must be understood (RFC 7515 §4.1.11):
    /// this crate understands none, so a token naming any is refused.
    #[serde(default)]
    crit: Present,
}

/// Whether a header field is there, whatever its value (`null` too).
#[derive(Default)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer).map(|_| Present(true))
    }
}

/// Why a token is refused without asking anyone. Each is a reason the
/// sidecar would give too; the text is for logs, never for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal(pub(crate) &'static str);

impl<'t> CompactJws<'t> {
    /// Splits and decodes the token. A token that is not three base64url
    /// parts, or whose header or payload is not a JSON object, is refused.
    pub(crate) fn read(token: &'t str) -> Result<Self, Refusal> {
        let malformed = Refusal("not a compact JWS");
        let (signing_input, signature) = token.rsplit_once('.').ok_or(malformed)?;
        let (header, payload) = signing_input.split_once('.').ok_or(malformed)?;
        // The header and the payload are checked as base64url as they are
        // decoded (a `.` in either, a fourth part, fails there); the
        // signature here, since the sidecar is asked without decoding it.
        if header.is_empty() || payload.is_empty() || !is_base64url(signature) {
            return Err(malformed);
        }
        let header: Header = decode_json(header, malformed, Refusal("the JWS header is unusable"))?;
        if header.crit.0 {
            return Err(Refusal("the token header names critical extensions"));
        }
        let claims: ClaimSetBuilder = decode_json(
            payload,
            malformed,
            Refusal("the JWS payload is not a JSON object"),
        )?;
        Ok(CompactJws {
            signing_input,
            signature,
            header,
            claims,
        })
    }

    /// The `kid` of an RS256 header: anything else the sidecar refuses.
    pub(crate) fn rs256_kid(&self) -> Result<&str, Refusal> {
        if self.header.alg != RS256 {
            return Err(Refusal("the token is not signed with RS256"));
        }
        self.header
            .kid
            .as_deref()
            .ok_or(Refusal("the token header has no key id"))
    }

    /// The decoded signature.
    pub(crate) fn signature_bytes(&self) -> Result<Vec<u8>, Refusal> {
        URL_SAFE_NO_PAD
            .decode(self.signature)
            .map_err(|_| Refusal("the signature is not base64url"))
    }

    /// A NumericDate claim in whole seconds: `Ok(None)` when absent.
    pub(crate) fn seconds(&self, claim: &'static str) -> Result<Option<i64>, Refusal> {
        self.claims
            .seconds(claim)
            .map_err(|()| Refusal("a time claim is not a number"))
    }

    /// The checks on the claims that need no key: `exp` present and not
    /// passed beyond `leeway`, and, when the issuer is known, `iss` equal
    /// to it. What the sidecar refuses, refused here without the round trip.
    pub(crate) fn precheck_claims(
        &self,
        issuer: Option<&str>,
        leeway_secs: i64,
        now: i64,
    ) -> Result<(), Refusal> {
        let exp = self
            .seconds("exp")?
            .ok_or(Refusal("the token has no exp"))?;
        if exp.saturating_add(leeway_secs) < now {
            return Err(Refusal("the token has expired"));
        }
        if let Some(issuer) = issuer {
            if self.claims.issuer() != Some(issuer) {
                return Err(Refusal("the token is from another issuer"));
            }
        }
        Ok(())
    }
}

/// Every check that needs neither a key nor the network, in the order the
/// sidecar makes them: a compact JWS, RS256 with a `kid`, `exp` not passed
/// beyond the leeway, and the issuer when it is known.
pub(crate) fn precheck<'t>(
    token: &'t str,
    issuer: Option<&str>,
    leeway_secs: i64,
    now: i64,
) -> Result<CompactJws<'t>, Refusal> {
    let jws = CompactJws::read(token)?;
    jws.rs256_kid()?;
    jws.precheck_claims(issuer, leeway_secs, now)?;
    Ok(jws)
}

/// Now, in Unix seconds.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The bytes of unpadded base64url (RFC 7515 §2).
const BASE64URL: [bool; 256] = {
    let mut alphabet = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        alphabet[byte] = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        byte += 1;
    }
    alphabet
};

/// Unpadded base64url, non-empty. Every byte is looked at, without a branch
/// per byte: a flood of forged tokens pays this on each.
fn is_base64url(part: &str) -> bool {
    !part.is_empty()
        && part
            .bytes()
            .fold(true, |all, b| all & BASE64URL[usize::from(b)])
}

/// A part decoded from base64url (`not_base64url` where it is not), then
/// read as JSON (`not_json` where it is not `T`).
fn decode_json<T: serde::de::DeserializeOwned>(
    part: &str,
    not_base64url: Refusal,
    not_json: Refusal,
) -> Result<T, Refusal> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| not_base64url)?;
    serde_json::from_slice(&bytes).map_err(|_| not_json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64(payload))
    }

    const HEADER: &str = r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#;

    #[test]
    fn a_header_with_crit_is_refused_whatever_it_names() {
        assert!(CompactJws::read(&token(HEADER, "{}")).is_ok());
        for crit in [r#"["exp"]"#, "[]", "null", r#""b64""#] {
            let header = format!(r#"{{"alg":"RS256","kid":"k1","crit":{crit}}}"#);
            assert_eq!(
                CompactJws::read(&token(&header, "{}")).err(),
                Some(Refusal("the token header names critical extensions")),
                "{crit}"
            );
        }
    }

    #[test]
    fn the_alphabet_is_base64url_and_nothing_else() {
        for c in (0u8..=255).map(char::from) {
            let expected = c.is_ascii_alphanumeric() || c == '-' || c == '_';
            assert_eq!(is_base64url(&format!("ab{c}cd")), expected, "{c:?}");
        }
        assert!(!is_base64url(""));
    }

    #[test]
    fn reads_three_parts_with_json_objects() {
        let t = token(HEADER, r#"{"iss":"i","exp":100}"#);
        let jws = CompactJws::read(&t).unwrap();
        assert_eq!(jws.rs256_kid(), Ok("k1"));
        assert_eq!(jws.seconds("exp"), Ok(Some(100)));
        assert_eq!(jws.signature_bytes().unwrap(), b"sig");
        assert_eq!(jws.signing_input, &t[..t.rfind('.').unwrap()]);
    }

    #[test]
    fn refuses_what_is_not_a_compact_jws() {
        let good_header = b64(HEADER);
        let good_payload = b64(r#"{"exp":1}"#);
        for t in [
            String::new(),
            "abc".into(),
            "a.b".into(),
            "a.b.c.d".into(),
            format!("{good_header}.{good_payload}."),
            format!("{good_header}..c2ln"),
            format!(".{good_payload}.c2ln"),
            format!("{good_header}.{good_payload}.c2ln="),
            format!("{good_header}=.{good_payload}.c2ln"),
            format!("{good_header}.{}.c2ln", b64("[1]")),
            format!("{good_header}.{}.c2ln", b64("\"x\"")),
            format!("{}.{good_payload}.c2ln", b64("{}")),
            format!("{}.{good_payload}.c2ln", b64("not json")),
            format!("{good_header}.e30+.c2ln"),
        ] {
            assert!(CompactJws::read(&t).is_err(), "{t}");
        }
    }

    #[test]
    fn only_rs256_with_a_kid() {
        for header in [
            r#"{"alg":"none","kid":"k1"}"#,
            r#"{"alg":"HS256","kid":"k1"}"#,
            r#"{"alg":"RS384","kid":"k1"}"#,
            r#"{"alg":"rs256","kid":"k1"}"#,
            r#"{"alg":"RS256"}"#,
        ] {
            let t = token(header, "{}");
            assert!(
                CompactJws::read(&t).unwrap().rs256_kid().is_err(),
                "{header}"
            );
        }
    }

    #[test]
    fn claims_prechecked_with_leeway_and_issuer() {
        let check = |payload: &str, issuer: Option<&str>| {
            let t = token(HEADER, payload);
            CompactJws::read(&t)
                .unwrap()
                .precheck_claims(issuer, 60, 1_000)
        };
        assert!(check(r#"{"exp":1000}"#, None).is_ok());
        assert!(check(r#"{"exp":941}"#, None).is_ok());
        assert!(check(r#"{"exp":940}"#, None).is_ok());
        assert!(check(r#"{"exp":939}"#, None).is_err());
        assert!(check(r#"{"iss":"a"}"#, None).is_err());
        assert!(check(r#"{"exp":"soon"}"#, None).is_err());
        assert!(check(r#"{"exp":2000,"iss":"a"}"#, Some("a")).is_ok());
        assert!(check(r#"{"exp":2000,"iss":"b"}"#, Some("a")).is_err());
        assert!(check(r#"{"exp":2000}"#, Some("a")).is_err());
        assert!(check(r#"{"exp":2000,"iss":"b"}"#, None).is_ok());
    }
}
