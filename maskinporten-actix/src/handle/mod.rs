//! The `Maskinporten` handle: the one object an application registers, and
//! the path of a token through it (cache, then strategy, then whether the
//! token is meant for this API). Configured in [`builder`], from the
//! environment in [`env`] (the variables named in [`nais`]); where its keys
//! come from, and the URLs both parse, in [`keys`].

pub(crate) mod builder;
pub(crate) mod env;
pub(crate) mod keys;
pub(crate) mod nais;

use std::{fmt, sync::Arc};

use crate::{
    cache::{token_key, ClaimsCache, Entry, Refusal, TokenKey},
    claims::{ClaimSet, MaskinportenClaims},
    error::{ErrorKind, MaskinportenError, Rendering},
    exposure::Exposure,
    observe::{self, CacheUse},
    stats::{Counters, ValidationStats},
    strategy::{Precheck, Strategy},
};

pub use builder::MaskinportenBuilder;

/// The validator handle: how Maskinporten tokens are checked.
///
/// Build it once at start-up and register it as app data; clones share one
/// pooled HTTP client.
///
/// ```no_run
/// # use actix_web::App;
/// # use maskinporten_actix::Maskinporten;
/// let maskinporten = Maskinporten::builder_from_env()?
///     .exposed_scopes(["nav:helse/sykepenger/afp.read"])
///     .build()?;
/// let app = App::new().app_data(maskinporten.clone());
/// // web::Data<Maskinporten> works too:
/// let app = App::new().app_data(actix_web::web::Data::new(maskinporten));
/// # Ok::<(), maskinporten_actix::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Maskinporten {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) strategy: Strategy,
    /// The audience every token's `aud` must hold, when configured.
    pub(super) audience: Option<Box<str>>,
    /// Which tokens this handle takes at all: those holding a scope the
    /// API exposes (see `exposure`).
    pub(super) exposure: Exposure,
    /// What every token must satisfy before any strategy sees it.
    pub(super) precheck: Precheck,
    /// Claims, and refusals of validly issued tokens, until `exp`.
    pub(super) cache: Option<ClaimsCache>,
    pub(super) counters: Counters,
    pub(super) max_token_length: usize,
    pub(super) rendering: Arc<Rendering>,
}

/// Whether a validation starts with a cache lookup.
#[derive(Clone, Copy)]
enum Lookup {
    Cache,
    /// The caller looked already and found nothing; the token's key, when
    /// the caller computed it (a cache is on), so that it is not hashed twice.
    Missed(Option<TokenKey>),
}

impl Maskinporten {
    /// Validates a raw token (without the `Bearer ` prefix), as the extractor
    /// does. For use outside Actix handlers, e.g. in a middleware. Each call
    /// is one `maskinporten.validate` span and, with the `metrics` feature,
    /// one count in `maskinporten_validations_total`.
    ///
    /// ```no_run
    /// # async fn check(token: &str) -> Result<(), Box<dyn std::error::Error>> {
    /// use maskinporten_actix::Maskinporten;
    ///
    /// let maskinporten = Maskinporten::builder_from_env()?
    ///     .exposed_scopes(["nav:helse/sykepenger/afp.read"])
    ///     .build()?;
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
            start.finish(self.strategy_name(), finished(&outcome));
            return outcome;
        }
        let outcome = start
            .instrument(self.validate_with(token, Lookup::Cache))
            .await;
        start.finish(self.strategy_name(), finished(&outcome));
        outcome
    }

    /// Validates a token that [`cached`](Self::cached) just did not find:
    /// straight to the strategy, without a second lookup
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
        match cache.get_now(&key) {
            None => Cached::Missed(Some(key)),
            Some(entry) => {
                Counters::count(&self.inner.counters.hits);
                observe::cache_hit();
                match self.answer(entry) {
                    Ok(claims) => Cached::Claims(MaskinportenClaims::new(
                        claims,
                        Arc::clone(&self.inner.rendering),
                    )),
                    Err(error) => Cached::Refused(error.rendered_with(&self.inner.rendering)),
                }
            }
        }
    }

    /// A cache entry as the request's answer: the claims, or the
    /// remembered refusal.
    fn answer(&self, entry: Entry) -> Result<Arc<ClaimSet>, MaskinportenError> {
        match entry {
            Entry::Claims(claims) => Ok(claims),
            Entry::Refused(refused) => {
                tracing::trace!("token refusal answered from the cache");
                Err(refused.error.clone())
            }
        }
    }

    /// One look-up, the strategy on a miss, one insert.
    async fn validate_claims(
        &self,
        token: &str,
        lookup: Lookup,
    ) -> Result<Arc<ClaimSet>, MaskinportenError> {
        let inner = &*self.inner;
        let Some(cache) = &inner.cache else {
            observe::cache(CacheUse::Off);
            return self.judge(token).await.and_then(|entry| self.answer(entry));
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
        if let Some(entry) = hit {
            Counters::count(&inner.counters.hits);
            observe::cache(CacheUse::Hit);
            tracing::trace!("token validation answered from the cache");
            return self.answer(entry);
        }
        Counters::count(&inner.counters.misses);
        observe::cache(CacheUse::Miss);
        let validated = if inner.strategy.shares_checks() {
            // Boxed: the cache's loading future is kilobytes, and every
            // future that holds it inline is copied whole each time it
            // moves, on the paths that never load too.
            Box::pin(cache.get_or_validate(key, || self.judge(token)))
                .await
                .map_err(|error| MaskinportenError::clone(&error))
        } else {
            let judged = self.judge(token).await;
            if let Ok(entry) = &judged {
                cache.insert(key, entry.clone()).await;
            }
            judged
        };
        observe::cache_entries(cache.entry_count());
        validated.and_then(|entry| self.answer(entry))
    }

    /// Asks the validator, bypassing the cache, then whether the validly
    /// issued token is meant for this API: its claims, or the refusal to
    /// remember until the token's `exp`. `Err` is a rejection not to be
    /// remembered (a token at fault, a validator that could not decide).
    async fn judge(&self, token: &str) -> Result<Entry, MaskinportenError> {
        let inner = &*self.inner;
        let claims = inner
            .strategy
            .check(&inner.precheck, token, &inner.counters)
            .await?;
        match self.meant_for_us(&claims) {
            Ok(()) => Ok(Entry::Claims(claims)),
            Err(error) => match Refusal::of(&claims, &error) {
                Some(refused) => Ok(Entry::Refused(Arc::new(refused))),
                None => Err(error),
            },
        }
    }

    /// Whether a validly issued token is meant for this API: its audience
    /// (when one is configured), and a scope the API exposes.
    fn meant_for_us(&self, claims: &Arc<ClaimSet>) -> Result<(), MaskinportenError> {
        let claims = MaskinportenClaims::new(Arc::clone(claims), Arc::clone(&self.inner.rendering));
        if let Some(audience) = &self.inner.audience {
            if !audience_holds(claims.claim("aud").as_ref(), audience) {
                tracing::debug!("token refused: its aud does not hold the configured audience");
                return Err(MaskinportenError::new(
                    ErrorKind::InvalidToken,
                    "the access token is not meant for this audience",
                ));
            }
        }
        self.inner.exposure.check(&claims)
    }

    /// Counters of cache hits, misses, introspections and failures, for metrics of
    /// one's own; the `metrics` feature records them (and more) through the
    /// `metrics` facade instead.
    ///
    /// ```
    /// # use maskinporten_actix::Maskinporten;
    /// let maskinporten = Maskinporten::builder()
    ///     .introspection_endpoint("http://127.0.0.1:7164/api/v1/introspect")
    ///     .exposed_scopes(["nav:helse/sykepenger/afp.read"])
    ///     .build()?;
    /// let stats = maskinporten.stats();
    /// assert_eq!((stats.cache_hits, stats.introspections), (0, 0));
    /// # Ok::<(), maskinporten_actix::ConfigError>(())
    /// ```
    pub fn stats(&self) -> ValidationStats {
        let cache = self.inner.cache.as_ref();
        let entries = cache.map_or(0, ClaimsCache::entry_count);
        observe::cache_entries(entries);
        let refusals = cache.map_or(0, ClaimsCache::refusal_count).min(entries);
        self.inner.counters.snapshot(
            entries - refusals,
            cache.map_or(0, ClaimsCache::weighted_size),
            refusals,
        )
    }

    /// Applies the cache's pending evictions and expiries now, so that
    /// [`stats`](Self::stats) counts entries exactly. Not needed in normal
    /// operation: the cache settles by itself.
    pub async fn settle_cache(&self) {
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
        self.inner.strategy.name()
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
        let (what, url) = self.inner.strategy.describe();
        f.debug_struct("Maskinporten")
            .field(what, &url)
            .finish_non_exhaustive()
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

/// A direct validation's outcome, as its record takes it.
fn finished(
    outcome: &Result<MaskinportenClaims, MaskinportenError>,
) -> Result<&dyn observe::ActsFor, ErrorKind> {
    match outcome {
        Ok(claims) => Ok(claims),
        Err(error) => Err(error.kind()),
    }
}
