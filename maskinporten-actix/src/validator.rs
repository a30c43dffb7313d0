//! The `Maskinporten` handle: how tokens are validated, configured once.

use std::{
    fmt,
    sync::{atomic::Ordering::Relaxed, Arc},
    time::{Duration, Instant},
};

use actix_web::HttpResponse;
use reqwest::Url;

use crate::{
    bearer::DEFAULT_MAX_TOKEN_LENGTH,
    cache::{
        token_key, CacheBounds, Counters, IntrospectionCache, Refusals, TokenKey, ValidationStats,
        DEFAULT_CACHE_CAPACITY, DEFAULT_CACHE_MAX_BYTES,
    },
    claims::{ClaimSet, MaskinportenClaims},
    error::{ConfigError, ErrorKind, MaskinportenError, RejectionHandler, Rendering},
    exposure::{self, Exposure, Refused},
    introspection::{Failure, Introspector, Verdict},
    jwks::{KeyStore, Settings, Source},
    jws::{self, CompactJws},
    local::{self, LocalVerifier},
    observe::{self, CacheUse},
};

pub use crate::jwks::{DEFAULT_JWKS_MIN_REFETCH_INTERVAL, DEFAULT_JWKS_REFRESH_INTERVAL};

/// The environment variable NAIS sets to the introspection endpoint of the
/// Texas sidecar.
pub const INTROSPECTION_ENDPOINT_ENV: &str = "NAIS_TOKEN_INTROSPECTION_ENDPOINT";

/// How long one introspection may take, connection included, before the
/// request is answered 503. The sidecar is on loopback and answers in
/// milliseconds; waiting longer only piles up requests.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// The environment variable NAIS sets to Maskinporten's issuer
/// (`https://maskinporten.no/`, or `https://test.maskinporten.no/`).
pub const ISSUER_ENV: &str = "MASKINPORTEN_ISSUER";

/// The environment variable NAIS sets to Maskinporten's JWKS URI, for local
/// validation.
pub const JWKS_URI_ENV: &str = "MASKINPORTEN_JWKS_URI";

/// The environment variable NAIS sets to Maskinporten's authorization server
/// metadata, from which local validation can discover the issuer and the
/// JWKS URI.
pub const WELL_KNOWN_URL_ENV: &str = "MASKINPORTEN_WELL_KNOWN_URL";

/// The clock skew allowed on `exp`, `nbf` and `iat`: the sidecar's own.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// Introspections one handle has in flight at most, by default. The sidecar
/// serialises introspections, so more at once only queue inside it; a bound
/// keeps a flood of new tokens from tying up connections and requests.
pub const DEFAULT_MAX_CONCURRENT_INTROSPECTIONS: usize = 8;

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
    /// The audience every token's `aud` must hold, when configured.
    audience: Option<Box<str>>,
    /// Which tokens this handle takes at all: those holding a scope the
    /// API exposes (see `exposure`).
    exposure: Exposure,
    /// What every token must satisfy before any strategy sees it.
    precheck: Precheck,
    cache: Option<IntrospectionCache>,
    /// Refusals of validly issued tokens, remembered until `exp` (with the
    /// cache; off when it is).
    refusals: Option<Refusals>,
    counters: Counters,
    max_token_length: usize,
    rendering: Arc<Rendering>,
}

/// Whether a validation starts with a cache lookup.
#[derive(Clone, Copy)]
enum Lookup {
    Cache,
    /// The caller looked already and found nothing; the token's key, when
    /// the caller computed it (a cache is on), so that it is not hashed twice.
    Missed(Option<TokenKey>),
}

/// How a token is checked: by the sidecar, or here against Maskinporten's
/// JWKS. The cache, the claims and the rejections do not know which.
enum Strategy {
    Introspection(Bounded),
    Local(LocalVerifier),
}

/// How long a place stays taken after its introspection timed out.
const ABANDONED_CONNECTION_GRACE: Duration = Duration::from_millis(20);

/// An introspector with a bound on the introspections in flight, and the
/// keys that check a token's signature before it is asked, when known.
struct Bounded {
    introspector: Introspector,
    in_flight: tokio::sync::Semaphore,
    timeout: Duration,
    keys: Option<Arc<KeyStore>>,
}

/// The checks that need neither a key nor the network: a compact JWS signed
/// RS256 with a `kid`, an `exp` not passed beyond the leeway, and the issuer
/// when it is known. A token that fails them is one the sidecar would refuse.
struct Precheck {
    issuer: Option<Box<str>>,
    leeway_secs: i64,
}

impl Precheck {
    fn check<'t>(&self, token: &'t str) -> Result<CompactJws<'t>, jws::Refusal> {
        jws::precheck(
            token,
            self.issuer.as_deref(),
            self.leeway_secs,
            jws::unix_now(),
        )
    }
}

impl Maskinporten {
    /// Configures introspection from `NAIS_TOKEN_INTROSPECTION_ENDPOINT`, which
    /// NAIS sets for applications with Maskinporten enabled, and
    /// `MASKINPORTEN_ISSUER` when it is set. A missing or invalid value is a
    /// [`ConfigError`] naming the variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::builder_from_env()?.build()
    }

    /// A builder for introspection from the environment (see
    /// [`from_env`](Self::from_env)), to set the exposed scopes, an audience,
    /// a realm or cache options on top. The recommended set-up on NAIS:
    ///
    /// ```no_run
    /// # use maskinporten_actix::Maskinporten;
    /// let maskinporten = Maskinporten::builder_from_env()?
    ///     .exposed_scopes(["nav:helse/sykepenger/afp.read"]) // or exposed_scopes!() from the manifest
    ///     .build()?;
    /// # Ok::<(), maskinporten_actix::ConfigError>(())
    /// ```
    pub fn builder_from_env() -> Result<MaskinportenBuilder, ConfigError> {
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
        let mut builder = Self::builder().endpoint_url(endpoint);
        // NAIS sets the issuer beside the endpoint; with it, tokens from
        // another issuer are refused without a round trip.
        let issuer = optional_env(ISSUER_ENV)?;
        // With Maskinporten's keys known (NAIS sets the JWKS URI and the
        // metadata URL beside the endpoint), a token's signature is checked
        // here before the sidecar is asked: forged tokens never reach it.
        builder.signature_check = match (optional_env(JWKS_URI_ENV)?, &issuer) {
            (Some(jwks_uri), Some(issuer)) => Some(Ok(fixed_keys_from_env(issuer, &jwks_uri)?)),
            (Some(_), None) => return Err(issuer_missing_from_env()),
            (None, _) => match optional_env(WELL_KNOWN_URL_ENV)? {
                Some(url) => Some(Ok(discovered_keys_from_env(&url)?)),
                None => None,
            },
        };
        if let Some(issuer) = issuer {
            builder = builder.issuer(issuer);
        }
        Ok(builder)
    }

    /// Configures local validation from the variables NAIS sets for an
    /// application with Maskinporten enabled: `MASKINPORTEN_ISSUER` and
    /// `MASKINPORTEN_JWKS_URI`, or, when both are absent, the metadata at
    /// `MASKINPORTEN_WELL_KNOWN_URL` (read on first need, not here). A missing
    /// or invalid variable is a [`ConfigError`] naming it. Never touches the
    /// network.
    ///
    /// ```no_run
    /// # use maskinporten_actix::Maskinporten;
    /// let maskinporten = Maskinporten::local_from_env()?;
    /// # Ok::<(), maskinporten_actix::ConfigError>(())
    /// ```
    pub fn local_from_env() -> Result<Self, ConfigError> {
        Self::local_builder_from_env()?.build()
    }

    /// A builder for local validation from the environment (see
    /// [`local_from_env`](Self::local_from_env)), to set an audience, a
    /// realm or cache options on top.
    pub fn local_builder_from_env() -> Result<MaskinportenBuilder, ConfigError> {
        let issuer = optional_env(ISSUER_ENV)?;
        let jwks_uri = optional_env(JWKS_URI_ENV)?;
        match (issuer, jwks_uri) {
            (Some(issuer), Some(jwks_uri)) => {
                let mut builder = Self::builder();
                builder.local = Some(Ok(fixed_keys_from_env(&issuer, &jwks_uri)?));
                Ok(builder)
            }
            (Some(_), None) => Err(ConfigError::new(
                Some(JWKS_URI_ENV),
                format!("is not set, while {ISSUER_ENV} is; NAIS sets both"),
            )),
            (None, Some(_)) => Err(issuer_missing_from_env()),
            (None, None) => {
                let Some(url) = optional_env(WELL_KNOWN_URL_ENV)? else {
                    return Err(ConfigError::new(
                        Some(ISSUER_ENV),
                        format!(
                            "is not set, nor are {JWKS_URI_ENV} and {WELL_KNOWN_URL_ENV}; NAIS \
                             sets them when the application has Maskinporten enabled"
                        ),
                    ));
                };
                let mut builder = Self::builder();
                builder.local = Some(Ok(discovered_keys_from_env(&url)?));
                Ok(builder)
            }
        }
    }

    /// Configures a handle by hand.
    pub fn builder() -> MaskinportenBuilder {
        MaskinportenBuilder::default()
    }

    /// Validates a raw token (without the `Bearer ` prefix), as the extractor
    /// does. For use outside Actix handlers, e.g. in a middleware. Each call
    /// is one `maskinporten.validate` span and, with the `metrics` feature,
    /// one count in `maskinporten_validations_total`.
    ///
    /// ```no_run
    /// # async fn check(token: &str) -> Result<(), Box<dyn std::error::Error>> {
    /// use maskinporten_actix::Maskinporten;
    ///
    /// let maskinporten = Maskinporten::from_env()?;
    /// let claims = maskinporten.validate(token).await?;
    /// claims.require_all(&["nav:helse/sykepenger/afp.read"])?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn validate(&self, token: &str) -> Result<MaskinportenClaims, MaskinportenError> {
        let start = observe::Start::now();
        // The bound the extractor applies to the header applies here too:
        // an oversized token is refused before it is hashed or parsed.
        if token.len() > self.inner.max_token_length {
            let outcome = Err(MaskinportenError::new(
                ErrorKind::InvalidToken,
                "the access token is too large",
            )
            .rendered_with(&self.inner.rendering));
            start.finish(self, &outcome);
            return outcome;
        }
        let outcome = start
            .instrument(self.validate_with(token, Lookup::Cache))
            .await;
        start.finish(self, &outcome);
        outcome
    }

    /// Validates a token that [`cached`](Self::cached) just did not find:
    /// straight to the single-flight introspection, without a second lookup
    /// (each lookup of a new token would count as an access for TinyLFU).
    /// `key` is the one `cached` gave back, for these same token bytes.
    pub(crate) async fn validate_missed(
        &self,
        token: &str,
        key: Option<TokenKey>,
    ) -> Result<MaskinportenClaims, MaskinportenError> {
        self.validate_with(token, Lookup::Missed(key)).await
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
    /// Otherwise the token's key, for [`validate_missed`](Self::validate_missed)
    /// (`None` with the cache off).
    pub(crate) fn cached(&self, token: &[u8]) -> Cached {
        let Some(cache) = self.inner.cache.as_ref() else {
            return Cached::Missed(None);
        };
        let key = token_key(token);
        // Not found also when the cache's housekeeping is contended; then
        // the full asynchronous path takes over.
        let Some(claims) = cache.get_now(&key) else {
            return match self.remembered_refusal(&key) {
                Some(error) => Cached::Refused(error.rendered_with(&self.inner.rendering)),
                None => Cached::Missed(Some(key)),
            };
        };
        Counters::count(&self.inner.counters.hits);
        observe::cache_hit();
        Cached::Claims(MaskinportenClaims::new(
            claims,
            Arc::clone(&self.inner.rendering),
        ))
    }

    /// The remembered refusal of a validly issued token, counted as the
    /// cache hit it is.
    fn remembered_refusal(&self, key: &TokenKey) -> Option<MaskinportenError> {
        let error = self.inner.refusals.as_ref()?.get(
            key,
            exposure::current_generation(),
            exposure::still_refused,
        )?;
        Counters::count(&self.inner.counters.hits);
        observe::cache_hit();
        tracing::trace!("token refusal answered from the cache");
        Some(error)
    }

    async fn validate_claims(
        &self,
        token: &str,
        lookup: Lookup,
    ) -> Result<Arc<ClaimSet>, MaskinportenError> {
        let inner = &*self.inner;
        let Some(cache) = &inner.cache else {
            observe::cache(CacheUse::Off);
            return self.check(token, None).await;
        };
        let (key, hit) = match lookup {
            Lookup::Cache => {
                let key = token_key(token.as_bytes());
                (key, cache.get(&key).await)
            }
            Lookup::Missed(Some(key)) => {
                debug_assert!(key == token_key(token.as_bytes()), "a key of other bytes");
                (key, None)
            }
            Lookup::Missed(None) => (token_key(token.as_bytes()), None),
        };
        if let Some(claims) = hit {
            Counters::count(&inner.counters.hits);
            observe::cache(CacheUse::Hit);
            tracing::trace!("token validation answered from the cache");
            return Ok(claims);
        }
        if let Some(error) = self.remembered_refusal(&key) {
            observe::cache(CacheUse::Hit);
            return Err(error);
        }
        Counters::count(&inner.counters.misses);
        observe::cache(CacheUse::Miss);
        // Boxed: the cache's loading future is kilobytes, and every future
        // that holds it inline is copied whole each time it moves, on the
        // paths that never load too.
        let validated = Box::pin(cache.get_or_introspect(key, || self.check(token, Some(key))))
            .await
            .map_err(|error| MaskinportenError::clone(&error));
        observe::cache_entries(cache.entry_count());
        validated
    }

    /// Asks the validator, bypassing the cache, then whether the validly
    /// issued token is meant for this API; such a refusal is remembered
    /// under `key` until the token's `exp`.
    async fn check(
        &self,
        token: &str,
        key: Option<TokenKey>,
    ) -> Result<Arc<ClaimSet>, MaskinportenError> {
        let claims = self.ask_strategy(token).await?;
        let (error, generation) = match self.meant_for_us(&claims) {
            Ok(()) => return Ok(claims),
            Err(Refused::NotExposed(error, generation)) => (error, generation),
            Err(Refused::NothingNamed(error)) => return Err(error),
        };
        if let (Some(refusals), Some(key)) = (&self.inner.refusals, key) {
            let named = generation.map(|generation| (generation, Arc::from(claims.scope())));
            refusals.remember(key, &claims, &error, named);
        }
        Err(error)
    }

    /// Whether a validly issued token is meant for this API: its audience
    /// (when one is configured), and a scope the API exposes.
    fn meant_for_us(&self, claims: &Arc<ClaimSet>) -> Result<(), Refused> {
        let claims = MaskinportenClaims::new(Arc::clone(claims), Arc::clone(&self.inner.rendering));
        if let Some(audience) = &self.inner.audience {
            if !audience_holds(claims.claim("aud").as_ref(), audience) {
                tracing::debug!("token refused: its aud does not hold the configured audience");
                return Err(Refused::NotExposed(
                    MaskinportenError::new(
                        ErrorKind::InvalidToken,
                        "the access token is not meant for this audience",
                    ),
                    None,
                ));
            }
        }
        self.inner.exposure.check(&claims)
    }

    async fn ask_strategy(&self, token: &str) -> Result<Arc<ClaimSet>, MaskinportenError> {
        let counters = &self.inner.counters;
        let jws = match self.inner.precheck.check(token) {
            Ok(jws) => jws,
            Err(jws::Refusal(reason)) => {
                Counters::count(&counters.refused_unasked);
                tracing::debug!(reason, "token refused without asking the validator");
                return Err(MaskinportenError::new(
                    ErrorKind::InvalidToken,
                    "the access token is not active",
                ));
            }
        };
        match &self.inner.strategy {
            Strategy::Local(verifier) => match verifier.verify(jws).await {
                Ok(claims) => {
                    observe::verified_locally(observe::Verdict::Active);
                    tracing::debug!(active = true, "token verified locally");
                    Ok(Arc::new(claims))
                }
                Err(local::Failure::Refused(reason)) => {
                    observe::verified_locally(observe::Verdict::Inactive);
                    tracing::debug!(reason, active = false, "token verified locally");
                    Err(MaskinportenError::new(
                        ErrorKind::InvalidToken,
                        "the access token is not active",
                    ))
                }
                Err(local::Failure::Unavailable(reason)) => {
                    Counters::count(&counters.failures);
                    observe::verified_locally(observe::Verdict::Failed);
                    tracing::warn!(reason, "token could not be validated");
                    Err(MaskinportenError::new(
                        ErrorKind::ValidatorUnavailable,
                        "the access token could not be validated right now",
                    ))
                }
            },
            Strategy::Introspection(bounded) => {
                if let Some(keys) = &bounded.keys {
                    match local::check_signature(keys, &jws).await {
                        Ok(()) => {}
                        Err(local::Failure::Refused(reason)) => {
                            Counters::count(&counters.refused_unasked);
                            tracing::debug!(reason, "token refused before asking the sidecar");
                            return Err(MaskinportenError::new(
                                ErrorKind::InvalidToken,
                                "the access token is not active",
                            ));
                        }
                        // The sidecar can still judge: a key set that cannot
                        // be had here does not stop the tokens it would pass.
                        Err(local::Failure::Unavailable(reason)) => {
                            tracing::debug!(reason, "signature not checked before the sidecar");
                        }
                    }
                }
                let started = Instant::now();
                // Waiting for a place counts against the same timeout as the
                // introspection itself: a caller never waits longer than it.
                let permit = tokio::time::timeout(bounded.timeout, bounded.in_flight.acquire())
                    .await
                    .ok()
                    .and_then(Result::ok);
                let left = bounded.timeout.saturating_sub(started.elapsed());
                // A place that came free just before the deadline is not
                // worth a connection that would be dropped at once.
                let Some(_permit) = permit.filter(|_| left >= bounded.timeout / 10) else {
                    Counters::count(&counters.failures);
                    observe::introspected(observe::Verdict::Failed, None);
                    tracing::warn!(
                        "token could not be validated: too many introspections in flight"
                    );
                    return Err(MaskinportenError::new(
                        ErrorKind::ValidatorUnavailable,
                        "the access token could not be validated right now",
                    ));
                };
                Counters::count(&counters.introspections);
                // Boxed, as the HTTP exchange's future is large and the
                // strategy's other paths should not carry it.
                let verdict = Box::pin(bounded.introspector.introspect(token, left)).await;
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
                        Err(MaskinportenError::new(
                            ErrorKind::InvalidToken,
                            "the access token is not active",
                        ))
                    }
                    Err(Failure(reason)) => {
                        Counters::count(&counters.failures);
                        observe::introspected(observe::Verdict::Failed, Some(elapsed));
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

    /// Counters of cache hits, misses and introspections, for metrics of
    /// one's own; the `metrics` feature records them (and more) through the
    /// `metrics` facade instead.
    ///
    /// ```
    /// # use maskinporten_actix::Maskinporten;
    /// let maskinporten = Maskinporten::builder()
    ///     .introspection_endpoint("http://127.0.0.1:7164/api/v1/introspect")
    ///     .build()?;
    /// let stats = maskinporten.stats();
    /// assert_eq!((stats.cache_hits, stats.introspections), (0, 0));
    /// # Ok::<(), maskinporten_actix::ConfigError>(())
    /// ```
    pub fn stats(&self) -> ValidationStats {
        let cache = self.inner.cache.as_ref();
        let entries = cache.map_or(0, IntrospectionCache::entry_count);
        observe::cache_entries(entries);
        self.inner.counters.snapshot(
            entries,
            cache.map_or(0, IntrospectionCache::weighted_size),
            self.inner
                .refusals
                .as_ref()
                .map_or(0, Refusals::entry_count),
        )
    }

    /// Applies the cache's pending evictions and expiries now, so that
    /// [`stats`](Self::stats) counts entries exactly. Not needed in normal
    /// operation: the cache settles by itself.
    pub async fn settle_cache(&self) {
        if let Some(refusals) = &self.inner.refusals {
            refusals.run_pending_tasks();
        }
        if let Some(cache) = &self.inner.cache {
            cache.run_pending_tasks().await;
            observe::cache_entries(cache.entry_count());
        }
    }

    /// Which handle this is: clones share it, separately built handles
    /// differ. Never 0.
    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// The strategy's name, for the validation span.
    pub(crate) fn strategy_name(&self) -> &'static str {
        match self.inner.strategy {
            Strategy::Introspection(_) => "introspection",
            Strategy::Local(_) => "local",
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
            Strategy::Introspection(bounded) => debug.field(
                "introspection_endpoint",
                &bounded.introspector.endpoint().as_str(),
            ),
            Strategy::Local(verifier) => {
                let (what, url) = verifier.keys.describe();
                debug.field(what, &url)
            }
        };
        debug.finish_non_exhaustive()
    }
}

/// An environment variable that may be absent, but not invalid.
fn optional_env(name: &'static str) -> Result<Option<String>, ConfigError> {
    match std::env::var(name) {
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => Ok(Some(value.trim().to_owned())),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(ConfigError::new(Some(name), "is not valid UTF-8"))
        }
    }
}

/// Whether a token's `aud` (a string, or an array of strings) holds
/// `audience`.
fn audience_holds(aud: Option<&serde_json::Value>, audience: &str) -> bool {
    match aud {
        Some(serde_json::Value::String(aud)) => aud == audience,
        Some(serde_json::Value::Array(auds)) => {
            auds.iter().any(|aud| aud.as_str() == Some(audience))
        }
        _ => false,
    }
}

/// The key set `MASKINPORTEN_JWKS_URI` names, for tokens from `issuer`
/// (`MASKINPORTEN_ISSUER`).
fn fixed_keys_from_env(issuer: &str, jwks_uri: &str) -> Result<Source, ConfigError> {
    Ok(Source::Fixed {
        issuer: issuer.into(),
        jwks_uri: parse_key_url(jwks_uri)
            .map_err(|message| ConfigError::new(Some(JWKS_URI_ENV), message))?,
    })
}

/// The issuer and key set read from the metadata `MASKINPORTEN_WELL_KNOWN_URL`
/// names.
fn discovered_keys_from_env(url: &str) -> Result<Source, ConfigError> {
    parse_key_url(url)
        .map(Source::Discovery)
        .map_err(|message| ConfigError::new(Some(WELL_KNOWN_URL_ENV), message))
}

/// `MASKINPORTEN_JWKS_URI` without the issuer its keys are for.
fn issuer_missing_from_env() -> ConfigError {
    ConfigError::new(
        Some(ISSUER_ENV),
        format!("is not set, while {JWKS_URI_ENV} is; NAIS sets both"),
    )
}

/// A URL keys are fetched from: see [`jwks::fetchable`](crate::jwks::fetchable).
fn parse_key_url(url: &str) -> Result<Url, String> {
    let parsed = parse_endpoint(url)?;
    crate::jwks::fetchable(&parsed).map_err(|problem| format!("`{}` {problem}", url.trim()))?;
    Ok(parsed)
}

fn parse_endpoint(endpoint: &str) -> Result<Url, String> {
    let url =
        Url::parse(endpoint.trim()).map_err(|e| format!("`{endpoint}` is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("`{endpoint}` is not an http(s) URL with a host"));
    }
    Ok(url)
}

/// What [`Maskinporten::cached`] found for a token.
pub(crate) enum Cached {
    /// The claims of a token validated before.
    Claims(MaskinportenClaims),
    /// The remembered refusal of a validly issued token.
    Refused(MaskinportenError),
    /// Nothing: the token's key, for [`Maskinporten::validate_missed`]
    /// (`None` with the cache off).
    Missed(Option<TokenKey>),
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
    cache_max_bytes: Option<u64>,
    cache_max_ttl: Option<Duration>,
    cache_disabled: bool,
    issuer: Option<String>,
    leeway: Option<Duration>,
    max_concurrent_introspections: Option<usize>,
    local: Option<Result<Source, String>>,
    audience: Option<String>,
    jwks_refresh_interval: Option<Duration>,
    jwks_min_refetch_interval: Option<Duration>,
    exposed_scopes: Option<Vec<String>>,
    accept_any_scope: bool,
    signature_check: Option<Result<Source, String>>,
}

impl MaskinportenBuilder {
    /// The scopes the application exposes (`spec.maskinporten.scopes.exposes`
    /// of its NAIS manifest): a token that holds none of them was issued for
    /// another API, and is refused with 403 `insufficient_scope` by every
    /// handler, also one that only takes [`MaskinportenClaims`]. The
    /// recommended set-up, with the list read from the manifest when the code
    /// compiles by [`exposed_scopes!`](crate::exposed_scopes).
    ///
    /// Without it, a handle takes only tokens that hold a scope this
    /// program's guards name: every `#[require_scope]`, `scopes![..]` and
    /// `exposed_scopes!()` literal, and every [`Scopes`](crate::Scopes) list
    /// built at run time. This list replaces that default;
    /// [`accept_any_scope`](Self::accept_any_scope) turns the check off.
    ///
    /// A scope that is not a valid NAIS scope, or an empty list, is a
    /// [`ConfigError`] from [`build`](Self::build).
    ///
    /// ```
    /// # use maskinporten_actix::Maskinporten;
    /// let maskinporten = Maskinporten::builder()
    ///     .introspection_endpoint("http://127.0.0.1:7164/api/v1/introspect")
    ///     .exposed_scopes(["nav:helse/sykepenger/afp.read", "nav:helse/sykepenger/afp.write"])
    ///     .build()?;
    /// # Ok::<(), maskinporten_actix::ConfigError>(())
    /// ```
    pub fn exposed_scopes<I>(mut self, scopes: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.exposed_scopes = Some(
            scopes
                .into_iter()
                .map(|scope| scope.as_ref().to_owned())
                .collect(),
        );
        self
    }

    /// Takes tokens whatever scopes they hold: the opt-out of the exposed
    /// scope check (see [`exposed_scopes`](Self::exposed_scopes)).
    ///
    /// A token an organisation got from Maskinporten for another API is then
    /// valid here too, and so whoever received it (that other API) can call
    /// this one with it, as far as the guards let it. Use this only where
    /// every handler checks scopes itself, or for an API that means to take
    /// any Maskinporten token. It cannot be combined with `exposed_scopes`.
    pub fn accept_any_scope(mut self) -> Self {
        self.accept_any_scope = true;
        self
    }

    /// With introspection: checks each new token's signature against
    /// Maskinporten's keys here before the sidecar is asked, so that forged
    /// tokens are refused (401) without taking one of the places in flight
    /// and without making the sidecar fetch the JWKS for an unknown `kid`.
    /// The sidecar stays the judge of every token that passes. Keys are
    /// fetched as for [`local_validation`](Self::local_validation) (on first
    /// need, refreshed in the background, an unknown `kid` refetched at most
    /// every [`jwks_min_refetch_interval`](Self::jwks_min_refetch_interval));
    /// while no key set can be had, tokens go to the sidecar unchecked.
    ///
    /// [`Maskinporten::from_env`] sets it from `MASKINPORTEN_JWKS_URI` (or
    /// `MASKINPORTEN_WELL_KNOWN_URL`), which NAIS sets beside the endpoint.
    pub fn signature_check(mut self, issuer: impl Into<String>, jwks_uri: impl AsRef<str>) -> Self {
        let issuer = issuer.into().trim().to_owned();
        self.signature_check = Some(if issuer.is_empty() {
            Err("signature_check: the issuer must not be empty".to_owned())
        } else {
            parse_key_url(jwks_uri.as_ref())
                .map(|jwks_uri| Source::Fixed {
                    issuer: issuer.into_boxed_str(),
                    jwks_uri,
                })
                .map_err(|message| format!("signature_check: jwks_uri: {message}"))
        });
        self
    }

    /// Validates tokens through this introspection endpoint (Texas).
    pub fn introspection_endpoint(mut self, url: impl AsRef<str>) -> Self {
        self.endpoint = Some(parse_endpoint(url.as_ref()));
        self
    }

    fn endpoint_url(mut self, url: Url) -> Self {
        self.endpoint = Some(Ok(url));
        self
    }

    /// Validates tokens here instead of asking the sidecar: the signature
    /// against the keys at `jwks_uri` (`MASKINPORTEN_JWKS_URI`), `iss` equal
    /// to `issuer` (`MASKINPORTEN_ISSUER`), and `exp`, `iat` and `nbf` as the
    /// sidecar checks them. An unparsable or non-HTTP(S) `jwks_uri` is a
    /// [`ConfigError`] from [`build`](Self::build).
    ///
    /// The keys are fetched on first need, not by `build`, and refreshed in
    /// the background ([`jwks_refresh_interval`](Self::jwks_refresh_interval)).
    ///
    /// ```
    /// # use maskinporten_actix::Maskinporten;
    /// let maskinporten = Maskinporten::builder()
    ///     .local_validation(
    ///         "https://test.maskinporten.no/",
    ///         "https://test.maskinporten.no/jwk",
    ///     )
    ///     .build()?;
    /// # Ok::<(), maskinporten_actix::ConfigError>(())
    /// ```
    pub fn local_validation(
        mut self,
        issuer: impl Into<String>,
        jwks_uri: impl AsRef<str>,
    ) -> Self {
        let issuer = issuer.into().trim().to_owned();
        self.local = Some(if issuer.is_empty() {
            Err("local_validation: the issuer must not be empty".to_owned())
        } else {
            parse_key_url(jwks_uri.as_ref())
                .map(|jwks_uri| Source::Fixed {
                    issuer: issuer.into_boxed_str(),
                    jwks_uri,
                })
                .map_err(|message| format!("local_validation: jwks_uri: {message}"))
        });
        self
    }

    /// The audience every token must be meant for: when set, a token whose
    /// `aud` (a string, or an array of strings) does not hold `audience` is
    /// refused as `invalid_token`. When not set, `aud` is not checked: tokens
    /// without audience restriction carry no `aud`, or `"unspecified"`.
    /// Applies to both strategies.
    ///
    /// ```no_run
    /// use maskinporten_actix::Maskinporten;
    ///
    /// // On NAIS: MASKINPORTEN_ISSUER and MASKINPORTEN_JWKS_URI.
    /// let maskinporten = Maskinporten::local_from_env()?;
    /// // Or by hand, with options that apply to both strategies:
    /// let maskinporten = Maskinporten::builder()
    ///     .local_validation("https://maskinporten.no/", "https://maskinporten.no/jwk")
    ///     .audience("https://afp.nav.no")            // only when you require audience-restricted tokens
    ///     .leeway(std::time::Duration::from_secs(60)) // the default
    ///     .build()?;
    /// # Ok::<(), maskinporten_actix::ConfigError>(())
    /// ```
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// How often local validation fetches the JWKS again in the background,
    /// so rotated keys are picked up; [`DEFAULT_JWKS_REFRESH_INTERVAL`]
    /// (5 minutes) when not set. A refresh that fails keeps the keys held.
    pub fn jwks_refresh_interval(mut self, interval: Duration) -> Self {
        self.jwks_refresh_interval = Some(interval);
        self
    }

    /// The least time between two JWKS fetches asked for by tokens with a
    /// `kid` not held (or while no key could be fetched yet);
    /// [`DEFAULT_JWKS_MIN_REFETCH_INTERVAL`] (10 s) when not set. Within it,
    /// such a token is refused as `invalid_token`, or answered 503 when the
    /// last fetch failed.
    pub fn jwks_min_refetch_interval(mut self, interval: Duration) -> Self {
        self.jwks_min_refetch_interval = Some(interval);
        self
    }

    /// How long an introspection, or a fetch of the JWKS in local
    /// validation, may take before the request is answered 503;
    /// [`DEFAULT_TIMEOUT`] when not set.
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
    /// The cache is bounded by bytes too ([`cache_max_bytes`](Self::cache_max_bytes)):
    /// whichever bound is reached first applies.
    ///
    /// The cache is on by default: consumers reuse one token for its whole
    /// lifetime, and every uncached validation is a round trip through the
    /// sidecar, which serialises introspections. An entry never outlives the
    /// token's `exp`.
    pub fn cache_capacity(mut self, entries: u64) -> Self {
        self.cache_capacity = Some(entries);
        self
    }

    /// How many bytes the cached claims may weigh together at most;
    /// [`DEFAULT_CACHE_MAX_BYTES`] (32 MiB) when not set. An entry weighs
    /// its claims' text and JSON plus a fixed overhead for its key and
    /// bookkeeping, about 600 bytes for a usual Maskinporten token; an
    /// introspection answer may carry up to 64 KiB of extra claims, and such
    /// an entry weighs that much, so few of them fit.
    pub fn cache_max_bytes(mut self, bytes: u64) -> Self {
        self.cache_max_bytes = Some(bytes);
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

    /// The issuer every token must name in `iss` (`MASKINPORTEN_ISSUER`, read
    /// by [`Maskinporten::from_env`]). With it, a token from another issuer
    /// is refused as `invalid_token` without asking the validator.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The clock skew allowed on `exp`, `nbf` and `iat`;
    /// [`DEFAULT_LEEWAY`] (60 s, as the sidecar) when not set.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = Some(leeway);
        self
    }

    /// How many introspections may be in flight at once;
    /// [`DEFAULT_MAX_CONCURRENT_INTROSPECTIONS`] when not set. A request
    /// beyond it waits for a place within its [`timeout`](Self::timeout) and
    /// is answered 503 when none frees up; cache hits never wait.
    pub fn max_concurrent_introspections(mut self, bound: usize) -> Self {
        self.max_concurrent_introspections = Some(bound);
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
        let chosen = match (self.endpoint, self.local) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    None,
                    "two validation strategies: set either introspection_endpoint or local_validation, not both",
                ))
            }
            (Some(Ok(url)), None) => Ok(url),
            (Some(Err(message)), None) => return Err(ConfigError::new(None, format!("introspection_endpoint: {message}"))),
            (None, Some(Ok(source))) => Err(source),
            (None, Some(Err(message))) => return Err(ConfigError::new(None, message)),
            (None, None) => {
                return Err(ConfigError::new(
                    None,
                    format!("no validation strategy: set introspection_endpoint or local_validation, or use Maskinporten::from_env() to read {INTROSPECTION_ENDPOINT_ENV}"),
                ))
            }
        };
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(ConfigError::new(None, "timeout: must be more than zero"));
        }
        let in_flight = self
            .max_concurrent_introspections
            .unwrap_or(DEFAULT_MAX_CONCURRENT_INTROSPECTIONS);
        if in_flight == 0 {
            return Err(ConfigError::new(
                None,
                "max_concurrent_introspections: must be at least 1",
            ));
        }
        let leeway = self.leeway.unwrap_or(DEFAULT_LEEWAY);
        let leeway_secs = i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX);
        let mut issuer = match self.issuer.map(|issuer| issuer.trim().to_owned()) {
            Some(issuer) if issuer.is_empty() => {
                return Err(ConfigError::new(None, "issuer: must not be empty"))
            }
            issuer => issuer.map(String::into_boxed_str),
        };
        let audience = match self.audience {
            Some(audience) if audience.trim().is_empty() => {
                return Err(ConfigError::new(None, "audience: must not be empty"))
            }
            audience => audience.map(String::into_boxed_str),
        };
        let refresh_interval = self
            .jwks_refresh_interval
            .unwrap_or(DEFAULT_JWKS_REFRESH_INTERVAL);
        if refresh_interval.is_zero() {
            return Err(ConfigError::new(
                None,
                "jwks_refresh_interval: must be more than zero",
            ));
        }
        let settings = Settings {
            fetch_timeout: timeout,
            refresh_interval,
            min_refetch_interval: self
                .jwks_min_refetch_interval
                .unwrap_or(DEFAULT_JWKS_MIN_REFETCH_INTERVAL),
        };
        let strategy = match chosen {
            Ok(endpoint) => Strategy::Introspection(Bounded {
                introspector: Introspector::new(endpoint, timeout)?,
                in_flight: tokio::sync::Semaphore::new(in_flight),
                timeout,
                keys: match self.signature_check {
                    None => None,
                    Some(Err(message)) => return Err(ConfigError::new(None, message)),
                    Some(Ok(source)) => Some(Arc::new(KeyStore::new(source, settings)?)),
                },
            }),
            Err(_) if self.signature_check.is_some() => {
                return Err(ConfigError::new(
                    None,
                    "signature_check: applies to introspection; local_validation checks every \
                     signature itself",
                ))
            }
            Err(source) => {
                if let Source::Fixed { issuer: own, .. } = &source {
                    if issuer.as_ref().is_some_and(|issuer| issuer != own) {
                        return Err(ConfigError::new(
                            None,
                            "issuer: differs from the issuer given to local_validation",
                        ));
                    }
                    issuer = Some(own.clone());
                }
                Strategy::Local(LocalVerifier {
                    keys: Arc::new(KeyStore::new(source, settings)?),
                    leeway_secs,
                })
            }
        };
        let exposure = match (self.exposed_scopes, self.accept_any_scope) {
            (Some(_), true) => {
                return Err(ConfigError::new(
                    None,
                    "accept_any_scope: cannot be combined with exposed_scopes; choose one",
                ))
            }
            (None, true) => Exposure::Any,
            (None, false) => Exposure::Named,
            (Some(scopes), false) if scopes.is_empty() => {
                return Err(ConfigError::new(
                    None,
                    "exposed_scopes: an empty list would refuse every token",
                ))
            }
            (Some(scopes), false) => {
                if let Some((scope, err)) = scopes.iter().find_map(|scope| {
                    maskinporten_names::validate(scope)
                        .err()
                        .map(|err| (scope, err))
                }) {
                    return Err(ConfigError::new(
                        None,
                        format!("exposed_scopes: `{scope}` is not a Maskinporten scope: {err}"),
                    ));
                }
                Exposure::Listed {
                    challenge: scopes.join(" ").into(),
                    scopes: scopes.into_iter().map(String::into_boxed_str).collect(),
                }
            }
        };
        let cache_entries = match (
            self.cache_disabled,
            self.cache_capacity,
            self.cache_max_bytes,
        ) {
            (true, _, _) | (false, Some(0), _) | (false, _, Some(0)) => None,
            (false, entries, _) => Some(entries.unwrap_or(DEFAULT_CACHE_CAPACITY)),
        };
        let realm = match self.realm {
            Some(realm) if realm.chars().any(|c| c.is_control() || !c.is_ascii()) => {
                return Err(ConfigError::new(None, "realm: must be printable ASCII"))
            }
            realm => realm.map(String::into_boxed_str),
        };
        Ok(Maskinporten {
            inner: Arc::new(Inner {
                strategy,
                audience,
                exposure,
                precheck: Precheck {
                    issuer,
                    leeway_secs,
                },
                cache: cache_entries.map(|entries| {
                    IntrospectionCache::new(
                        CacheBounds {
                            entries,
                            bytes: self.cache_max_bytes.unwrap_or(DEFAULT_CACHE_MAX_BYTES),
                        },
                        self.cache_max_ttl,
                    )
                }),
                refusals: cache_entries.map(Refusals::new),
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
