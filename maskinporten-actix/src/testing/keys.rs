//! The local endpoint's signing keys, its JWKS, and small encoding helpers.
//!
//! The two RSA 2048 key pairs in `local-texas-*.key.pem` were generated once
//! with `openssl genrsa -traditional 2048` and are **public test keys**: they
//! are published with this crate, so nothing but [`LocalTexas`] ever trusts
//! them. Never configure a real deployment to accept tokens signed by them.
//!
//! [`LocalTexas`]: super::LocalTexas

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use jsonwebtoken::{jwk, Algorithm, DecodingKey, EncodingKey};
use serde_json::{json, Value};

/// The key whose public half the local endpoint publishes and trusts.
const TRUSTED_KEY_PEM: &str = include_str!("local-texas-1.key.pem");
/// A second key, never published: tokens signed by it cannot be validated.
const OTHER_KEY_PEM: &str = include_str!("local-texas-2.key.pem");

/// The `kid` of the key the local endpoint trusts (the only key in its JWKS
/// unless [`LocalTexas::set_jwks_keys`](super::LocalTexas::set_jwks_keys)
/// says otherwise).
pub const DEFAULT_KID: &str = "local-texas-1";
/// The `kid` put on tokens signed by the second key, which the endpoint does
/// not publish (or trust) unless told to.
pub const OTHER_KID: &str = "local-texas-2";

/// One RSA key pair and its public components.
pub(crate) struct KeyPair {
    pub(crate) kid: &'static str,
    pub(crate) encoding: EncodingKey,
    pub(crate) decoding: DecodingKey,
    /// base64url modulus.
    pub(crate) n: String,
    /// base64url public exponent.
    pub(crate) e: String,
}

/// Both key pairs, parsed once per process.
pub(crate) struct Keys {
    pub(crate) trusted: KeyPair,
    pub(crate) other: KeyPair,
}

impl Keys {
    /// The key pair with this `kid`, published or not.
    pub(crate) fn pair(&self, kid: &str) -> Option<&KeyPair> {
        [&self.trusted, &self.other]
            .into_iter()
            .find(|pair| pair.kid == kid)
    }

    /// The keys the endpoint validates with by default, by `kid` (only the
    /// trusted one).
    #[cfg(test)]
    pub(crate) fn lookup(&self, kid: &str) -> Option<&DecodingKey> {
        self.lookup_in(kid, &[DEFAULT_KID])
    }

    /// The key with this `kid` among the published ones.
    pub(crate) fn lookup_in(&self, kid: &str, published: &[&str]) -> Option<&DecodingKey> {
        published
            .contains(&kid)
            .then(|| self.pair(kid))
            .flatten()
            .map(|pair| &pair.decoding)
    }

    /// The JWKS document served on `GET /jwks` by default.
    #[cfg(test)]
    pub(crate) fn jwks(&self) -> Value {
        self.jwks_of(&[DEFAULT_KID])
    }

    /// The JWKS document publishing these keys.
    pub(crate) fn jwks_of(&self, published: &[&str]) -> Value {
        let keys: Vec<Value> = published
            .iter()
            .filter_map(|kid| self.pair(kid))
            .map(KeyPair::jwk)
            .collect();
        json!({ "keys": keys })
    }
}

impl KeyPair {
    /// The public key as a JWK.
    pub(crate) fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": self.n,
            "e": self.e,
        })
    }
}

/// The process-wide keys (parsed on first use).
pub(crate) fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        install_crypto_provider();
        Keys {
            trusted: key_pair(DEFAULT_KID, TRUSTED_KEY_PEM),
            other: key_pair(OTHER_KID, OTHER_KEY_PEM),
        }
    })
}

fn key_pair(kid: &'static str, pem: &str) -> KeyPair {
    // The PEM files are compiled in and known to be valid RSA keys: failing here
    // is a bug in this crate, not bad input.
    let encoding = EncodingKey::from_rsa_pem(pem.as_bytes())
        .expect("embedded local-texas test key is a valid RSA PEM");
    let jwk = jwk::Jwk::from_encoding_key(&encoding, Algorithm::RS256)
        .expect("embedded local-texas test key yields RSA public components");
    let (n, e) = match jwk.algorithm {
        jwk::AlgorithmParameters::RSA(rsa) => (rsa.n, rsa.e),
        _ => unreachable!("an RSA encoding key yields RSA JWK parameters"),
    };
    let decoding = DecodingKey::from_rsa_components(&n, &e)
        .expect("RSA components derived from the embedded key are valid base64url");
    KeyPair {
        kid,
        encoding,
        decoding,
        n,
        e,
    }
}

/// Selects jsonwebtoken's aws-lc-rs backend, the library's one crypto
/// provider, for this process unless a provider is already installed.
///
/// jsonwebtoken 11 picks a backend from its crate features on its own when
/// exactly one is enabled; installing explicitly keeps the local endpoint
/// working if another crate in the build also enables `rust_crypto`. An
/// already installed provider (ours or the application's) is left alone.
pub(crate) fn install_crypto_provider() {
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// A fresh, uuid-shaped (version 4 layout) identifier, unique within the
/// process and very likely across processes: SHA-256 over a process counter,
/// the clock, the process id and a per-process address.
pub(crate) fn fresh_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut hasher = digest::Context::new(&digest::SHA256);
    hasher.update(&count.to_le_bytes());
    hasher.update(&nanos.to_le_bytes());
    hasher.update(&std::process::id().to_le_bytes());
    hasher.update(&(&COUNTER as *const AtomicU64 as usize).to_le_bytes());
    let digest = hasher.finish();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest.as_ref()[..16]);
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Unpadded base64url (RFC 4648 §5), as JWTs use it.
pub(crate) fn b64url(input: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(input)
}

/// A JSON object rendered with `", "` and `": "` separators, keys in the given
/// order. Token headers are written this way (as Python's `json.dumps` does):
/// the column numbers in JSON errors about a header, such as the one for
/// `alg: none`, then match those of the captured Texas answers.
pub(crate) fn spaced_json_object(entries: &[(&str, &str)]) -> String {
    let fields: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{}: {}", Value::from(*k), Value::from(*v)))
        .collect();
    format!("{{{}}}", fields.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64url_matches_rfc4648_vectors() {
        assert_eq!(b64url(b""), "");
        assert_eq!(b64url(b"f"), "Zg");
        assert_eq!(b64url(b"fo"), "Zm8");
        assert_eq!(b64url(b"foo"), "Zm9v");
        assert_eq!(b64url(b"foob"), "Zm9vYg");
        assert_eq!(b64url(b"fooba"), "Zm9vYmE");
        assert_eq!(b64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn fresh_ids_are_uuid_shaped_and_distinct() {
        let a = fresh_id();
        let b = fresh_id();
        assert_ne!(a, b);
        for id in [a, b] {
            let parts: Vec<&str> = id.split('-').collect();
            let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
            assert_eq!(lens, [8, 4, 4, 4, 12], "{id}");
            assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
            assert_eq!(&parts[2][..1], "4");
        }
    }

    #[test]
    fn jwks_holds_only_the_trusted_key() {
        let jwks = keys().jwks();
        let list = jwks["keys"].as_array().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["kid"], DEFAULT_KID);
        assert_eq!(list[0]["e"], "AQAB");
        assert!(keys().lookup(OTHER_KID).is_none());
    }

    #[test]
    fn spaced_header_puts_alg_none_closing_quote_at_column_14() {
        let h = spaced_json_object(&[("alg", "none"), ("typ", "JWT")]);
        assert_eq!(h, r#"{"alg": "none", "typ": "JWT"}"#);
        assert_eq!(&h[13..14], "\"");
    }
}
