//! Maskinporten's signing keys, fetched from its JWKS and kept.
//!
//! Keys are fetched on first need, refreshed in the background every
//! refresh interval, and refetched when a token names a `kid` we do not hold:
//! single-flight (one fetch however many requests wait for it) and at most
//! once per `min_refetch_interval`, so that a flood of tokens with made-up
//! `kid`s never becomes a flood of fetches. A fetch that fails keeps the keys
//! we have.
//!
//! Once a key set has been held, it decides on every `kid`: a `kid` it does
//! not hold is unknown (the token's fault) whether or not the refetch it
//! asked for failed or was skipped, just as a `kid` it holds verifies
//! however long the JWKS has been down. Only before any key set was fetched
//! is a key unavailable.
//!
//! Time is read from tokio's clock ([`tokio::time::Instant`]), so the
//! windows and the refresh follow a paused, advanced clock in tests.

use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, RwLock, Weak},
    time::Duration,
};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use tokio::time::Instant;

use crate::error::ConfigError;

/// The most a JWKS (or the discovery document) may weigh. Maskinporten's
/// holds a handful of keys in a few KiB.
const MAX_DOCUMENT_BYTES: usize = 128 * 1024;

/// The most keys kept from one JWKS.
const MAX_KEYS: usize = 64;

/// RSA moduli shorter than this are ignored: the provider refuses to verify with
/// them, and Maskinporten signs with 2048 bits or more.
const MIN_MODULUS_BITS: usize = 2048;

/// How often the keys are fetched again in the background, by default.
pub(crate) const DEFAULT_JWKS_REFRESH_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// The least time between two fetches asked for by tokens with a `kid` we do
/// not hold (or while no key could be fetched yet), by default.
pub(crate) const DEFAULT_JWKS_MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(10);

/// Whether a URL names this machine: `localhost` or a loopback address.
pub(crate) fn is_loopback(url: &Url) -> bool {
    url.host_str().is_some_and(|host| {
        host == "localhost"
            || host
                .trim_matches(|c| c == '[' || c == ']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

/// Whether keys may be fetched from this URL: over HTTPS, or over plain
/// HTTP only from this machine (a local stand-in). Over plain HTTP to
/// another host, anyone on the path could swap the keys for their own, and
/// every token they sign would verify.
pub(crate) fn fetchable(url: &Url) -> Result<(), &'static str> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        _ => Err("is not an https URL; keys are fetched over plain http only from loopback"),
    }
}

/// One RSA public key, parsed for verification.
pub(crate) struct RsaKey {
    /// Parsed once, when the key set is read: every verify with it skips
    /// the parse and the Montgomery constants of the modulus.
    pub(crate) parsed: ParsedPublicKey,
}

/// Where the keys come from.
pub(crate) enum Source {
    /// The issuer and JWKS URI given (`MASKINPORTEN_ISSUER`,
    /// `MASKINPORTEN_JWKS_URI`).
    Fixed { issuer: Box<str>, jwks_uri: Url },
    /// Both read from the authorization server metadata at this URL
    /// (`MASKINPORTEN_WELL_KNOWN_URL`), on the first fetch.
    Discovery(Url),
}

/// Why no key could be had for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    /// The key set held does not hold the `kid`: the token's fault, even
    /// while the JWKS cannot be fetched again.
    Unknown,
    /// No key set has been fetched yet: nobody can tell whether the JWKS
    /// holds the `kid`.
    Unavailable,
}

/// The settings of a key store.
pub(crate) struct Settings {
    pub(crate) fetch_timeout: Duration,
    pub(crate) refresh_interval: Duration,
    pub(crate) min_refetch_interval: Duration,
}

/// The keys, shared by every clone of a handle.
pub(crate) struct KeyStore {
    client: reqwest::Client,
    source: Source,
    settings: Settings,
    state: RwLock<State>,
    /// Held while fetching: the single flight.
    fetching: tokio::sync::Mutex<()>,
    /// The background refresh, once started.
    refresher: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

#[derive(Default)]
struct State {
    keys: Arc<HashMap<String, Arc<RsaKey>>>,
    /// The issuer and JWKS URI, once known (at once for `Source::Fixed`).
    endpoints: Option<Arc<(Box<str>, Url)>>,
    /// Bumped by every fetch attempt, whatever its outcome.
    generation: u64,
    last_attempt: Option<Instant>,
    /// Whether any fetch has succeeded.
    fetched: bool,
}

impl State {
    /// Why a `kid` not held has no key. A key set once held stays the
    /// authority while refetches fail: were its unknown `kid`s unavailable
    /// instead, an outage of the JWKS would send every made-up `kid` to the
    /// sidecar unchecked (or answer 503 for it), which is what forgers
    /// would wait for.
    fn missing(&self) -> Missing {
        if self.fetched {
            Missing::Unknown
        } else {
            Missing::Unavailable
        }
    }
}

/// One key from a JWKS, as far as we read it.
#[derive(Deserialize)]
struct Jwk {
    kty: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    kid: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: String,
}

impl KeyStore {
    pub(crate) fn new(source: Source, settings: Settings) -> Result<Self, ConfigError> {
        let url = match &source {
            Source::Fixed { jwks_uri, .. } => jwks_uri,
            Source::Discovery(url) => url,
        };
        if let Err(problem) = fetchable(url) {
            return Err(ConfigError::new(
                None,
                format!("`{}` {problem}", crate::http::redacted(url)),
            ));
        }
        // A JWKS on loopback (a local stand-in) is reached directly; a remote
        // one through the proxy the environment names, if any.
        let direct = is_loopback(url);
        let client = crate::http::client(settings.fetch_timeout, "the JWKS", direct)?;
        let endpoints = match &source {
            Source::Fixed { issuer, jwks_uri } => {
                Some(Arc::new((issuer.clone(), jwks_uri.clone())))
            }
            Source::Discovery(_) => None,
        };
        Ok(KeyStore {
            client,
            source,
            settings,
            state: RwLock::new(State {
                endpoints,
                ..State::default()
            }),
            fetching: tokio::sync::Mutex::new(()),
            refresher: Mutex::new(None),
        })
    }

    /// The issuer tokens must name, once known.
    pub(crate) fn issuer(&self) -> Option<Box<str>> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        state.endpoints.as_ref().map(|e| e.0.clone())
    }

    /// Where the keys come from, for `Debug`.
    pub(crate) fn describe(&self) -> (&'static str, String) {
        match &self.source {
            Source::Fixed { jwks_uri, .. } => ("jwks_uri", crate::http::redacted(jwks_uri)),
            Source::Discovery(url) => ("well_known_url", crate::http::redacted(url)),
        }
    }

    /// The key with this `kid`, fetching the JWKS when we do not hold it and
    /// the rules allow.
    pub(crate) async fn key(self: &Arc<Self>, kid: &str) -> Result<Arc<RsaKey>, Missing> {
        self.ensure_refresher();
        let seen = {
            let state = self.read();
            if let Some(key) = state.keys.get(kid) {
                return Ok(Arc::clone(key));
            }
            state.generation
        };
        // Boxed: the fetch's future is large, and a held key, the common
        // case, should not make every verification's future carry it.
        Box::pin(self.key_after_fetch(kid, seen)).await
    }

    /// [`key`](Self::key) for a `kid` not held when it looked.
    async fn key_after_fetch(
        self: &Arc<Self>,
        kid: &str,
        seen: u64,
    ) -> Result<Arc<RsaKey>, Missing> {
        // Single flight: whoever waits here uses the outcome of the fetch in
        // progress instead of starting another. The wait is bounded by the
        // fetch's own timeout.
        let wait = self.settings.fetch_timeout + Duration::from_millis(100);
        let Ok(_flight) = tokio::time::timeout(wait, self.fetching.lock()).await else {
            return self.lookup(kid);
        };
        {
            let state = self.read();
            if let Some(key) = state.keys.get(kid) {
                return Ok(Arc::clone(key));
            }
            let recent = state
                .last_attempt
                .is_some_and(|at| at.elapsed() < self.settings.min_refetch_interval);
            if state.generation != seen || recent {
                return Err(state.missing());
            }
        }
        tracing::debug!("fetching the JWKS for a key id not held");
        self.fetch_locked().await;
        self.lookup(kid)
    }

    fn lookup(&self, kid: &str) -> Result<Arc<RsaKey>, Missing> {
        let state = self.read();
        match state.keys.get(kid) {
            Some(key) => Ok(Arc::clone(key)),
            None => Err(state.missing()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Fetches and installs the keys; the caller holds `fetching`.
    async fn fetch_locked(&self) {
        let outcome = self.fetch().await;
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.generation += 1;
        state.last_attempt = Some(Instant::now());
        match outcome {
            Ok((endpoints, keys)) => {
                crate::observe::jwks_fetched(true);
                tracing::debug!(keys = keys.len(), "JWKS fetched");
                state.keys = Arc::new(keys);
                state.endpoints = Some(endpoints);
                state.fetched = true;
            }
            Err(reason) => {
                crate::observe::jwks_fetched(false);
                tracing::warn!(
                    reason,
                    keys_kept = state.keys.len(),
                    "could not fetch the JWKS; keeping the keys held"
                );
            }
        }
    }

    async fn fetch(
        &self,
    ) -> Result<(Arc<(Box<str>, Url)>, HashMap<String, Arc<RsaKey>>), &'static str> {
        let known = self.read().endpoints.clone();
        let endpoints = match (known, &self.source) {
            (Some(endpoints), _) => endpoints,
            (None, Source::Fixed { issuer, jwks_uri }) => {
                Arc::new((issuer.clone(), jwks_uri.clone()))
            }
            (None, Source::Discovery(url)) => {
                let document = self.get(url).await?;
                let metadata: Metadata = serde_json::from_slice(&document)
                    .map_err(|_| "the discovery document is not usable metadata")?;
                let jwks_uri = Url::parse(&metadata.jwks_uri)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                    .ok_or("the discovery document's jwks_uri is not an http(s) URL")?;
                fetchable(&jwks_uri).map_err(|_| {
                    "the discovery document's jwks_uri is plain http on a host that is not loopback"
                })?;
                if metadata.issuer.trim().is_empty() {
                    return Err("the discovery document has an empty issuer");
                }
                Arc::new((metadata.issuer.into_boxed_str(), jwks_uri))
            }
        };
        let document = self.get(&endpoints.1).await?;
        let keys = parse_jwks(&document)?;
        Ok((endpoints, keys))
    }

    /// GETs a JSON document, bounded in size and time.
    async fn get(&self, url: &Url) -> Result<Vec<u8>, &'static str> {
        let mut response = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "the JWKS did not answer in time"
                } else if e.is_connect() {
                    "the JWKS is unreachable"
                } else {
                    "the JWKS request failed"
                }
            })?;
        if response.status() != StatusCode::OK {
            tracing::warn!(
                status = response.status().as_u16(),
                "the JWKS answered with an error status"
            );
            return Err("the JWKS answered with an error status");
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_DOCUMENT_BYTES as u64)
        {
            return Err("the JWKS document is too large");
        }
        let mut body = Vec::with_capacity(4096);
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                        return Err("the JWKS document is too large");
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(e) if e.is_timeout() => return Err("the JWKS did not answer in time"),
                Err(_) => return Err("the JWKS answer was cut off"),
            }
        }
    }

    /// Starts the periodic refresh on the current runtime, unless it runs.
    /// It holds the store weakly and ends with it; should its runtime stop,
    /// the next key lookup starts it again on the caller's.
    fn ensure_refresher(self: &Arc<Self>) {
        let mut refresher = self.refresher.lock().unwrap_or_else(|p| p.into_inner());
        if refresher.as_ref().is_some_and(|task| !task.is_finished()) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = Arc::downgrade(self);
        let every = self.settings.refresh_interval;
        *refresher = Some(runtime.spawn(refresh_periodically(store, every)));
    }
}

impl Drop for KeyStore {
    fn drop(&mut self) {
        if let Some(task) = self
            .refresher
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
    }
}

async fn refresh_periodically(store: Weak<KeyStore>, every: Duration) {
    let mut next = Instant::now() + every;
    loop {
        tokio::time::sleep_until(next).await;
        let Some(store) = store.upgrade() else { return };
        let _flight = store.fetching.lock().await;
        let since = store.read().last_attempt.map(|at| at.elapsed());
        match since {
            // Fetched lately for an unknown kid: wait out the rest.
            Some(since) if since < every => next = Instant::now() + (every - since),
            _ => {
                store.fetch_locked().await;
                next = Instant::now() + every;
            }
        }
    }
}

/// Reads the RSA signature keys of a JWKS. Other keys (encryption keys,
/// other key types or algorithms, keys without `kid`, short or malformed
/// moduli) are skipped; a set without a usable key is refused.
pub(crate) fn parse_jwks(document: &[u8]) -> Result<HashMap<String, Arc<RsaKey>>, &'static str> {
    let set: JwkSet =
        serde_json::from_slice(document).map_err(|_| "the JWKS is not a JSON key set")?;
    let mut keys = HashMap::new();
    for value in set.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        if jwk.kty.as_deref() != Some("RSA")
            || !matches!(jwk.use_.as_deref(), None | Some("sig"))
            || !matches!(jwk.alg.as_deref(), None | Some("RS256"))
        {
            continue;
        }
        let (Some(kid), Some(n), Some(e)) = (jwk.kid, jwk.n, jwk.e) else {
            continue;
        };
        let (Some(n), Some(e)) = (unsigned(&n), unsigned(&e)) else {
            continue;
        };
        let bits = n.len() * 8 - n[0].leading_zeros() as usize;
        if bits < MIN_MODULUS_BITS || e.len() > 8 {
            continue;
        }
        // RSASSA-PKCS1-v1_5 with SHA-256 and a 2048 to 8192-bit key,
        // whatever the token says; a key the provider refuses is skipped.
        let components = RsaPublicKeyComponents { n: &n, e: &e };
        let Ok(parsed) = components.to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256) else {
            continue;
        };
        if keys.len() < MAX_KEYS {
            keys.entry(kid)
                .or_insert_with(|| Arc::new(RsaKey { parsed }));
        }
    }
    if keys.is_empty() {
        return Err("the JWKS holds no usable RSA signature key");
    }
    Ok(keys)
}

/// A base64url big-endian unsigned integer without its leading zeros.
fn unsigned(b64: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(b64.trim_end_matches('=')).ok()?;
    let first = bytes.iter().position(|&b| b != 0)?;
    Some(bytes[first..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n_of(bits: usize) -> String {
        let mut n = vec![0xffu8; bits / 8];
        n[0] = 0xc1;
        URL_SAFE_NO_PAD.encode(n)
    }

    #[test]
    fn keeps_rsa_signature_keys_only() {
        let n = n_of(2048);
        let doc = serde_json::json!({"keys": [
            {"kty": "RSA", "use": "sig", "kid": "a", "n": n, "e": "AQAB"},
            {"kty": "RSA", "kid": "b", "n": n, "e": "AQAB", "alg": "RS256"},
            {"kty": "RSA", "use": "enc", "kid": "c", "n": n, "e": "AQAB"},
            {"kty": "EC", "use": "sig", "kid": "d", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "RSA", "use": "sig", "kid": "e", "n": n, "e": "AQAB", "alg": "RS512"},
            {"kty": "RSA", "use": "sig", "n": n, "e": "AQAB"},
            {"kty": "RSA", "use": "sig", "kid": "f", "n": n_of(1024), "e": "AQAB"},
            {"kty": "RSA", "use": "sig", "kid": "g", "n": "!!", "e": "AQAB"},
            {"kty": "RSA", "use": "sig", "kid": "h", "n": n},
            {"kty": "RSA", "use": 7, "kid": "i", "n": n, "e": "AQAB"},
            "not a key",
        ]});
        let keys = parse_jwks(doc.to_string().as_bytes()).unwrap();
        let mut kids: Vec<_> = keys.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, ["a", "b"]);
    }

    #[test]
    fn leading_zeros_are_dropped() {
        let mut n = vec![0u8; 1];
        n.extend(vec![0xffu8; 256]);
        let doc = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "a", "n": URL_SAFE_NO_PAD.encode(&n), "e": "AAEAAQ"},
        ]});
        // 257 bytes with the zero, 2048 bits without: kept.
        let keys = parse_jwks(doc.to_string().as_bytes()).unwrap();
        assert!(keys.contains_key("a"));
    }

    #[test]
    fn refuses_sets_without_a_usable_key() {
        for doc in [
            "",
            "[]",
            "{}",
            r#"{"keys": []}"#,
            r#"{"keys": {}}"#,
            r#"{"keys": [{"kty": "RSA", "use": "enc", "kid": "a", "n": "AQAB", "e": "AQAB"}]}"#,
            "<html>",
        ] {
            assert!(parse_jwks(doc.as_bytes()).is_err(), "{doc}");
        }
    }
}
