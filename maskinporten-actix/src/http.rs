//! The one HTTP client set-up both strategies use: to the sidecar
//! (introspection) and to Maskinporten's JWKS and metadata (local
//! validation, and the signature check in front of the sidecar).

use std::{sync::Arc, time::Duration};

use crate::error::ConfigError;

/// The HTTP client both strategies talk through: to the sidecar, or to the
/// JWKS. `peer` names what it talks to, for the error message; `direct`
/// ignores proxies from the environment (the sidecar is on loopback, while
/// the JWKS may sit behind the proxy the application is given).
pub(crate) fn client(
    timeout: Duration,
    peer: &str,
    direct: bool,
) -> Result<reqwest::Client, ConfigError> {
    // aws-lc-rs as the crypto provider, chosen here rather than installed
    // process-wide, so the application's own rustls set-up is untouched.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
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
