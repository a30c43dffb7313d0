//! The introspection strategy: the NAIS sidecar (Texas) judges each new
//! token, over HTTP, with a bound on the introspections in flight and,
//! when Maskinporten's keys are known, a signature check in front.
//!
//! Time is read from tokio's clock ([`tokio::time::Instant`]), as the
//! timeouts it bounds run on tokio's timers.

use std::{
    sync::{atomic::Ordering::Relaxed, Arc},
    time::Duration,
};

use reqwest::{header::CONTENT_TYPE, StatusCode, Url};
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::{jwks::KeyStore, jws::CompactJws, local, not_active, unavailable};
use crate::{
    claims::ClaimSet,
    error::{ConfigError, MaskinportenError},
    observe,
    stats::Counters,
};

/// How long a place stays taken after its introspection timed out.
const ABANDONED_CONNECTION_GRACE: Duration = Duration::from_millis(20);

/// The sidecar, asked through an introspector with a bound on the
/// introspections in flight, and the keys that check a token's signature
/// before it is asked, when known.
pub(crate) struct Sidecar {
    pub(crate) introspector: Introspector,
    pub(crate) in_flight: tokio::sync::Semaphore,
    pub(crate) timeout: Duration,
    pub(crate) keys: Option<Arc<KeyStore>>,
}

impl Sidecar {
    /// The sidecar's verdict on a token that passed the precheck.
    pub(crate) async fn check(
        &self,
        token: &str,
        jws: CompactJws<'_>,
        counters: &Counters,
    ) -> Result<Arc<ClaimSet>, MaskinportenError> {
        if let Some(keys) = &self.keys {
            match local::check_signature(keys, &jws).await {
                Ok(()) => {}
                Err(local::Failure::Refused(reason)) => {
                    Counters::count(&counters.refused_unasked);
                    tracing::debug!(reason, "token refused before asking the sidecar");
                    return Err(not_active());
                }
                // No key set was ever fetched here: the sidecar judges
                // alone. Once one is held, it decides on unknown kids
                // (above), even while the JWKS cannot be fetched again.
                Err(local::Failure::Unavailable(reason)) => {
                    tracing::debug!(reason, "signature not checked before the sidecar");
                }
            }
        }
        let started = Instant::now();
        // Waiting for a place counts against the same timeout as the
        // introspection itself: a caller never waits longer than it.
        let permit = tokio::time::timeout(self.timeout, self.in_flight.acquire())
            .await
            .ok()
            .and_then(Result::ok);
        let left = self.timeout.saturating_sub(started.elapsed());
        // A place that came free just before the deadline is not
        // worth a connection that would be dropped at once.
        let Some(_permit) = permit.filter(|_| left >= self.timeout / 10) else {
            Counters::count(&counters.validator_failures);
            observe::introspected(observe::Verdict::Failed, None);
            tracing::warn!("token could not be validated: too many introspections in flight");
            return Err(unavailable());
        };
        Counters::count(&counters.introspections);
        // Boxed, as the HTTP exchange's future is large and the
        // strategy's other paths should not carry it.
        let verdict = Box::pin(self.introspector.introspect(token, left)).await;
        if verdict.as_ref().err() == Some(&Failure::TIMED_OUT) {
            // The abandoned connection closes on its own task: keep
            // its place a moment longer, so that the endpoint never
            // sees more connections than the bound.
            tokio::time::sleep(ABANDONED_CONNECTION_GRACE).await;
        }
        let elapsed = started.elapsed();
        counters
            .introspection_micros
            .fetch_add(elapsed.as_micros() as u64, Relaxed);
        let elapsed_ms = elapsed.as_secs_f64() * 1e3;
        match verdict {
            Ok(Verdict::Active(claims)) => {
                observe::introspected(observe::Verdict::Active, Some(elapsed));
                tracing::debug!(elapsed_ms, active = true, "token introspected");
                Ok(Arc::new(claims))
            }
            Ok(Verdict::Inactive | Verdict::Unusable) => {
                observe::introspected(observe::Verdict::Inactive, Some(elapsed));
                tracing::debug!(elapsed_ms, active = false, "token introspected");
                Err(not_active())
            }
            Err(Failure(reason)) => {
                Counters::count(&counters.validator_failures);
                observe::introspected(observe::Verdict::Failed, Some(elapsed));
                tracing::warn!(elapsed_ms, reason, "token could not be validated");
                Err(unavailable())
            }
        }
    }
}

/// The most an introspection answer may weigh. A Maskinporten answer is about
/// one KiB; a far larger one is a broken or hostile endpoint, not a token.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What the endpoint said about a token.
pub(crate) enum Verdict {
    /// Active, with its claims.
    Active(ClaimSet),
    /// Not active (expired, wrong issuer, bad signature, ...).
    Inactive,
    /// Active, but with claims no Maskinporten token has (a `scope` that is
    /// not a string, ...): the sidecar copies a valid token's claims
    /// verbatim, so the token is at fault, and it is refused as local
    /// validation refuses it. Claims the sidecar itself checks (`iss`, `exp`,
    /// `iat`) missing or mistyped are a broken answer instead.
    Unusable,
}

/// The endpoint could not give a verdict: the caller is not at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failure(pub(crate) &'static str);

impl Failure {
    /// The endpoint took longer than the timeout: the request was abandoned,
    /// and its connection is being closed.
    pub(crate) const TIMED_OUT: Failure =
        Failure("the introspection endpoint did not answer in time");
}

/// One pooled HTTP client bound to one introspection endpoint.
pub(crate) struct Introspector {
    client: reqwest::Client,
    endpoint: Url,
}

#[derive(serde::Serialize)]
struct Request<'a> {
    identity_provider: &'static str,
    token: &'a str,
}

impl Introspector {
    pub(crate) fn new(endpoint: Url, timeout: Duration) -> Result<Self, ConfigError> {
        let client = crate::http::client(timeout, "the introspection endpoint", true)?;
        Ok(Introspector { client, endpoint })
    }

    pub(crate) fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// Asks the endpoint about `token`, giving up after `timeout`.
    pub(crate) async fn introspect(
        &self,
        token: &str,
        timeout: Duration,
    ) -> Result<Verdict, Failure> {
        if timeout.is_zero() {
            return Err(Failure::TIMED_OUT);
        }
        let body = serde_json::to_vec(&Request {
            identity_provider: "maskinporten",
            token,
        })
        .map_err(|_| Failure("could not encode the introspection request"))?;
        let mut response = self
            .client
            .post(self.endpoint.clone())
            .header(CONTENT_TYPE, "application/json")
            .timeout(timeout)
            .body(body)
            .send()
            .await
            .map_err(transport_failure)?;
        if response.status() != StatusCode::OK {
            tracing::warn!(
                status = response.status().as_u16(),
                "introspection endpoint answered with an error status"
            );
            return Err(Failure(
                "the introspection endpoint answered with an error status",
            ));
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_ANSWER_BYTES as u64)
        {
            return Err(Failure("the introspection answer is too large"));
        }
        let mut answer = Vec::with_capacity(2048);
        while let Some(chunk) = response.chunk().await.map_err(transport_failure)? {
            if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(Failure("the introspection answer is too large"));
            }
            answer.extend_from_slice(&chunk);
        }
        decode(&answer)
    }
}

fn transport_failure(error: reqwest::Error) -> Failure {
    // reqwest's Display includes the URL, never the request body, but the
    // kind is all the caller of a failed introspection needs.
    if error.is_timeout() {
        Failure::TIMED_OUT
    } else if error.is_connect() {
        Failure("the introspection endpoint is unreachable")
    } else {
        Failure("the introspection request failed")
    }
}

/// Decodes an introspection answer. `active` must be the JSON boolean `true`
/// for a token to count as active: anything else is either inactive (`false`)
/// or a broken answer. So is an object that names a claim twice: a parser
/// that kept the last `"active"` would turn `"active": false, ...,
/// "active": true` into a valid token.
pub(crate) fn decode(answer: &[u8]) -> Result<Verdict, Failure> {
    let UniqueKeys(mut object) = serde_json::from_slice(answer).map_err(|e| {
        if e.is_data() && e.to_string().starts_with(DUPLICATE) {
            Failure("the introspection answer names a claim twice")
        } else {
            Failure("the introspection answer is not a JSON object")
        }
    })?;
    match object.remove("active") {
        Some(Value::Bool(true)) => {
            // `exp` and `iat` are read first; `iss` is looked at here, since
            // another claim's problem may be found before it.
            let issuer_named = object.get("iss").is_some_and(Value::is_string);
            match ClaimSet::from_claims(object) {
                Ok(claims) => Ok(Verdict::Active(claims)),
                Err(malformed) if !issuer_named || SIDECAR_CHECKED.contains(&malformed.claim) => {
                    tracing::warn!(
                        claim = malformed.claim,
                        problem = malformed.problem,
                        "introspection endpoint called a token active but its claims are unusable"
                    );
                    Err(Failure("the introspection answer has unusable claims"))
                }
                Err(malformed) => {
                    tracing::debug!(
                        claim = malformed.claim,
                        problem = malformed.problem,
                        "a validly signed token has unusable claims"
                    );
                    Ok(Verdict::Unusable)
                }
            }
        }
        Some(Value::Bool(false)) => {
            // Texas' reason is opaque text for the logs, never for branching.
            let reason = object
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("no reason given");
            tracing::debug!(reason, "token is not active");
            Ok(Verdict::Inactive)
        }
        Some(_) => Err(Failure(
            "the introspection answer's `active` is not a boolean",
        )),
        None => Err(Failure("the introspection answer has no `active`")),
    }
}

const DUPLICATE: &str = "duplicate claim";

/// The claims the sidecar checks before it calls a token active: an active
/// answer without them (or with them mistyped) is the sidecar's fault.
const SIDECAR_CHECKED: [&str; 3] = ["iss", "exp", "iat"];

/// A JSON object whose keys are each present once.
struct UniqueKeys(Map<String, Value>);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = UniqueKeys;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<UniqueKeys, A::Error> {
                let mut map = Map::new();
                while let Some((key, value)) = access.next_entry::<String, Value>()? {
                    if map.contains_key(&key) {
                        return Err(serde::de::Error::custom(DUPLICATE));
                    }
                    map.insert(key, value);
                }
                Ok(UniqueKeys(map))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(answer: &str) -> Result<bool, &'static str> {
        match decode(answer.as_bytes()) {
            Ok(Verdict::Active(_)) => Ok(true),
            Ok(Verdict::Inactive | Verdict::Unusable) => Ok(false),
            Err(Failure(reason)) => Err(reason),
        }
    }

    #[test]
    fn a_token_with_unusable_claims_is_refused_and_a_broken_answer_is_not() {
        let unusable = |answer: &str| matches!(decode(answer.as_bytes()), Ok(Verdict::Unusable));
        // The token's own claims: refused, as local validation refuses it.
        assert!(unusable(
            r#"{"active":true,"iss":"i","exp":2,"iat":1,"scope":["a"]}"#
        ));
        assert!(unusable(
            r#"{"active":true,"iss":"i","exp":2,"iat":1,"jti":7}"#
        ));
        // What the sidecar checks itself: its answer is broken.
        assert!(outcome(r#"{"active":true,"iss":7,"exp":2,"iat":1}"#).is_err());
        assert!(outcome(r#"{"active":true,"iss":"i","exp":"2","iat":1}"#).is_err());
        assert!(outcome(r#"{"active":true,"iss":"i","exp":2}"#).is_err());
    }

    #[test]
    fn only_a_boolean_true_is_active() {
        assert_eq!(
            outcome(r#"{"active":true,"iss":"i","exp":2,"iat":1}"#),
            Ok(true)
        );
        assert_eq!(outcome(r#"{"active":false,"error":"x"}"#), Ok(false));
        assert!(outcome(r#"{"active":"true","iss":"i","exp":2,"iat":1}"#).is_err());
        assert!(outcome(r#"{"active":1}"#).is_err());
        assert!(outcome(r#"{"iss":"i"}"#).is_err());
        assert!(outcome(r#"[true]"#).is_err());
        assert!(outcome(r#"{"active":true"#).is_err());
        assert!(outcome("<html>").is_err());
        assert!(outcome(r#"{"active":true,"iss":"i"}"#).is_err());
    }

    #[test]
    fn a_claim_named_twice_makes_the_answer_unusable() {
        let claims = r#""iss":"i","exp":2,"iat":1"#;
        for answer in [
            format!(r#"{{"active":false,{claims},"active":true}}"#),
            format!(r#"{{"active":true,{claims},"active":true}}"#),
            format!(r#"{{"active":true,"scope":"a",{claims},"scope":"b"}}"#),
            format!(r#"{{"active":true,{claims},"exp":99999999999}}"#),
        ] {
            assert_eq!(
                outcome(&answer),
                Err("the introspection answer names a claim twice"),
                "{answer}"
            );
        }
        assert_eq!(
            outcome(&format!(r#"{{"active":true,{claims},"x":{{"a":1}}}}"#)),
            Ok(true)
        );
    }
}
