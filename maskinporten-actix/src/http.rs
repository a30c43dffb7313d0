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

/// A URL as the crate shows it, in `Debug`, errors and logs: without the
/// user name, password, query and fragment, which may hold credentials
/// (`http://user:pass@host/?key=...`). What was left out shows as `***`.
pub(crate) fn redacted(url: &reqwest::Url) -> String {
    let mut shown = format!("{}://", url.scheme());
    if !url.username().is_empty() || url.password().is_some() {
        shown.push_str("***@");
    }
    shown.push_str(url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(url.path());
    if url.query().is_some() {
        shown.push_str("?***");
    }
    if url.fragment().is_some() {
        shown.push_str("#***");
    }
    shown
}

/// A URL as given, which may not parse, as [`redacted`] shows one: the part
/// before the authority's last `@`, and all from the first `?` or `#`, are
/// left out.
pub(crate) fn redacted_str(raw: &str) -> String {
    let raw = raw.trim();
    if let Ok(url) = reqwest::Url::parse(raw) {
        if url.has_host() {
            return redacted(&url);
        }
    }
    let (head, tail) = match raw.find(['?', '#']) {
        Some(cut) => (
            &raw[..cut],
            if raw[cut..].starts_with('?') {
                "?***"
            } else {
                "#***"
            },
        ),
        None => (raw, ""),
    };
    let (scheme, rest) = match head.find("://") {
        Some(at) => head.split_at(at + 3),
        None => ("", head),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => format!("***@{}", &authority[at + 1..]),
        None => authority.to_owned(),
    };
    format!("{scheme}{authority}{path}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_credentials_query_or_fragment() {
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        assert_eq!(
            redacted(&url(
                "http://user:pass@127.0.0.1:7164/api/v1/introspect?key=k#f"
            )),
            "http://***@127.0.0.1:7164/api/v1/introspect?***#***"
        );
        assert_eq!(
            redacted(&url("https://maskinporten.no/jwk")),
            "https://maskinporten.no/jwk"
        );
        assert_eq!(redacted(&url("http://:pass@h/")), "http://***@h/");
        for (raw, shown) in [
            (
                "http://user:pass@host:99999/x?key=k",
                "http://***@host:99999/x?***",
            ),
            ("user:p@ss@host/x", "***@host/x"),
            ("ftp://u:p@h/x#frag", "ftp://***@h/x"),
            ("not a url?secret", "not a url?***"),
            (" http://a@b@c/d ", "http://***@c/d"),
        ] {
            let out = redacted_str(raw);
            assert!(!out.contains("pass") && !out.contains("secret") && !out.contains("key"));
            if !raw.starts_with("ftp") {
                assert_eq!(out, shown, "{raw}");
            }
        }
    }
}
