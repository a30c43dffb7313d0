//! [`MaskinportenBuilder`]: every setting of a handle, its default, and
//! the checks that turn settings into a handle or a [`ConfigError`].

use std::{sync::Arc, time::Duration};

use actix_web::HttpResponse;
use reqwest::Url;

use super::{
    keys::{parse_endpoint, parse_key_url, KeySet},
    nais, Inner, Maskinporten,
};
use crate::{
    bearer::DEFAULT_MAX_TOKEN_LENGTH,
    cache::{CacheBounds, ClaimsCache, DEFAULT_CACHE_CAPACITY, DEFAULT_CACHE_MAX_BYTES},
    error::{ConfigError, MaskinportenError, RejectionHandler, Rendering},
    exposure::Exposure,
    stats::Counters,
    strategy::{
        introspection::{Introspector, Sidecar},
        jwks::{KeyStore, Settings, Source},
        local::LocalVerifier,
        Precheck, Strategy,
    },
};

use crate::strategy::jwks::{DEFAULT_JWKS_MIN_REFETCH_INTERVAL, DEFAULT_JWKS_REFRESH_INTERVAL};

/// How long one introspection may take, connection included, before the
/// request is answered 503. The sidecar is on loopback and answers in
/// milliseconds; waiting longer only piles up requests.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// The clock skew allowed on `exp`, `nbf` and `iat`: the sidecar's own.
const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// Introspections one handle has in flight at most, by default. The sidecar
/// serialises introspections, so more at once only queue inside it; a bound
/// keeps a flood of new tokens from tying up connections and requests.
const DEFAULT_MAX_CONCURRENT_INTROSPECTIONS: usize = 8;

/// What `build` says when the builder was told neither which scopes the API
/// exposes nor to take any.
const NO_EXPOSURE: &str = "no exposed scopes: say which tokens this handle takes, with \
    exposed_scopes(..) for the scopes the API exposes (on NAIS, exposed_scopes!() reads them \
    from the manifest), or accept_any_scope() to take a token whatever its scopes";

impl Maskinporten {
    /// Configures a handle by hand.
    pub fn builder() -> MaskinportenBuilder {
        MaskinportenBuilder::default()
    }
}

/// Configures a [`Maskinporten`] handle.
///
/// ```no_run
/// # use std::time::Duration;
/// # use maskinporten_actix::Maskinporten;
/// let maskinporten = Maskinporten::builder()
///     .introspection_endpoint("http://127.0.0.1:7164/api/v1/introspect")
///     .exposed_scopes(["nav:helse/sykepenger/afp.read"])
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
    pub(super) local: Option<Result<KeySet, String>>,
    audience: Option<String>,
    jwks_refresh_interval: Option<Duration>,
    jwks_min_refetch_interval: Option<Duration>,
    exposed_scopes: Option<Vec<String>>,
    accept_any_scope: bool,
    pub(super) signature_check: Option<Result<KeySet, String>>,
}

/// The settings given, as the handle's `Debug` shows them: URLs without
/// credentials or query, no rejection handler's insides.
impl std::fmt::Debug for MaskinportenBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn keys(keys: &Option<Result<KeySet, String>>) -> Option<String> {
            keys.as_ref().map(|keys| match keys {
                Ok(KeySet::Jwks(url)) => format!("jwks_uri {}", crate::http::redacted(url)),
                Ok(KeySet::Discovery(url)) => {
                    format!("well_known_url {}", crate::http::redacted(url))
                }
                Err(problem) => format!("invalid: {problem}"),
            })
        }
        let endpoint = self.endpoint.as_ref().map(|endpoint| match endpoint {
            Ok(url) => crate::http::redacted(url),
            Err(problem) => format!("invalid: {problem}"),
        });
        f.debug_struct("MaskinportenBuilder")
            .field("introspection_endpoint", &endpoint)
            .field("local_validation", &keys(&self.local))
            .field("signature_check", &keys(&self.signature_check))
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("exposed_scopes", &self.exposed_scopes)
            .field("accept_any_scope", &self.accept_any_scope)
            .field("timeout", &self.timeout)
            .field("leeway", &self.leeway)
            .field("max_token_length", &self.max_token_length)
            .field(
                "max_concurrent_introspections",
                &self.max_concurrent_introspections,
            )
            .field("cache_capacity", &self.cache_capacity)
            .field("cache_max_bytes", &self.cache_max_bytes)
            .field("cache_max_ttl", &self.cache_max_ttl)
            .field("cache_disabled", &self.cache_disabled)
            .field("jwks_refresh_interval", &self.jwks_refresh_interval)
            .field("jwks_min_refetch_interval", &self.jwks_min_refetch_interval)
            .field("realm", &self.realm)
            .field("rejection_handler", &self.rejection_handler.is_some())
            .finish()
    }
}

/// The defaults of the settings, where a setting's docs name them: each
/// applies when its setting is not called.
impl MaskinportenBuilder {
    /// [`timeout`](Self::timeout): how long one introspection (or JWKS
    /// fetch) may take, connection included, before the request is answered
    /// 503. The sidecar is on loopback and answers in milliseconds; waiting
    /// longer only piles up requests.
    pub const DEFAULT_TIMEOUT: Duration = DEFAULT_TIMEOUT;
    /// [`leeway`](Self::leeway): the clock skew allowed on `exp`, `nbf` and
    /// `iat`, the sidecar's own.
    pub const DEFAULT_LEEWAY: Duration = DEFAULT_LEEWAY;
    /// [`max_concurrent_introspections`](Self::max_concurrent_introspections):
    /// the sidecar serialises introspections, so more at once only queue
    /// inside it.
    pub const DEFAULT_MAX_CONCURRENT_INTROSPECTIONS: usize = DEFAULT_MAX_CONCURRENT_INTROSPECTIONS;
    /// [`max_token_length`](Self::max_token_length), in bytes.
    pub const DEFAULT_MAX_TOKEN_LENGTH: usize = DEFAULT_MAX_TOKEN_LENGTH;
    /// [`cache_capacity`](Self::cache_capacity), in entries (about 850 bytes
    /// resident each).
    pub const DEFAULT_CACHE_CAPACITY: u64 = DEFAULT_CACHE_CAPACITY;
    /// [`cache_max_bytes`](Self::cache_max_bytes): 32 MiB.
    pub const DEFAULT_CACHE_MAX_BYTES: u64 = DEFAULT_CACHE_MAX_BYTES;
    /// [`jwks_refresh_interval`](Self::jwks_refresh_interval): 5 minutes.
    pub const DEFAULT_JWKS_REFRESH_INTERVAL: Duration = DEFAULT_JWKS_REFRESH_INTERVAL;
    /// [`jwks_min_refetch_interval`](Self::jwks_min_refetch_interval): 10 s.
    pub const DEFAULT_JWKS_MIN_REFETCH_INTERVAL: Duration = DEFAULT_JWKS_MIN_REFETCH_INTERVAL;
}

impl MaskinportenBuilder {
    /// The scopes the application exposes (`spec.maskinporten.scopes.exposes`
    /// of its NAIS manifest): a token that holds none of them was issued for
    /// another API, and is refused with 403 `insufficient_scope` by every
    /// handler, also one that only takes [`MaskinportenClaims`](crate::MaskinportenClaims).
    /// That refusal names no scope: a token valid elsewhere does not let its
    /// holder list this API's scopes. The recommended set-up, with the list
    /// read from the manifest when the code compiles by
    /// [`exposed_scopes!`](crate::exposed_scopes).
    ///
    /// A handle takes exactly this list: scopes named elsewhere in the
    /// program (a guard, a [`Scopes`](crate::Scopes) list) do not widen it.
    /// Every handle says either this or
    /// [`accept_any_scope`](Self::accept_any_scope); [`build`](Self::build)
    /// refuses a builder that says neither. A scope that is not a valid NAIS
    /// scope, or an empty list, is a [`ConfigError`] too.
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
    /// scope check (see [`exposed_scopes`](Self::exposed_scopes)), said
    /// where the handle is built.
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
    /// every [`jwks_min_refetch_interval`](Self::jwks_min_refetch_interval)).
    /// Once a key set has been held, a `kid` it does not hold is refused
    /// here even while the JWKS cannot be fetched again; only before any key
    /// set was fetched do tokens go to the sidecar unchecked.
    ///
    /// [`Maskinporten::builder_from_env`] sets it from `MASKINPORTEN_JWKS_URI` (or
    /// `MASKINPORTEN_WELL_KNOWN_URL`), which NAIS sets beside the endpoint.
    pub fn signature_check(mut self, jwks_uri: impl AsRef<str>) -> Self {
        self.signature_check = Some(
            parse_key_url(jwks_uri.as_ref())
                .map(KeySet::Jwks)
                .map_err(|message| format!("signature_check: jwks_uri: {message}")),
        );
        self
    }

    /// Validates tokens through this introspection endpoint (Texas).
    pub fn introspection_endpoint(mut self, url: impl AsRef<str>) -> Self {
        self.endpoint = Some(parse_endpoint(url.as_ref()));
        self
    }

    pub(super) fn endpoint_url(mut self, url: Url) -> Self {
        self.endpoint = Some(Ok(url));
        self
    }

    /// Validates tokens here instead of asking the sidecar: the signature
    /// against the keys at `jwks_uri` (`MASKINPORTEN_JWKS_URI`), `iss` equal
    /// to the [`issuer`](Self::issuer) (`MASKINPORTEN_ISSUER`, which local
    /// validation needs), and `exp`, `iat` and `nbf` as the sidecar checks
    /// them. An unparsable or non-HTTP(S) `jwks_uri`, or no issuer, is a
    /// [`ConfigError`] from [`build`](Self::build).
    ///
    /// The keys are fetched on first need, not by `build`, and refreshed in
    /// the background ([`jwks_refresh_interval`](Self::jwks_refresh_interval)).
    ///
    /// ```
    /// # use maskinporten_actix::Maskinporten;
    /// let maskinporten = Maskinporten::builder()
    ///     .issuer("https://test.maskinporten.no/")
    ///     .local_validation("https://test.maskinporten.no/jwk")
    ///     .exposed_scopes(["nav:helse/sykepenger/afp.read"])
    ///     .build()?;
    /// # Ok::<(), maskinporten_actix::ConfigError>(())
    /// ```
    pub fn local_validation(mut self, jwks_uri: impl AsRef<str>) -> Self {
        self.local = Some(
            parse_key_url(jwks_uri.as_ref())
                .map(KeySet::Jwks)
                .map_err(|message| format!("local_validation: jwks_uri: {message}")),
        );
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
    /// let maskinporten = Maskinporten::local_builder_from_env()?
    ///     .exposed_scopes(["nav:helse/sykepenger/afp.read"])
    ///     .build()?;
    /// // Or by hand, with options that apply to both strategies:
    /// let maskinporten = Maskinporten::builder()
    ///     .issuer("https://maskinporten.no/")
    ///     .local_validation("https://maskinporten.no/jwk")
    ///     .exposed_scopes(["nav:helse/sykepenger/afp.read"])
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
    /// so rotated keys are picked up; [`DEFAULT_JWKS_REFRESH_INTERVAL`](Self::DEFAULT_JWKS_REFRESH_INTERVAL)
    /// (5 minutes) when not set. A refresh that fails keeps the keys held.
    pub fn jwks_refresh_interval(mut self, interval: Duration) -> Self {
        self.jwks_refresh_interval = Some(interval);
        self
    }

    /// The least time between two JWKS fetches asked for by tokens with a
    /// `kid` not held (or while no key could be fetched yet);
    /// [`DEFAULT_JWKS_MIN_REFETCH_INTERVAL`](Self::DEFAULT_JWKS_MIN_REFETCH_INTERVAL) (10 s) when not set. Within it,
    /// such a token is refused as `invalid_token` once a key set has been
    /// held (whether or not the last fetch failed), and answered 503 before.
    pub fn jwks_min_refetch_interval(mut self, interval: Duration) -> Self {
        self.jwks_min_refetch_interval = Some(interval);
        self
    }

    /// How long an introspection, or a fetch of the JWKS in local
    /// validation, may take before the request is answered 503;
    /// [`DEFAULT_TIMEOUT`](Self::DEFAULT_TIMEOUT) when not set.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The largest token accepted, in bytes; longer ones are rejected as
    /// `invalid_token` without a network call. [`DEFAULT_MAX_TOKEN_LENGTH`](Self::DEFAULT_MAX_TOKEN_LENGTH)
    /// when not set.
    pub fn max_token_length(mut self, bytes: usize) -> Self {
        self.max_token_length = Some(bytes);
        self
    }

    /// How many validated tokens the cache holds at most;
    /// [`DEFAULT_CACHE_CAPACITY`](Self::DEFAULT_CACHE_CAPACITY) when not set. An entry takes about 850
    /// bytes resident (BENCHMARKS.md), so 100 000 entries stay under 100 MB.
    /// The cache is bounded by bytes too ([`cache_max_bytes`](Self::cache_max_bytes)):
    /// whichever bound is reached first applies.
    ///
    /// The cache is on by default, for both strategies: consumers reuse one
    /// token for its whole lifetime, and every uncached validation is a
    /// round trip through the sidecar (which serialises introspections) or
    /// an RSA verification. An entry never outlives the token's `exp`. At
    /// least 1; [`disable_cache`](Self::disable_cache) turns it off.
    pub fn cache_capacity(mut self, entries: u64) -> Self {
        self.cache_capacity = Some(entries);
        self
    }

    /// How many bytes the cached claims may weigh together at most;
    /// [`DEFAULT_CACHE_MAX_BYTES`](Self::DEFAULT_CACHE_MAX_BYTES) (32 MiB) when not set. An entry weighs
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

    /// Turns the cache off: every request's token is validated anew by the
    /// strategy (a round trip through the sidecar with introspection, a
    /// signature check with local validation), and no refusal is
    /// remembered. The one way to turn it off: a capacity or byte bound of
    /// 0 is a [`ConfigError`] that points here.
    pub fn disable_cache(mut self) -> Self {
        self.cache_disabled = true;
        self
    }

    /// The issuer every token must name in `iss` (`MASKINPORTEN_ISSUER`, read
    /// by [`Maskinporten::builder_from_env`]): the one place the issuer is
    /// given. With it, a token from another issuer is refused as
    /// `invalid_token` without asking the validator; the keys of
    /// [`local_validation`](Self::local_validation) and
    /// [`signature_check`](Self::signature_check) are taken as this issuer's.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The clock skew allowed on `exp`, `nbf` and `iat`;
    /// [`DEFAULT_LEEWAY`](Self::DEFAULT_LEEWAY) (60 s, as the sidecar) when not set.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = Some(leeway);
        self
    }

    /// How many introspections may be in flight at once;
    /// [`DEFAULT_MAX_CONCURRENT_INTROSPECTIONS`](Self::DEFAULT_MAX_CONCURRENT_INTROSPECTIONS) when not set. A request
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

    /// Builds the handle. Fails when no validation strategy is configured,
    /// when neither [`exposed_scopes`](Self::exposed_scopes) nor
    /// [`accept_any_scope`](Self::accept_any_scope) was said, or when a
    /// setting is invalid.
    ///
    /// ```
    /// # use maskinporten_actix::Maskinporten;
    /// let error = Maskinporten::builder()
    ///     .introspection_endpoint("http://127.0.0.1:7164/api/v1/introspect")
    ///     .build()
    ///     .unwrap_err();
    /// assert!(error.to_string().contains("exposed_scopes(..)"));
    /// assert!(error.to_string().contains("accept_any_scope()"));
    /// ```
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
            (None, Some(Ok(keys))) => Err(keys),
            (None, Some(Err(message))) => return Err(ConfigError::new(None, message)),
            (None, None) => {
                return Err(ConfigError::new(
                    None,
                    format!("no validation strategy: set introspection_endpoint or local_validation, or start from Maskinporten::builder_from_env() to read {}", nais::INTROSPECTION_ENDPOINT),
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
        let issuer = match self.issuer.map(|issuer| issuer.trim().to_owned()) {
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
        // The keys a JWKS URI names sign for the one issuer given.
        let key_source = |keys: KeySet, what: &str| match keys {
            KeySet::Discovery(url) => Ok(Source::Discovery(url)),
            KeySet::Jwks(jwks_uri) => match &issuer {
                Some(issuer) => Ok(Source::Fixed {
                    issuer: issuer.clone(),
                    jwks_uri,
                }),
                None => Err(ConfigError::new(
                    None,
                    format!(
                        "{what}: needs the issuer its keys sign for; set it with issuer(..) \
                         ({})",
                        nais::ISSUER
                    ),
                )),
            },
        };
        let strategy = match chosen {
            Ok(endpoint) => Strategy::Introspection(Sidecar {
                introspector: Introspector::new(endpoint, timeout)?,
                in_flight: tokio::sync::Semaphore::new(in_flight),
                timeout,
                keys: match self.signature_check {
                    None => None,
                    Some(Err(message)) => return Err(ConfigError::new(None, message)),
                    Some(Ok(keys)) => Some(Arc::new(KeyStore::new(
                        key_source(keys, "signature_check")?,
                        settings,
                    )?)),
                },
            }),
            Err(_) if self.signature_check.is_some() => {
                return Err(ConfigError::new(
                    None,
                    "signature_check: applies to introspection; local_validation checks every \
                     signature itself",
                ))
            }
            Err(keys) => Strategy::Local(LocalVerifier {
                keys: Arc::new(KeyStore::new(
                    key_source(keys, "local_validation")?,
                    settings,
                )?),
                leeway_secs,
            }),
        };
        let exposure = match (self.exposed_scopes, self.accept_any_scope) {
            (Some(_), true) => {
                return Err(ConfigError::new(
                    None,
                    "accept_any_scope: cannot be combined with exposed_scopes; choose one",
                ))
            }
            (None, true) => Exposure::Any,
            (None, false) => return Err(ConfigError::new(None, NO_EXPOSURE)),
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
                Exposure::Listed(scopes.into_iter().map(String::into_boxed_str).collect())
            }
        };
        if self.cache_capacity == Some(0) || self.cache_max_bytes == Some(0) {
            return Err(ConfigError::new(
                None,
                "cache_capacity and cache_max_bytes: must be at least 1; to validate every \
                 request anew, call disable_cache() instead",
            ));
        }
        let cache_entries = match self.cache_disabled {
            true => None,
            false => Some(self.cache_capacity.unwrap_or(DEFAULT_CACHE_CAPACITY)),
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
                    ClaimsCache::new(
                        CacheBounds {
                            entries,
                            bytes: self.cache_max_bytes.unwrap_or(DEFAULT_CACHE_MAX_BYTES),
                        },
                        self.cache_max_ttl,
                    )
                }),
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
