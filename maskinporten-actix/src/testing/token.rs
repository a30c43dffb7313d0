//! Minting Maskinporten-shaped access tokens, valid or broken on purpose.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Map, Value};

use super::keys::{self, b64url, fresh_id, spaced_json_object, unix_now, DEFAULT_KID};

/// The organisation number a token's `consumer` gets unless
/// [`TokenBuilder::consumer`] says otherwise.
pub const DEFAULT_CONSUMER_ORGNO: &str = "991825827";

/// The lifetime a token gets unless [`TokenBuilder::expires_in`] or
/// [`TokenBuilder::exp`] says otherwise.
pub const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(120);

/// The ISO 6523 authority of Norwegian organisation numbers in `consumer` and
/// `supplier`.
const AUTHORITY: &str = "iso6523-actorid-upis";

/// How the token is signed.
#[derive(Clone, Debug)]
enum Signing {
    /// RS256 with the key the endpoint trusts.
    Trusted,
    /// RS256 with the second key, which is not in the JWKS.
    OtherKey,
    /// RS384 with the trusted key.
    Rs384,
    /// HS256 with a shared secret.
    Hs256(Vec<u8>),
    /// `alg: none`, empty signature.
    Unsigned,
}

/// What goes in the header's `kid`.
#[derive(Clone, Debug)]
enum Kid {
    /// The signing key's own kid.
    Default,
    /// A kid chosen by the test.
    Custom(String),
    /// No kid at all.
    Absent,
}

/// Builds one access token shaped like Maskinporten's, signed by a
/// [`LocalTexas`](super::LocalTexas) key, or broken in one chosen way.
///
/// Get one from [`LocalTexas::token`](super::LocalTexas::token). By default
/// the token carries what a real Maskinporten token carries: `iss` (the
/// endpoint's issuer), `client_id` (a fresh uuid-shaped id), `client_amr`
/// (`private_key_jwt`), `consumer` (organisation [`DEFAULT_CONSUMER_ORGNO`]),
/// `scope` (empty until you add scopes), `token_type` (`Bearer`), `exp`
/// (now + [`DEFAULT_EXPIRES_IN`]), `iat` (now) and `jti` (a fresh id). It is
/// RS256-signed with the key the endpoint publishes, under kid
/// [`DEFAULT_KID`](super::DEFAULT_KID).
///
/// Every setter takes `self` and returns the builder, and edits the claims at
/// once: when two calls touch the same claim, the later call wins (so
/// `.without("scope").scope("a")` has a scope, `.scope("a").without("scope")`
/// has none).
///
/// ```
/// # use maskinporten_actix::testing::LocalTexas;
/// # let texas = LocalTexas::start();
/// let token = texas
///     .token()
///     .scope("nav:helse/sykepenger/afp.read")
///     .consumer("974761076")
///     .sign();
/// assert_eq!(token.split('.').count(), 3);
/// ```
#[derive(Clone, Debug)]
#[must_use = "a TokenBuilder does nothing until `.sign()` is called"]
pub struct TokenBuilder {
    claims: Map<String, Value>,
    scopes: Vec<String>,
    signing: Signing,
    kid: Kid,
    tampered: Vec<(String, Value)>,
    /// Members written into the signed payload as given, after the claims.
    raw: Vec<String>,
}

impl TokenBuilder {
    /// A builder for a valid token from `issuer`, with the default claims.
    ///
    /// Tokens are signed by the key every [`LocalTexas`](super::LocalTexas)
    /// trusts, so they validate against any local endpoint configured with
    /// the same issuer. [`LocalTexas::token`](super::LocalTexas::token) is the
    /// usual way in.
    pub fn new(issuer: impl Into<String>) -> Self {
        let now = unix_now();
        let mut claims = Map::new();
        claims.insert("iss".into(), Value::String(issuer.into()));
        claims.insert("client_id".into(), Value::String(fresh_id()));
        claims.insert("client_amr".into(), Value::from("private_key_jwt"));
        claims.insert(
            "consumer".into(),
            org_claim(&format!("0192:{DEFAULT_CONSUMER_ORGNO}")),
        );
        claims.insert("scope".into(), Value::from(""));
        claims.insert("token_type".into(), Value::from("Bearer"));
        claims.insert(
            "exp".into(),
            Value::from(now.saturating_add(secs(DEFAULT_EXPIRES_IN))),
        );
        claims.insert("iat".into(), Value::from(now));
        claims.insert("jti".into(), Value::String(fresh_id()));
        TokenBuilder {
            claims,
            scopes: Vec::new(),
            signing: Signing::Trusted,
            kid: Kid::Default,
            tampered: Vec::new(),
            raw: Vec::new(),
        }
    }

    // ----- scope -------------------------------------------------------

    /// Adds one scope; the `scope` claim is all added scopes joined by one
    /// space, in the order added.
    pub fn scope(mut self, scope: &str) -> Self {
        self.scopes.push(scope.to_owned());
        self.set_scope_from_list();
        self
    }

    /// Adds several scopes (see [`scope`](Self::scope)).
    pub fn scopes<I>(mut self, scopes: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.scopes
            .extend(scopes.into_iter().map(|s| s.as_ref().to_owned()));
        self.set_scope_from_list();
        self
    }

    /// Sets the `scope` claim verbatim, e.g. with tabs or repeated spaces
    /// between scopes, and forgets scopes added before.
    pub fn raw_scope(mut self, scope: &str) -> Self {
        self.scopes.clear();
        self.claims
            .insert("scope".into(), Value::String(scope.to_owned()));
        self
    }

    fn set_scope_from_list(&mut self) {
        self.claims
            .insert("scope".into(), Value::String(self.scopes.join(" ")));
    }

    // ----- organisations -------------------------------------------------

    /// Sets `consumer` to organisation number `orgno`:
    /// `{"authority": "iso6523-actorid-upis", "ID": "0192:<orgno>"}`.
    pub fn consumer(self, orgno: &str) -> Self {
        self.consumer_id(&format!("0192:{orgno}"))
    }

    /// Sets `consumer.ID` verbatim (e.g. `"0192:991825827:extra"` or
    /// something malformed).
    pub fn consumer_id(mut self, id: &str) -> Self {
        self.claims.insert("consumer".into(), org_claim(id));
        self
    }

    /// Sets `supplier` (absent by default) to organisation number `orgno`,
    /// as in a token fetched by a supplier on the consumer's behalf.
    pub fn supplier(self, orgno: &str) -> Self {
        self.supplier_id(&format!("0192:{orgno}"))
    }

    /// Sets `supplier.ID` verbatim.
    pub fn supplier_id(mut self, id: &str) -> Self {
        self.claims.insert("supplier".into(), org_claim(id));
        self
    }

    // ----- identifiers -----------------------------------------------------

    /// Sets `client_id` (default: a fresh uuid-shaped id).
    pub fn client_id(mut self, client_id: &str) -> Self {
        self.claims
            .insert("client_id".into(), Value::String(client_id.to_owned()));
        self
    }

    /// Sets `jti` (default: a fresh uuid-shaped id).
    pub fn jti(mut self, jti: &str) -> Self {
        self.claims
            .insert("jti".into(), Value::String(jti.to_owned()));
        self
    }

    /// Overrides `iss` (default: the endpoint's issuer). Any other value makes
    /// the endpoint answer `invalid token: InvalidIssuer`.
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.claims
            .insert("iss".into(), Value::String(issuer.to_owned()));
        self
    }

    // ----- time ------------------------------------------------------------

    /// Sets `exp` to now + `lifetime` (default 120 s).
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.claims.insert(
            "exp".into(),
            Value::from(unix_now().saturating_add(secs(lifetime))),
        );
        self
    }

    /// Sets `exp` to `ago` before now: an expired token once `ago` exceeds
    /// the endpoint's 60 s leeway.
    pub fn expired(mut self, ago: Duration) -> Self {
        self.claims.insert(
            "exp".into(),
            Value::from(unix_now().saturating_sub(secs(ago))),
        );
        self
    }

    /// Sets `exp` to `unix_seconds`.
    pub fn exp(mut self, unix_seconds: i64) -> Self {
        self.claims.insert("exp".into(), Value::from(unix_seconds));
        self
    }

    /// Sets `iat` to `unix_seconds` (default: now).
    pub fn iat(mut self, unix_seconds: i64) -> Self {
        self.claims.insert("iat".into(), Value::from(unix_seconds));
        self
    }

    /// Sets `nbf` (absent by default) to `unix_seconds`.
    pub fn nbf(mut self, unix_seconds: i64) -> Self {
        self.claims.insert("nbf".into(), Value::from(unix_seconds));
        self
    }

    // ----- any claim -------------------------------------------------------

    /// Adds or replaces the claim `name` with `value`, e.g. `aud`, `pid`,
    /// `delegation_source`, `authorization_details`, or a wrongly typed `exp`.
    pub fn claim(mut self, name: &str, value: Value) -> Self {
        if name == "scope" {
            self.scopes.clear();
        }
        self.claims.insert(name.to_owned(), value);
        self
    }

    /// Removes the claim `name` (e.g. `"exp"`, `"iss"`, `"scope"`).
    pub fn without(mut self, name: &str) -> Self {
        if name == "scope" {
            self.scopes.clear();
        }
        self.claims.remove(name);
        self
    }

    // ----- header and signature ------------------------------------------

    /// Puts `kid` in the header instead of the signing key's own. A kid the
    /// endpoint does not know makes it answer `token can not be validated
    /// with this identity provider`.
    pub fn kid(mut self, kid: &str) -> Self {
        self.kid = Kid::Custom(kid.to_owned());
        self
    }

    /// Leaves `kid` out of the header: `missing key id from token header`.
    pub fn without_kid(mut self) -> Self {
        self.kid = Kid::Absent;
        self
    }

    /// Makes an unsigned token (`alg: none`, empty signature).
    pub fn unsigned(mut self) -> Self {
        self.signing = Signing::Unsigned;
        self
    }

    /// Signs with HS256 and `secret` instead (the header keeps the trusted
    /// kid unless told otherwise): `invalid token: InvalidAlgorithm`.
    pub fn hs256(mut self, secret: &[u8]) -> Self {
        self.signing = Signing::Hs256(secret.to_vec());
        self
    }

    /// Signs with RS384 and the trusted key: a valid signature, but not the
    /// algorithm Maskinporten uses (`invalid token: InvalidAlgorithm`).
    pub fn rs384(mut self) -> Self {
        self.signing = Signing::Rs384;
        self
    }

    /// Signs with HS256, using the trusted public key (its JWK, as the JWKS
    /// publishes it) as the HMAC secret: the algorithm-confusion attack,
    /// which a verifier that lets the token choose the algorithm would
    /// accept.
    pub fn hs256_with_public_key(self) -> Self {
        let secret = keys::keys().trusted.jwk().to_string();
        self.hs256(secret.as_bytes())
    }

    /// Signs with RS256 and a second key whose kid
    /// ([`OTHER_KID`](super::OTHER_KID)) is not in the endpoint's JWKS.
    /// Combine with `.kid(DEFAULT_KID)` for a token that claims the trusted
    /// key but is signed by another (`invalid token: InvalidSignature`).
    pub fn signed_by_other_key(mut self) -> Self {
        self.signing = Signing::OtherKey;
        self
    }

    /// Writes `member` (`"name": value`, JSON as it is to stand in the
    /// payload) into the signed payload after the claims, as given: for
    /// payloads a map cannot hold, such as a claim named twice or a number
    /// no JSON value type keeps as written.
    ///
    /// ```
    /// # use maskinporten_actix::testing::{TokenBuilder, DEFAULT_ISSUER};
    /// // `iss` twice, the real one last; `exp` beyond any integer.
    /// let token = TokenBuilder::new(DEFAULT_ISSUER)
    ///     .without("exp")
    ///     .raw_member(r#""exp": 1e300"#)
    ///     .raw_member(&format!(r#""iss": "{DEFAULT_ISSUER}""#))
    ///     .sign();
    /// # assert_eq!(token.split('.').count(), 3);
    /// ```
    pub fn raw_member(mut self, member: &str) -> Self {
        self.raw.push(member.to_owned());
        self
    }

    /// Changes the payload after signing, so the signature no longer matches
    /// (`invalid token: InvalidSignature`): the signed claims are the
    /// configured ones; the shipped payload also has `"tampered": true`.
    pub fn tampered(self) -> Self {
        self.tampered_claim("tampered", Value::Bool(true))
    }

    /// Like [`tampered`](Self::tampered), but the change made after signing
    /// is: claim `name` set to `value` (e.g. widen `scope`).
    pub fn tampered_claim(mut self, name: &str, value: Value) -> Self {
        self.tampered.push((name.to_owned(), value));
        self
    }

    /// The claims the token will carry (before any tampering).
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// Encodes and signs the token: `header.payload.signature`.
    pub fn sign(&self) -> String {
        let keys = keys::keys();
        let hmac_key;
        let (alg, key): (&str, Option<(&EncodingKey, Algorithm)>) = match &self.signing {
            Signing::Trusted => ("RS256", Some((&keys.trusted.encoding, Algorithm::RS256))),
            Signing::OtherKey => ("RS256", Some((&keys.other.encoding, Algorithm::RS256))),
            Signing::Rs384 => ("RS384", Some((&keys.trusted.encoding, Algorithm::RS384))),
            Signing::Hs256(secret) => {
                hmac_key = EncodingKey::from_secret(secret);
                ("HS256", Some((&hmac_key, Algorithm::HS256)))
            }
            Signing::Unsigned => ("none", None),
        };
        let own_kid = match self.signing {
            Signing::OtherKey => keys.other.kid,
            _ => DEFAULT_KID,
        };
        let kid = match &self.kid {
            Kid::Default => Some(own_kid),
            Kid::Custom(kid) => Some(kid.as_str()),
            Kid::Absent => None,
        };
        let mut header = vec![("alg", alg), ("typ", "JWT")];
        if let Some(kid) = kid {
            header.push(("kid", kid));
        }
        let header = b64url(spaced_json_object(&header).as_bytes());
        let payload = b64url(&with_raw(payload_json(&self.claims), &self.raw));
        let message = format!("{header}.{payload}");

        let signature = match key {
            None => String::new(),
            Some((key, alg)) => {
                keys::install_crypto_provider();
                jsonwebtoken::crypto::sign(message.as_bytes(), key, alg)
                    .expect("signing with an embedded test key or an HMAC secret cannot fail")
            }
        };

        if self.tampered.is_empty() {
            return format!("{message}.{signature}");
        }
        let mut changed = self.claims.clone();
        for (name, value) in &self.tampered {
            changed.insert(name.clone(), value.clone());
        }
        let changed = with_raw(payload_json(&changed), &self.raw);
        format!("{header}.{}.{signature}", b64url(&changed))
    }

    /// Signs the token padded to `len` bytes with a `pad` claim of `x`s, or
    /// to the first length above `len` that base64 allows: for measuring
    /// or testing what a token's size costs. `None` when the token without
    /// the claim is already longer than `len`.
    ///
    /// ```
    /// # use maskinporten_actix::testing::{TokenBuilder, DEFAULT_ISSUER};
    /// let token = TokenBuilder::new(DEFAULT_ISSUER).sign_padded(900).unwrap();
    /// assert!((900..=901).contains(&token.len()));
    /// ```
    pub fn sign_padded(&self, len: usize) -> Option<String> {
        let unpadded = self.sign().len();
        if unpadded > len {
            return None;
        }
        // A claim of n bytes adds `,"pad":""` and the n bytes to the JSON,
        // at least 4/3 as many characters of base64 less two: starting a
        // few bytes below that never skips the shortest long enough token.
        let start = ((len - unpadded) * 3 / 4).saturating_sub(16);
        (start..)
            .map(|pad| {
                self.clone()
                    .claim("pad", Value::String("x".repeat(pad)))
                    .sign()
            })
            .find(|token| token.len() >= len)
    }
}

fn org_claim(id: &str) -> Value {
    let mut org = Map::new();
    org.insert("authority".into(), Value::from(AUTHORITY));
    org.insert("ID".into(), Value::String(id.to_owned()));
    Value::Object(org)
}

fn payload_json(claims: &Map<String, Value>) -> Vec<u8> {
    // Serialising a map of JSON values cannot fail.
    serde_json::to_vec(claims).unwrap_or_default()
}

/// A JSON object with `members` written in before its closing brace.
fn with_raw(mut object: Vec<u8>, members: &[String]) -> Vec<u8> {
    for member in members {
        object.pop();
        if object.len() > 1 {
            object.push(b',');
        }
        object.extend_from_slice(member.as_bytes());
        object.push(b'}');
    }
    object
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
