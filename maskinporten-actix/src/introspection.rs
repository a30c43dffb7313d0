//! Token introspection against the NAIS sidecar (Texas), over HTTP.

use std::{sync::Arc, time::Duration};

use reqwest::{header::CONTENT_TYPE, StatusCode, Url};
use serde_json::{Map, Value};

use crate::{claims::ClaimSet, error::ConfigError};

/// The most an introspection answer may weigh. A Maskinporten answer is about
/// one KiB; a far larger one is a broken or hostile endpoint, not a token.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What the endpoint said about a token.
pub(crate) enum Verdict {
    /// Active, with its claims.
    Active(ClaimSet),
    /// Not active (expired, wrong issuer, bad signature, ...).
    Inactive,
}

/// The endpoint could not give a verdict: the caller is not at fault.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failure(pub(crate) &'static str);

/// One pooled HTTP client bound to one introspection endpoint.
pub(crate) struct Introspector {
    client: reqwest::Client,
    endpoint: Url,
}

/// The HTTP client both strategies talk through: to the sidecar, or to the
/// JWKS. `peer` names what it talks to, for the error message; `direct`
/// ignores proxies from the environment (the sidecar is on loopback, while
/// the JWKS may sit behind the proxy the application is given).
pub(crate) fn http_client(
    timeout: Duration,
    peer: &str,
    direct: bool,
) -> Result<reqwest::Client, ConfigError> {
    // ring as the crypto provider, chosen here rather than installed
    // process-wide, so the application's own rustls set-up is untouched.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| {
            use rustls_platform_verifier::BuilderVerifierExt;
            builder.with_platform_verifier()
        })
        .map_err(|e| ConfigError::new(None, format!("cannot set up TLS for {peer}: {e}")))?
        .with_no_client_auth();
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(timeout)
        .connect_timeout(timeout);
    if direct {
        // The sidecar is on loopback: a proxy from the environment must not
        // come between the application and it.
        builder = builder.no_proxy();
    }
    builder
        // Texas never redirects; following a redirect would send the
        // caller's token to wherever it points. A 3xx is a broken answer.
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| ConfigError::new(None, format!("cannot build the HTTP client: {e}")))
}

#[derive(serde::Serialize)]
struct Request<'a> {
    identity_provider: &'static str,
    token: &'a str,
}

impl Introspector {
    pub(crate) fn new(endpoint: Url, timeout: Duration) -> Result<Self, ConfigError> {
        let client = http_client(timeout, "the introspection endpoint", true)?;
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
            return Err(Failure("the introspection endpoint did not answer in time"));
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
        Failure("the introspection endpoint did not answer in time")
    } else if error.is_connect() {
        Failure("the introspection endpoint is unreachable")
    } else {
        Failure("the introspection request failed")
    }
}

/// Decodes an introspection answer. `active` must be the JSON boolean `true`
/// for a token to count as active: anything else is either inactive (`false`)
/// or a broken answer.
pub(crate) fn decode(answer: &[u8]) -> Result<Verdict, Failure> {
    let mut object: Map<String, Value> = serde_json::from_slice(answer)
        .map_err(|_| Failure("the introspection answer is not a JSON object"))?;
    match object.remove("active") {
        Some(Value::Bool(true)) => {
            ClaimSet::from_claims(object)
                .map(Verdict::Active)
                .map_err(|malformed| {
                    tracing::warn!(
                        claim = malformed.claim,
                        problem = malformed.problem,
                        "introspection endpoint called a token active but its claims are unusable"
                    );
                    Failure("the introspection answer has unusable claims")
                })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(answer: &str) -> Result<bool, &'static str> {
        match decode(answer.as_bytes()) {
            Ok(Verdict::Active(_)) => Ok(true),
            Ok(Verdict::Inactive) => Ok(false),
            Err(Failure(reason)) => Err(reason),
        }
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
}
