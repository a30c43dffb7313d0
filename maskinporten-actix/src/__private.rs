//! Items the `#[require_scope]`, `#[require_consumer]`, `scopes![]` and
//! `orgnos![]` expansions name. Not a public API: no stability promise,
//! hidden from the docs.

use std::marker::PhantomData;

use actix_web::{dev::Payload, FromRequest, HttpRequest};
use futures_util::future::{self, Either, FutureExt, LocalBoxFuture, Map, Ready};

use crate::MaskinportenClaims;

#[doc(hidden)]
pub use actix_web;
#[cfg(feature = "openapi")]
#[doc(hidden)]
pub use inventory;

/// The one rule type of every guard form; the attribute's constant is a
/// `Rule` of static lists.
pub use crate::rules::{Delegation, Match, Rule};

/// What a guarded handler requires; the attribute implements it on a unit
/// struct it emits beside the handler, so the requirement costs a static
/// slice.
pub trait Requirement: 'static {
    /// The requirement, its literals checked when the attribute expanded.
    const RULE: Rule;
}

/// A guarded handler and one of its rules, submitted where the attribute
/// expanded and collected when the program is linked: what the OpenAPI
/// document (feature `openapi`) says of the handler's operation.
#[derive(Debug, Clone, Copy)]
pub struct GuardedHandler {
    /// The handler's name: utoipa's default `operationId`.
    pub name: &'static str,
    /// The module it is in (`module_path!()`).
    pub module: &'static str,
    /// The rule of one attribute on it.
    pub rule: Rule,
}

#[cfg(feature = "openapi")]
inventory::collect!(GuardedHandler);

/// What `scopes![..]` expands to: its literals were checked when it did.
pub fn checked_scopes(scopes: &[&str]) -> crate::Scopes {
    crate::Scopes::checked(scopes)
}

/// What `orgnos![..]` expands to: its literals were checked when it did.
pub fn checked_orgnos(orgnos: &[&str]) -> crate::Orgnos {
    crate::Orgnos::checked(orgnos)
}

/// Its input where the `openapi` feature is on, nothing where it is off:
/// the attribute's submission of a [`GuardedHandler`] costs a build without
/// the feature nothing to check.
#[cfg(feature = "openapi")]
#[doc(hidden)]
#[macro_export]
macro_rules! __maskinporten_openapi_only {
    ($($item:tt)*) => { $($item)* };
}

/// Its input where the `openapi` feature is on, nothing where it is off.
#[cfg(not(feature = "openapi"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __maskinporten_openapi_only {
    ($($item:tt)*) => {};
}

pub use crate::__maskinporten_openapi_only as openapi_only;

/// The extractor the macro puts in place of a handler's arguments: it
/// authorises the request first (introspection, then the scope check) and only
/// then extracts the handler's own arguments `T`, so no body is read and no
/// other extractor runs for a caller that is not allowed in.
pub struct Guarded<R, T> {
    inner: T,
    requirement: PhantomData<R>,
}

impl<R, T> Guarded<R, T> {
    fn new(inner: T) -> Self {
        Guarded {
            inner,
            requirement: PhantomData,
        }
    }

    /// The handler's own arguments.
    #[inline]
    pub fn into_inner(self) -> T {
        self.inner
    }
}

type Authorized<R, T> = Result<Guarded<R, T>, actix_web::Error>;

impl<R, T> FromRequest for Guarded<R, T>
where
    R: Requirement,
    T: FromRequest + 'static,
{
    type Error = actix_web::Error;
    /// Ready at once for a rejection, the handler's own extractors straight
    /// after a cache hit, a boxed future only while an introspection runs.
    type Future = Either<
        Either<
            Ready<Authorized<R, T>>,
            Map<T::Future, fn(Result<T, T::Error>) -> Authorized<R, T>>,
        >,
        LocalBoxFuture<'static, Authorized<R, T>>,
    >;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // Decided on the validation where the request keeps it: the claims
        // are cloned only for the handler's own arguments.
        let decision = MaskinportenClaims::guard_decision(req, |record, claims| {
            R::RULE.decide(record, claims)
        });
        match decision {
            Ok(Ok(())) => {
                let wrap: fn(Result<T, T::Error>) -> Authorized<R, T> =
                    |inner| inner.map(Guarded::new).map_err(Into::into);
                Either::Left(Either::Right(T::from_request(req, payload).map(wrap)))
            }
            Ok(Err(rejection)) => Either::Left(Either::Left(future::ready(Err(R::RULE
                .refine(rejection)
                .into())))),
            Err(flight) => {
                let req = req.clone();
                let mut payload = payload.take();
                Either::Right(Box::pin(async move {
                    MaskinportenClaims::guard_decision_after(&req, flight, |record, claims| {
                        R::RULE.decide(record, claims)
                    })
                    .await
                    .map_err(|rejection| R::RULE.refine(rejection))?;
                    let inner = T::from_request(&req, &mut payload)
                        .await
                        .map_err(Into::into)?;
                    Ok(Guarded::new(inner))
                }))
            }
        }
    }
}

/// The per-request work that touches no network, exposed for the
/// micro-benchmarks and fuzz targets of this workspace (feature
/// `unstable-internals`, outside the semver promise).
#[cfg(feature = "unstable-internals")]
pub mod internals {
    use crate::{strategy::introspection, ErrorKind};

    /// Parses one `Authorization` field value into the bearer token.
    pub fn parse_authorization(value: &[u8], max_token_length: usize) -> Result<&str, ErrorKind> {
        crate::bearer::parse(value, max_token_length).map_err(|e| e.kind())
    }

    /// The outcome of decoding an introspection answer.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Decoded {
        /// Active, with usable claims.
        Active,
        /// Not active.
        Inactive,
        /// Active, with claims no Maskinporten token has: refused as the
        /// token's fault (401).
        Unusable,
        /// Not a usable answer: the guard answers 503.
        Broken,
    }

    /// Decodes an introspection answer as the guard does.
    pub fn decode_introspection(answer: &[u8]) -> Decoded {
        match introspection::decode(answer) {
            Ok(introspection::Verdict::Active(_)) => Decoded::Active,
            Ok(introspection::Verdict::Inactive) => Decoded::Inactive,
            Ok(introspection::Verdict::Unusable) => Decoded::Unusable,
            Err(_) => Decoded::Broken,
        }
    }

    /// Whether a token passes the checks made before any validator is asked
    /// (a compact JWS, RS256 with a kid, unexpired beyond 60 s, from
    /// `issuer` when given); `Err` holds the reason it is refused.
    pub fn precheck(token: &str, issuer: Option<&str>) -> Result<(), &'static str> {
        crate::strategy::jws::precheck(token, issuer, 60, crate::strategy::jws::unix_now())
            .map(drop)
            .map_err(|r| r.0)
    }

    /// The cache key of a token (SHA-256).
    pub fn token_key(token: &str) -> [u8; 32] {
        crate::cache::token_key(token.as_bytes())
    }

    /// Decodes an active answer into claims and checks `scopes` against them
    /// (all of them, or any with `any`); `None` when the answer is not active.
    pub fn claims_allow(answer: &[u8], scopes: &[&str], any: bool) -> Option<bool> {
        match introspection::decode(answer) {
            Ok(introspection::Verdict::Active(claims)) => {
                let claims = crate::MaskinportenClaims::new(
                    std::sync::Arc::new(claims),
                    std::sync::Arc::default(),
                );
                Some(claims.check(scopes, any).is_ok())
            }
            _ => None,
        }
    }
}

/// The entry points of the cargo-fuzz targets in `fuzz/` and of the test
/// that runs their seed corpus on the stable compiler: each reads arbitrary
/// bytes as the guard does and panics when an invariant of the result does
/// not hold. Feature `unstable-internals`, outside the semver promise.
#[cfg(feature = "unstable-internals")]
#[doc(hidden)]
pub mod fuzzing {
    use std::collections::BTreeSet;

    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};

    use crate::{
        bearer,
        claims::ClaimSet,
        strategy::{jwks, jws},
    };

    /// Reads `data` as a compact JWS, as both strategies do before anything
    /// else; returns whether it was read. Never panics on any input; what is
    /// read has exactly three non-empty base64url parts, of which the header
    /// and the payload decode and encode back to themselves (the signature
    /// too, when it decodes); the signing input and the
    /// signature are the token's own bytes around its last dot; the prechecks
    /// refuse what is not read, for the same reason; and a token that is read
    /// passes the `Authorization` parser unchanged.
    pub fn read_jws(data: &[u8]) -> bool {
        let Ok(token) = std::str::from_utf8(data) else {
            return false;
        };
        let now = jws::unix_now();
        let jws = match jws::CompactJws::read(token) {
            Ok(jws) => jws,
            Err(refusal) => {
                assert_eq!(jws::precheck(token, None, 60, now).err(), Some(refusal));
                return false;
            }
        };
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "{token:?}");
        for part in &parts[..2] {
            let decoded = URL_SAFE_NO_PAD.decode(part).expect("a part that was read");
            assert_eq!(URL_SAFE_NO_PAD.encode(decoded), *part, "{token:?}");
        }
        assert_eq!(jws.signing_input, format!("{}.{}", parts[0], parts[1]));
        assert_eq!(jws.signature, parts[2]);
        // The signature is only read as base64url characters; it decodes
        // when verified, and then encodes back to itself.
        assert!(!jws.signature.is_empty());
        match jws.signature_bytes() {
            Ok(signature) => assert_eq!(URL_SAFE_NO_PAD.encode(signature), jws.signature),
            Err(_) => assert!(URL_SAFE_NO_PAD.decode(jws.signature).is_err()),
        }
        // The claims the checks read are those of the payload.
        let payload: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        for claim in ["exp", "iat", "nbf"] {
            let seconds = jws.seconds(claim);
            assert_eq!(seconds == Ok(None), !payload.contains_key(claim));
            // A whole number of seconds from 0 up is read as it is, up to
            // the latest time an `i64` holds; a negative one never.
            let value = payload.get(claim);
            if let Some(exact) = value.and_then(|v| v.as_u64()) {
                let exact = i64::try_from(exact).unwrap_or(i64::MAX);
                assert_eq!(seconds, Ok(Some(exact)));
            }
            if value.and_then(|v| v.as_i64()).is_some_and(|v| v < 0) {
                assert!(seconds.is_err());
            }
        }
        let issuer = payload.get("iss").and_then(serde_json::Value::as_str);
        assert_eq!(jws.claims.issuer(), issuer);
        // The prechecks fail exactly where their steps say.
        let prechecked = jws::precheck(token, None, 60, now).map(drop);
        let stepwise = jws
            .rs256_kid()
            .map(drop)
            .and_then(|()| jws.precheck_claims(None, 60, now));
        assert_eq!(prechecked, stepwise);
        // The claim set read from the payload as it is parsed is the one
        // the payload's map makes, or refused for the same reason; but a
        // payload naming a claim the sidecar validates twice is refused.
        let payload_bytes = URL_SAFE_NO_PAD.decode(parts[1]).unwrap();
        let names: Names = serde_json::from_slice(&payload_bytes).unwrap();
        // The first validated claim, in the payload's order, named again.
        let twice = names.0.iter().enumerate().find_map(|(i, name)| {
            let validated = ["iss", "exp", "nbf", "sub", "aud"]
                .into_iter()
                .find(|claim| claim == name)?;
            names.0[..i].contains(name).then_some(validated)
        });
        let built = jws.claims.build().map(|set| set.to_map());
        match twice {
            Some(claim) => assert_eq!(
                built.err().map(|e| (e.claim, e.problem)),
                Some((claim, "is named twice")),
                "{token:?}"
            ),
            None => assert_eq!(
                built,
                ClaimSet::from_claims(payload).map(|set| set.to_map()),
                "{token:?}"
            ),
        }
        // A token that reads as a JWS is a b64token the header parser takes.
        let header = format!("Bearer {token}");
        assert_eq!(
            bearer::parse(header.as_bytes(), token.len()).ok(),
            Some(token)
        );
        true
    }

    /// The names of a JSON object, in order, repeats kept.
    struct Names(Vec<String>);

    impl<'de> serde::Deserialize<'de> for Names {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Visitor;
            impl<'de> serde::de::Visitor<'de> for Visitor {
                type Value = Names;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Names, A::Error> {
                    let mut names = Vec::new();
                    while let Some(name) = map.next_key::<String>()? {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        names.push(name);
                    }
                    Ok(Names(names))
                }
            }
            deserializer.deserialize_map(Visitor)
        }
    }

    /// Parses `data` as a JWKS, as local validation and the signature check
    /// do; returns the number of keys kept. Never panics on any input; a set
    /// that is taken holds at least one key, each under the `kid` of an RSA
    /// entry of the document; parsing is deterministic; and the kept entries
    /// alone, written out again, parse to the same keys.
    pub fn parse_jwks(data: &[u8]) -> usize {
        let Ok(keys) = jwks::parse_jwks(data) else {
            return 0;
        };
        assert!(!keys.is_empty());
        let kids: BTreeSet<&str> = keys.keys().map(String::as_str).collect();
        let document: serde_json::Value = serde_json::from_slice(data).expect("a JSON key set");
        let entries = document["keys"].as_array().expect("a keys array");
        let kept: Vec<&serde_json::Value> = entries
            .iter()
            .filter(|entry| entry["kty"] == "RSA")
            .filter(|entry| entry["kid"].as_str().is_some_and(|kid| kids.contains(kid)))
            .collect();
        for kid in &kids {
            assert!(kept.iter().any(|entry| entry["kid"] == *kid), "{kid:?}");
        }
        let again = jwks::parse_jwks(data).expect("the same document");
        assert_eq!(
            again.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            kids
        );
        let rewritten = serde_json::json!({ "keys": kept }).to_string();
        let reparsed = jwks::parse_jwks(rewritten.as_bytes()).expect("the kept keys");
        assert_eq!(
            reparsed.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            kids
        );
        keys.len()
    }
}
