//! The `Maskinporten` handle: how tokens are validated, configured once.

use std::{
    fmt,
    sync::{atomic::Ordering::Relaxed, Arc},
    time::{Duration, Instant},
};

use actix_web::HttpResponse;
use futures_util::FutureExt;
use reqwest::Url;

use crate::{
    bearer::DEFAULT_MAX_TOKEN_LENGTH,
    cache::{token_key, Counters, IntrospectionCache, ValidationStats, DEFAULT_CACHE_CAPACITY},
    claims::{ClaimSet, MaskinportenClaims},
    error::{ConfigError, ErrorKind, MaskinportenError, RejectionHandler, Rendering},
    introspection::{Failure, Introspector, Verdict},
};

/// The environment variable NAIS sets to the introspection endpoint of the
/// Texas sidecar.
pub const INTROSPECTION_ENDPOINT_ENV: &str = "NAIS_TOKEN_INTROSPECTION_ENDPOINT";

/// How long one introspection may take, connection included, before the
/// request is answered 503. The sidecar is on loopback and answers in
/// milliseconds; waiting longer only piles up requests.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// The validator handle: how Maskinporten tokens are checked.
///
/// Build it once at start-up and register it as app data; clones share one
/// pooled HTTP client.
///
/// ```no_run
/// # use actix_web::App;
/// # use maskinporten_actix::Maskinporten;
/// let maskinporten = Maskinporten::from_env()?;
/// let app = App::new().app_data(maskinporten.clone());
/// // web::Data<Maskinporten> works too:
/// let app = App::new().app_data(actix_web::web::Data::new(maskinporten));
/// # Ok::<(), maskinporten_actix::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Maskinporten {
    inner: Arc<Inner>,
}

struct Inner {
    strategy: Strategy,
    cache: Option<IntrospectionCache>,
    counters: Counters,
    max_token_length: usize,
    rendering: Arc<Rendering>,
}

/// Whether a validation starts with a cache lookup.
#[derive(Clone, Copy)]
enum Lookup {
    Cache,
    /// The caller looked already and found nothing.
    Missed,
}

/// How a token is checked. Introspection is the one strategy today; local
/// verification against Maskinporten's JWKS slots in beside it without
/// changing the extractor or the macro.
enum Strategy {
    Introspection(Introspector),
}

impl Maskinporten {
    /// Configures introspection from `NAIS_TOKEN_INTROSPECTION_ENDPOINT`, which
    /// NAIS sets for applications with Maskinporten enabled. A missing or
    /// invalid value is a [`ConfigError`] naming the variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        let endpoint = std::env::var(INTROSPECTION_ENDPOINT_ENV).map_err(|e| {
            ConfigError::new(
                Some(INTROSPECTION_ENDPOINT_ENV),
                match e {
                    std::env::VarError::NotPresent => {
                        "is not set; NAIS sets it when the application has Maskinporten enabled \
                         (spec.maskinporten.enabled: true)"
                    }
                    std::env::VarError::NotUnicode(_) => "is not valid UTF-8",
                },
            )
        })?;
        let endpoint = parse_endpoint(&endpoint)
            .map_err(|message| ConfigError::new(Some(INTROSPECTION_ENDPOINT_ENV), message))?;
        Self::builder().endpoint_url(endpoint).build()
    }

    /// Configures a handle by hand.
    pub fn builder() -> MaskinportenBuilder {
        MaskinportenBuilder::default()
    }

    /// Validates a raw token (without the `Bearer ` prefix), as the extractor
    /// does. For use outside Actix handlers, e.g. in a middleware.
    pub async fn validate(&self, token: &str) -> Result<MaskinportenClaims, MaskinportenError> {
        self.validate_with(token, Lookup::Cache).await
    }

    /// Validates a token that [`cached`](Self::cached) just did not find:
    /// straight to the single-flight introspection, without a second lookup
    /// (each lookup of a new token would count as an access for TinyLFU).
    pub(crate) async fn validate_missed(
        &self,
        token: &str,
    ) -> Result<MaskinportenClaims, MaskinportenError> {
        self.validate_with(token, Lookup::Missed).await
    }

    async fn validate_with(
        &self,
        token: &str,
        lookup: Lookup,
    ) -> Result<MaskinportenClaims, MaskinportenError> {
        self.validate_claims(token, lookup)
            .await
            .map(|claims| MaskinportenClaims::new(claims, Arc::clone(&self.inner.rendering)))
            .map_err(|error| error.rendered_with(&self.inner.rendering))
    }

    /// The claims of a token the cache holds, when it can answer without
    /// waiting: the common path of a guarded request, with no future to box.
    pub(crate) fn cached(&self, token: &[u8]) -> Option<MaskinportenClaims> {
        let cache = self.inner.cache.as_ref()?;
        // The cache's lookup only waits when its housekeeping is contended;
        // then the full asynchronous path below takes over.
        let claims = cache.get(&token_key(token)).now_or_never()??;
        Counters::count(&self.inner.counters.hits);
        Some(MaskinportenClaims::new(
            claims,
            Arc::clone(&self.inner.rendering),
        ))
    }

    async fn validate_claims(
        &self,
        token: &str,
        lookup: Lookup,
    ) -> Result<Arc<ClaimSet>, MaskinportenError> {
        let inner = &*self.inner;
        let Some(cache) = &inner.cache else {
            return self.check(token).await;
        };
        let key = token_key(token.as_bytes());
        let hit = match lookup {
            Lookup::Cache => cache.get(&key).await,
            Lookup::Missed => None,
        };
        if let Some(claims) = hit {
            Counters::count(&inner.counters.hits);
            tracing::trace!("token validation answered from the cache");
            return Ok(claims);
        }
        Counters::count(&inner.counters.misses);
        cache
            .get_or_introspect(key, || self.check(token))
            .await
            .map_err(|error| MaskinportenError::clone(&error))
    }

    /// Asks the validator, bypassing the cache.
    async fn check(&self, token: &str) -> Result<Arc<ClaimSet>, MaskinportenError> {
        let counters = &self.inner.counters;
        match &self.inner.strategy {
            Strategy::Introspection(introspector) => {
                Counters::count(&counters.introspections);
                let started = Instant::now();
                let verdict = introspector.introspect(token).await;
                let elapsed = started.elapsed();
                counters
                    .introspection_micros
                    .fetch_add(elapsed.as_micros() as u64, Relaxed);
                let elapsed_ms = elapsed.as_secs_f64() * 1e3;
                match verdict {
                    Ok(Verdict::Active(claims)) => {
                        tracing::debug!(elapsed_ms, active = true, "token introspected");
                        Ok(Arc::new(claims))
                    }
                    Ok(Verdict::Inactive) => {
                        tracing::debug!(elapsed_ms, active = false, "token introspected");
                        Err(MaskinportenError::new(
                            ErrorKind::InvalidToken,
                            "the access token is not active",
                        ))
                    }
                    Err(Failure(reason)) => {
                        Counters::count(&counters.failures);
                        tracing::warn!(elapsed_ms, reason, "token could not be validated");
                        Err(MaskinportenError::new(
                            ErrorKind::ValidatorUnavailable,
                            "the access token could not be validated right now",
                        ))
                    }
                }
            }
        }
    }

    /// Counters of cache hits, misses and introspections, for metrics.
    pub fn stats(&self) -> ValidationStats {
        let entries = self
            .inner
            .cache
            .as_ref()
            .map_or(0, IntrospectionCache::entry_count);
        self.inner.counters.snapshot(entries)
    }

    /// Applies the cache's pending evictions and expiries now, so that
    /// [`stats`](Self::stats) counts entries exactly. Not needed in normal
    /// operation: the cache settles by itself.
    pub async fn settle_cache(&self) {
        if let Some(cache) = &self.inner.cache {
            cache.run_pending_tasks().await;
        }
    }

    pub(crate) fn max_token_length(&self) -> usize {
        self.inner.max_token_length
    }

    pub(crate) fn rendering(&self) -> &Arc<Rendering> {
        &self.inner.rendering
    }
}

impl fmt::Debug for Maskinporten {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Maskinporten");
        match &self.inner.strategy {
            Strategy::Introspection(introspector) => {
                debug.field("introspection_endpoint", &introspector.endpoint().as_str())
            }
        };
        debug.finish_non_exhaustive()
    }
}

fn parse_endpoint(endpoint: &str) -> Result<Url, String> {
    let url =
        Url::parse(endpoint.trim()).map_err(|e| format!("`{endpoint}` is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("`{endpoint}` is not an http(s) URL with a host"));
    }
    Ok(url)
}

/// Configures a [`Maskinporten`] handle.
///
/// ```no_run
/// # use std::time::Duration;
/// # use maskinporten_actix::Maskinporten;
/// let maskinporten = Maskinporten::builder()
///     .introspection_endpoint("http://127.0.0.1:7164/api/v1/introspect")
///     .timeout(Duration::from_secs(1))
///     .realm("afp-api")
///     .build()?;
/// # Ok::<(), maskinporten_actix::ConfigError>(())
/// ```
#[derive(Default)]
pub struct MaskinportenBuilder {
    endpoint: Option<Result<Url, String>>,
    timeout: Option<Duration>,
    max_token_length: Option<usize>,
    realm: Option<String>,
    rejection_handler: Option<RejectionHandler>,
    cache_capacity: Option<u64>,
    cache_max_ttl: Option<Duration>,
    cache_disabled: bool,
}

impl MaskinportenBuilder {
    /// Validates tokens through this introspection endpoint (Texas).
    pub fn introspection_endpoint(mut self, url: impl AsRef<str>) -> Self {
        self.endpoint = Some(parse_endpoint(url.as_ref()));
        self
    }

    fn endpoint_url(mut self, url: Url) -> Self {
        self.endpoint = Some(Ok(url));
        self
    }

    /// How long an introspection may take before the request is answered
    /// 503; [`DEFAULT_TIMEOUT`] when not set.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The largest token accepted, in bytes; longer ones are rejected as
    /// `invalid_token` without a network call. [`DEFAULT_MAX_TOKEN_LENGTH`]
    /// when not set.
    pub fn max_token_length(mut self, bytes: usize) -> Self {
        self.max_token_length = Some(bytes);
        self
    }

    /// How many validated tokens the cache holds at most;
    /// [`DEFAULT_CACHE_CAPACITY`] when not set. An entry takes about 850
    /// bytes resident (BENCHMARKS.md), so 100 000 entries stay under 100 MB.
    ///
    /// The cache is on by default: consumers reuse one token for its whole
    /// lifetime, and every uncached validation is a round trip through the
    /// sidecar, which serialises introspections. An entry never outlives the
    /// token's `exp`.
    pub fn cache_capacity(mut self, entries: u64) -> Self {
        self.cache_capacity = Some(entries);
        self
    }

    /// Keeps cached answers at most this long, even when the token lives
    /// longer (by default an entry lives until the token's `exp`).
    pub fn cache_max_ttl(mut self, ttl: Duration) -> Self {
        self.cache_max_ttl = Some(ttl);
        self
    }

    /// Introspects every request: no cache.
    pub fn disable_cache(mut self) -> Self {
        self.cache_disabled = true;
        self
    }

    /// The `realm` of every `WWW-Authenticate` challenge.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Renders every rejection of this handle: the one place to answer
    /// callers in the application's own shape. The handler gets the
    /// [`MaskinportenError`]; its [`default_response`](MaskinportenError::default_response)
    /// is there to decorate.
    ///
    /// ```
    /// # use actix_web::HttpResponse;
    /// # use maskinporten_actix::Maskinporten;
    /// let builder = Maskinporten::builder().rejection_handler(|error| {
    ///     let mut response = HttpResponse::build(error.status());
    ///     if let Some(challenge) = error.challenge() {
    ///         response.insert_header(("WWW-Authenticate", challenge));
    ///     }
    ///     response.json(serde_json::json!({ "type": "about:blank", "title": error.description() }))
    /// });
    /// ```
    pub fn rejection_handler<F>(mut self, handler: F) -> Self
    where
        F: Fn(&MaskinportenError) -> HttpResponse + Send + Sync + 'static,
    {
        self.rejection_handler = Some(Arc::new(handler));
        self
    }

    /// Builds the handle. Fails when no validation strategy is configured or
    /// a setting is invalid.
    pub fn build(self) -> Result<Maskinporten, ConfigError> {
        let endpoint = match self.endpoint {
            Some(Ok(url)) => url,
            Some(Err(message)) => return Err(ConfigError::new(None, format!("introspection_endpoint: {message}"))),
            None => {
                return Err(ConfigError::new(
                    None,
                    format!("no validation strategy: set introspection_endpoint, or use Maskinporten::from_env() to read {INTROSPECTION_ENDPOINT_ENV}"),
                ))
            }
        };
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(ConfigError::new(None, "timeout: must be more than zero"));
        }
        let realm = match self.realm {
            Some(realm) if realm.chars().any(|c| c.is_control() || !c.is_ascii()) => {
                return Err(ConfigError::new(None, "realm: must be printable ASCII"))
            }
            realm => realm.map(String::into_boxed_str),
        };
        Ok(Maskinporten {
            inner: Arc::new(Inner {
                strategy: Strategy::Introspection(Introspector::new(endpoint, timeout)?),
                cache: match (self.cache_disabled, self.cache_capacity) {
                    (true, _) | (false, Some(0)) => None,
                    (false, capacity) => Some(IntrospectionCache::new(
                        capacity.unwrap_or(DEFAULT_CACHE_CAPACITY),
                        self.cache_max_ttl,
                    )),
                },
                counters: Counters::default(),
                max_token_length: self.max_token_length.unwrap_or(DEFAULT_MAX_TOKEN_LENGTH),
                rendering: Arc::new(Rendering {
                    realm,
                    handler: self.rejection_handler,
                }),
            }),
        })
    }
}
