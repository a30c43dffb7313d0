//! Per-consumer quotas (feature `quota`): one organisation cannot starve the
//! others, on one replica with [`governor`]'s GCRA, and across the fleet
//! with a GCRA kept in Valkey that replicas take from in small leases.
//!
//! The middleware sits behind the request's one validation (shared with
//! the guards): a request is counted against the organisation its token
//! acts for ([`MaskinportenClaims::acting_for`]), and a request without a
//! valid token spends nothing. The manual's page on quotas
//! ([`crate::manual::quota`]) tells how the fleet shares one quota and what
//! happens when Valkey goes.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    rc::Rc,
    sync::{
        atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
        Arc, Mutex, OnceLock, Weak,
    },
    time::{Duration, Instant},
};

use actix_web::{
    body::{EitherBody, MessageBody},
    dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform},
    http::header::{self, HeaderValue},
    HttpResponse,
};
use futures_util::{
    future::{self, BoxFuture, Either, LocalBoxFuture, Ready, Shared},
    FutureExt,
};
use governor::{clock::Clock, DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};

use crate::{
    middleware::{pass, reject, Passed},
    ConfigError, ErrorKind, MaskinportenClaims, MaskinportenError,
};

/// The counter of quota decisions, labelled `result` (`admitted`,
/// `throttled`, `fallback`), and `consumer` when
/// [`ConsumerQuota::label_consumers`] turns it on.
pub const DECISIONS_TOTAL: &str = "maskinporten_quota_decisions_total";
/// A gauge: 1 while a shared quota decides on the replica's share because
/// Valkey cannot be reached, else 0.
pub const FALLBACK: &str = "maskinporten_quota_fallback";

/// How long a replica may spend a lease: a lease is a slice of the fleet's
/// quota taken now, and spending it much later would admit a burst the
/// fleet's GCRA never saw.
const LEASE_TTL: Duration = Duration::from_secs(1);
/// The share of a quota the fleet's unspent leases may hold at once
/// (1/20 of it, over all replicas): it bounds both what the fleet admits
/// over the quota and what it refuses under it to 5 %.
const LEASE_DIVISOR: u64 = 20;
/// How often each replica says it is there, and checks that Valkey is back.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// A replica that has not said it is there for this long is not counted.
const REPLICA_WINDOW: Duration = Duration::from_secs(5);
/// What a Valkey call may take before the replica falls back to its share.
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(200);
/// How long an organisation that sends nothing is remembered: longer than
/// any period, so that forgetting it never gives it a fresh burst early.
const QUIET: Duration = Duration::from_secs(120);

/// A per-consumer quota: an Actix middleware for an `App`, a `web::scope` or
/// a `web::resource` (feature `quota`).
///
/// ```
/// use actix_web::{web, App, HttpResponse};
/// use maskinporten_actix::{quota::ConsumerQuota, scopes, RequireScope};
///
/// // Built once at start-up; every worker's `App` gets a clone, and the
/// // clones share one state.
/// let quota = ConsumerQuota::per_minute(600).burst(100).consumer("974760673", 6000);
/// let app = App::new().service(
///     web::scope("/afp")
///         // The last `.wrap` runs first: the scope guard, then the quota.
///         .wrap(quota.clone())
///         .wrap(RequireScope::all(scopes!["nav:helse/sykepenger/afp.read"]))
///         .route("/summary", web::get().to(HttpResponse::Ok)),
/// );
/// ```
///
/// Each organisation has its own quota, counted against the organisation
/// the token acts for ([`MaskinportenClaims::acting_for`]): the customer of
/// an Altinn system user, the consumer otherwise. Past it, the request gets
/// `429 Too Many Requests` with `Retry-After` (whole seconds, at least 1),
/// the IETF `RateLimit-Policy` and `RateLimit` fields, and the JSON body of
/// the other rejections (`{"error": "too_many_requests", ...}`); other
/// organisations are not slowed.
///
/// The middleware needs a valid token, as a guard does, and decides on the
/// request's one validation (no second one): a request without a valid
/// token, or with one for another API, gets the handle's rejection (401,
/// 403, 503) and spends nothing.
///
/// The quota is a GCRA ([`governor`]'s in one process): `n` requests per
/// period, at an even pace, and a burst of [`burst`](Self::burst) requests
/// at once (`n` unless set). [`shared`](Self::shared) makes it one quota
/// for the whole fleet, kept in Valkey.
#[derive(Clone)]
pub struct ConsumerQuota {
    config: Config,
    /// Made on first use and shared by every clone made after the last
    /// setting: the quota the workers' `App`s share.
    state: Arc<OnceLock<Arc<State>>>,
}

#[derive(Clone)]
struct Config {
    period: Duration,
    default: Limit,
    consumers: Vec<(Key, u32)>,
    shared: Option<redis::Client>,
    name: Box<str>,
    label_consumers: bool,
    timeout: Duration,
    /// The first setting that cannot be used: every request under the
    /// quota then answers 500, as a guard with an invalid scope does.
    problem: Option<String>,
}

/// One organisation's quota: `per_period` requests per period, `burst` at
/// once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Limit {
    per_period: u32,
    burst: u32,
}

impl Limit {
    /// The GCRA of this limit for a replica that takes one `share`th of it,
    /// `None` for a limit of zero (nothing is admitted).
    fn quota(self, period: Duration, share: u32) -> Option<Quota> {
        let per_period = NonZeroU32::new(self.per_period)?;
        let interval = period * share.max(1) / per_period.get();
        let burst = NonZeroU32::new((self.burst / share.max(1)).max(1))?;
        Quota::with_period(interval).map(|quota| quota.allow_burst(burst))
    }

    /// The time between two requests at the even pace, in microseconds.
    fn interval_us(self, period: Duration) -> u64 {
        (period.as_micros() as u64 / u64::from(self.per_period.max(1))).max(1)
    }
}

/// Who a quota is counted for: the organisation number when it is a
/// Norwegian one (no allocation on the request path), its identifier
/// otherwise.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Orgno(u32),
    Other(Arc<str>),
    /// Valid claims that name no organisation to act for: one quota for
    /// all such tokens, never none.
    Unknown,
}

impl Key {
    fn of(claims: &MaskinportenClaims) -> Key {
        match claims.acting_for() {
            Some(organization) => match organization.orgno() {
                Some(orgno) => orgno.parse().map_or(Key::Unknown, Key::Orgno),
                None => Key::Other(organization.id().into()),
            },
            None => Key::Unknown,
        }
    }

    fn label(&self) -> String {
        match self {
            Key::Orgno(orgno) => format!("{orgno:09}"),
            Key::Other(id) => id.to_string(),
            Key::Unknown => "unknown".to_owned(),
        }
    }
}

impl ConsumerQuota {
    fn new(period: Duration, n: u32) -> ConsumerQuota {
        ConsumerQuota {
            config: Config {
                period,
                default: Limit {
                    per_period: n,
                    burst: n,
                },
                consumers: Vec::new(),
                shared: None,
                name: "default".into(),
                label_consumers: false,
                timeout: DEFAULT_TIMEOUT,
                problem: None,
            },
            state: Arc::default(),
        }
    }

    /// `n` requests a second for each organisation, with a burst of `n`.
    /// A quota of 0 admits nothing.
    pub fn per_second(n: u32) -> ConsumerQuota {
        ConsumerQuota::new(Duration::from_secs(1), n)
    }

    /// `n` requests a minute for each organisation, at an even pace, with a
    /// burst of `n`. A quota of 0 admits nothing.
    pub fn per_minute(n: u32) -> ConsumerQuota {
        ConsumerQuota::new(Duration::from_secs(60), n)
    }

    /// Settings change the quota a clone made afterwards gets: each clone
    /// made after the last setting shares one state.
    fn set(mut self, change: impl FnOnce(&mut Config)) -> ConsumerQuota {
        change(&mut self.config);
        self.state = Arc::default();
        self
    }

    /// How many requests an organisation may send at once after a quiet
    /// while (at least 1); the default quota's only, an organisation's own
    /// quota ([`consumer`](Self::consumer)) has a burst of its own `n`.
    pub fn burst(self, n: u32) -> ConsumerQuota {
        self.set(|config| config.default.burst = n.max(1))
    }

    /// `orgno`'s own quota, `n` requests in the same period (and a burst of
    /// `n`), in place of the default. A number that is not an organisation
    /// number (nine digits, mod-11 check digit) is a configuration error:
    /// it is logged, and every request under the quota answers 500 until it
    /// is fixed, as a guard with an invalid scope does.
    pub fn consumer(self, orgno: &str, n: u32) -> ConsumerQuota {
        self.set(|config| {
            match maskinporten_names::orgno::validate(orgno)
                .ok()
                .and_then(|()| orgno.parse().ok())
            {
                Some(number) => {
                    config
                        .consumers
                        .retain(|(key, _)| key != &Key::Orgno(number));
                    config.consumers.push((Key::Orgno(number), n));
                }
                None => {
                    config.problem.get_or_insert_with(|| {
                        format!(
                            "ConsumerQuota::consumer: {orgno:?} is not an organisation number \
                             (nine digits with a valid check digit)"
                        )
                    });
                }
            }
        })
    }

    /// The policy's name: in the `RateLimit-Policy` and `RateLimit` fields,
    /// and in the keys of a shared quota, so that two quotas of the same
    /// Valkey instance keep apart. Letters, digits, `-` and `_`, at most 64;
    /// `default` unless set. Another name is a configuration error (see
    /// [`consumer`](Self::consumer)).
    pub fn name(self, name: &str) -> ConsumerQuota {
        self.set(|config| {
            let usable = !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if usable {
                config.name = name.into();
            } else {
                config.problem.get_or_insert_with(|| {
                    format!(
                        "ConsumerQuota::name: {name:?} is not a usable name (letters, digits, \
                         '-' and '_', at most 64)"
                    )
                });
            }
        })
    }

    /// Labels the decisions counter with the organisation number as well
    /// (`consumer`): one series per organisation seen, so off by default.
    pub fn label_consumers(self, on: bool) -> ConsumerQuota {
        self.set(|config| config.label_consumers = on)
    }

    /// How long a call to Valkey may take before the replica decides on
    /// its share of the quota instead (200 ms unless set).
    pub fn valkey_timeout(self, timeout: Duration) -> ConsumerQuota {
        self.set(|config| config.timeout = timeout.max(Duration::from_millis(1)))
    }

    /// One quota for the whole fleet, kept in the Valkey (or Redis) at
    /// `url`: `redis://`, `rediss://`, `valkey://` or `valkeys://`, with
    /// the user name and password in it when the server wants them.
    ///
    /// Nothing is connected here: the first request does, and a server that
    /// cannot be reached then makes the replica decide on its share of the
    /// quota (the quota divided by the replicas it last knew of) until it
    /// can. The URL is never logged.
    pub fn shared(self, url: &str) -> Result<ConsumerQuota, ConfigError> {
        let client = client(url, None, None).map_err(|problem| {
            ConfigError::new(None, format!("ConsumerQuota::shared: {problem}"))
        })?;
        Ok(self.set(|config| config.shared = Some(client)))
    }

    /// [`shared`](Self::shared) with the variables NAIS sets for the Valkey
    /// instance `instance` of the application (`VALKEY_URI_<NAME>`,
    /// `VALKEY_USERNAME_<NAME>`, `VALKEY_PASSWORD_<NAME>`, where `<NAME>`
    /// is the instance's name in upper case with `-` as `_`).
    ///
    /// ```no_run
    /// # use maskinporten_actix::quota::ConsumerQuota;
    /// # fn main() -> Result<(), maskinporten_actix::ConfigError> {
    /// // The application's `valkey: [{instance: quota, access: readwrite}]`.
    /// let quota = ConsumerQuota::per_minute(600).shared_from_env("quota")?;
    /// # Ok(()) }
    /// ```
    pub fn shared_from_env(self, instance: &str) -> Result<ConsumerQuota, ConfigError> {
        let name = instance.to_ascii_uppercase().replace('-', "_");
        // Start-up only, once per instance: the error names the variable,
        // and `ConfigError` keeps it as a `&'static str`.
        let variable = |prefix: &str| -> &'static str {
            Box::leak(format!("{prefix}{name}").into_boxed_str())
        };
        let read = |variable: &'static str| std::env::var(variable).ok().filter(|v| !v.is_empty());
        let uri_variable = variable("VALKEY_URI_");
        let uri = read(uri_variable).ok_or_else(|| {
            ConfigError::new(
                Some(uri_variable),
                format!(
                    "is not set; NAIS sets it for an application with the Valkey instance \
                     {instance:?} under `valkey:` in its manifest"
                ),
            )
        })?;
        let username = read(variable("VALKEY_USERNAME_"));
        let password = read(variable("VALKEY_PASSWORD_"));
        let client = client(&uri, username.as_deref(), password.as_deref())
            .map_err(|problem| ConfigError::unusable(uri_variable, problem.to_owned()))?;
        Ok(self.set(|config| config.shared = Some(client)))
    }

    /// Whether a shared quota decides on this replica's share right now,
    /// because Valkey could not be reached; `false` for a local quota.
    pub fn in_fallback(&self) -> bool {
        self.state()
            .shared
            .as_ref()
            .is_some_and(|shared| shared.down.load(Ordering::Relaxed))
    }

    fn state(&self) -> &Arc<State> {
        self.state.get_or_init(|| State::new(self.config.clone()))
    }
}

impl std::fmt::Debug for ConsumerQuota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No URL: it may hold the password.
        f.debug_struct("ConsumerQuota")
            .field("period", &self.config.period)
            .field("per_period", &self.config.default.per_period)
            .field("burst", &self.config.default.burst)
            .field("shared", &self.config.shared.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "openapi")]
impl ConsumerQuota {
    /// Documents this quota on the operations of an OpenAPI document whose
    /// path is `prefix` or lies under it (feature `openapi`): the one line
    /// for a route tree this middleware wraps, as
    /// [`RequireScope::document`](crate::RequireScope::document) is for a
    /// scope guard. Each gets the `429` response, with its `Retry-After`,
    /// `RateLimit-Policy` and `RateLimit` headers, the JSON body of the
    /// other rejections, and the quota in its description.
    ///
    /// ```
    /// use actix_web::{get, HttpResponse, Responder};
    /// use maskinporten_actix::quota::ConsumerQuota;
    /// use utoipa::OpenApi;
    ///
    /// #[utoipa::path(get, path = "/afp/summary", responses((status = 200)))]
    /// #[get("/summary")]
    /// async fn summary() -> impl Responder {
    ///     HttpResponse::Ok().finish()
    /// }
    ///
    /// #[derive(OpenApi)]
    /// #[openapi(paths(summary))]
    /// struct ApiDoc;
    ///
    /// let quota = ConsumerQuota::per_minute(600);
    /// // web::scope("/afp").wrap(quota.clone()).service(summary) in the App, and:
    /// let mut document = ApiDoc::openapi();
    /// quota.document(&mut document, "/afp");
    /// let document = serde_json::to_value(document).unwrap();
    /// let refused = &document["paths"]["/afp/summary"]["get"]["responses"]["429"];
    /// assert!(refused["headers"]["Retry-After"].is_object());
    /// ```
    pub fn document(&self, openapi: &mut utoipa::openapi::OpenApi, prefix: &str) {
        use utoipa::openapi::{
            header::HeaderBuilder, ContentBuilder, ObjectBuilder, Response, ResponseBuilder, Type,
        };
        let config = &self.config;
        let unit = if config.period.as_secs() == 1 {
            "second"
        } else {
            "minute"
        };
        let mut description = format!(
            "Too many requests: the organisation the token acts for has used its quota of {} \
             requests a {unit} (bursts of up to {}); retry after the seconds in `Retry-After`.",
            config.default.per_period, config.default.burst
        );
        if !config.consumers.is_empty() {
            description.push_str(" Some organisations have a quota of their own.");
        }
        if config.shared.is_some() {
            description.push_str(" The quota is shared by every replica of the API.");
        }
        let string = || ObjectBuilder::new().schema_type(Type::String).build();
        let header = |text: &str| {
            HeaderBuilder::new()
                .schema(Some(string()))
                .description(Some(text))
                .build()
        };
        let body = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "error",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["too_many_requests"])),
            )
            .property("error_description", string())
            .required("error")
            .required("error_description")
            .build();
        let response: Response = ResponseBuilder::new()
            .description(description)
            .header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(1))
                            .build(),
                    ))
                    .description(Some("Whole seconds until the organisation may call again"))
                    .build(),
            )
            .header(
                "RateLimit-Policy",
                header("The quota (IETF RateLimit fields): `\"name\";q=<requests>;w=<seconds>`"),
            )
            .header(
                "RateLimit",
                header("What is left of it: `\"name\";r=0;t=<seconds until the next request>`"),
            )
            .content(
                "application/json",
                ContentBuilder::new().schema(Some(body)).build(),
            )
            .build();
        for operation in crate::openapi::operations_under(openapi, prefix) {
            operation
                .responses
                .responses
                .insert("429".to_owned(), response.clone().into());
        }
    }
}

/// The client of a Valkey address, or why the address cannot be used.
fn client(
    url: &str,
    username: Option<&str>,
    password: Option<&str>,
) -> Result<redis::Client, &'static str> {
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    if !matches!(scheme, Some("redis" | "rediss" | "valkey" | "valkeys")) {
        return Err("the URL must start with redis://, rediss://, valkey:// or valkeys://");
    }
    // The parser's message may quote the URL, and so the password: say what
    // is wrong without it.
    let unusable = |_| {
        "the URL cannot be read as a Valkey address (scheme://[user[:password]@]host[:port][/db])"
    };
    let mut info = redis::IntoConnectionInfo::into_connection_info(url).map_err(unusable)?;
    if username.is_some() || password.is_some() {
        let mut settings = info.redis_settings().clone();
        if let Some(username) = username {
            settings = settings.set_username(username);
        }
        if let Some(password) = password {
            settings = settings.set_password(password);
        }
        info = info.set_redis_settings(settings);
    }
    redis::Client::open(info).map_err(unusable)
}

/// What every clone of one quota shares.
struct State {
    config: Config,
    /// The organisations with a quota of their own, and theirs.
    own: HashMap<Key, Limit>,
    policy: Policy,
    /// The quota decided in this process: the whole quota for a local one.
    local: Option<Arc<Local>>,
    shared: Option<SharedQuota>,
    /// When the keyed limiters next forget quiet organisations, in
    /// milliseconds since `started`.
    next_sweep: AtomicU64,
    started: Instant,
}

/// A quota decided in this process, with governor's GCRA.
struct Local {
    default: Option<DefaultKeyedRateLimiter<Key>>,
    own: HashMap<Key, Option<DefaultDirectRateLimiter>>,
}

impl Local {
    fn new(config: &Config, own: &HashMap<Key, Limit>, share: u32) -> Local {
        Local {
            default: config
                .default
                .quota(config.period, share)
                .map(DefaultKeyedRateLimiter::dashmap),
            own: own
                .iter()
                .map(|(key, limit)| {
                    let quota = limit.quota(config.period, share);
                    (key.clone(), quota.map(DefaultDirectRateLimiter::direct))
                })
                .collect(),
        }
    }

    /// `Ok` admits; `Err` holds how long until the next request would be.
    fn check(&self, key: &Key, period: Duration) -> Result<(), Duration> {
        let limiter = match self.own.get(key) {
            Some(own) => own.as_ref().map(|limiter| limiter.check()),
            None => self.default.as_ref().map(|limiter| limiter.check_key(key)),
        };
        match limiter {
            Some(Ok(_)) => Ok(()),
            Some(Err(not_until)) => {
                Err(not_until.wait_time_from(governor::clock::DefaultClock::default().now()))
            }
            // A quota of zero: nothing now, nor within the period.
            None => Err(period),
        }
    }

    fn forget_quiet(&self) {
        if let Some(limiter) = &self.default {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// The `RateLimit-Policy` of the default quota, and the name for those of
/// organisations with their own.
struct Policy {
    default: HeaderValue,
    name: Box<str>,
    window: u64,
}

impl Policy {
    fn of(&self, limit: Option<&Limit>) -> HeaderValue {
        match limit {
            None => self.default.clone(),
            Some(limit) => policy_value(&self.name, limit.per_period, self.window),
        }
    }
}

fn policy_value(name: &str, quota: u32, window: u64) -> HeaderValue {
    // The name holds only token characters (see `ConsumerQuota::name`).
    HeaderValue::from_str(&format!("\"{name}\";q={quota};w={window}"))
        .unwrap_or_else(|_| HeaderValue::from_static("\"default\""))
}

/// What one request came to.
enum Decision {
    Admitted,
    /// Admitted on the replica's share, Valkey being away.
    Fallback,
    Throttled(Duration),
}

impl State {
    fn new(config: Config) -> Arc<State> {
        let own: HashMap<Key, Limit> = config
            .consumers
            .iter()
            .map(|(key, n)| {
                let limit = Limit {
                    per_period: *n,
                    burst: (*n).max(1),
                };
                (key.clone(), limit)
            })
            .collect();
        let window = config.period.as_secs();
        let policy = Policy {
            default: policy_value(&config.name, config.default.per_period, window),
            name: config.name.clone(),
            window,
        };
        let local = match config.shared {
            None => Some(Arc::new(Local::new(&config, &own, 1))),
            Some(_) => None,
        };
        let shared = config.shared.as_ref().map(|_| SharedQuota::new(&config));
        let client = config.shared.clone();
        let state = Arc::new(State {
            shared,
            config,
            own,
            policy,
            local,
            next_sweep: AtomicU64::new(QUIET.as_millis() as u64),
            started: Instant::now(),
        });
        if let (Some(shared), Some(client)) = (&state.shared, client) {
            shared.connect(client, Arc::downgrade(&state));
        }
        state
    }

    fn limit(&self, key: &Key) -> Limit {
        self.own.get(key).copied().unwrap_or(self.config.default)
    }

    /// Forgets organisations quiet for a while, now and then: memory grows
    /// with the organisations seen recently, not with requests.
    fn sweep(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        let next = self.next_sweep.load(Ordering::Relaxed);
        if now < next
            || self
                .next_sweep
                .compare_exchange(
                    next,
                    now + QUIET.as_millis() as u64,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return;
        }
        if let Some(local) = &self.local {
            local.forget_quiet();
        }
        if let Some(shared) = &self.shared {
            if let Some(fallback) = shared.fallback_now() {
                fallback.forget_quiet();
            }
        }
    }

    /// The decision when it needs no wait, else the wait for a lease.
    fn decide(self: &Arc<State>, key: &Key) -> Either<Decision, BoxFuture<'static, Decision>> {
        self.sweep();
        match (&self.local, &self.shared) {
            (Some(local), _) => Either::Left(match local.check(key, self.config.period) {
                Ok(()) => Decision::Admitted,
                Err(wait) => Decision::Throttled(wait),
            }),
            (None, Some(shared)) => shared.decide(self, key),
            // A state is either.
            (None, None) => Either::Left(Decision::Admitted),
        }
    }

    fn note(&self, key: &Key, decision: &Decision) {
        #[cfg(feature = "metrics")]
        counted::decision(decision, self.config.label_consumers.then(|| key.label()));
        if let Decision::Throttled(wait) = decision {
            let span = tracing::info_span!(
                "maskinporten.quota",
                consumer = key.label(),
                decision = "throttled",
                retry_after = retry_after(*wait),
            );
            span.in_scope(|| tracing::debug!("request quota used up"));
        }
        #[cfg(not(feature = "metrics"))]
        let _ = key;
    }

    fn too_many_requests(&self, key: &Key, wait: Duration) -> HttpResponse {
        let seconds = retry_after(wait);
        let policy = self.policy.of(self.own.get(key));
        HttpResponse::TooManyRequests()
            .insert_header((header::RETRY_AFTER, seconds))
            .insert_header(("RateLimit-Policy", policy))
            .insert_header((
                "RateLimit",
                format!("\"{}\";r=0;t={seconds}", self.config.name),
            ))
            .insert_header(header::CacheControl(vec![header::CacheDirective::NoStore]))
            .json(serde_json::json!({
                "error": "too_many_requests",
                "error_description": "the organisation's request quota is used up; retry after the \
                    seconds in Retry-After",
            }))
    }
}

/// `Retry-After` in whole seconds, rounded up, at least 1.
fn retry_after(wait: Duration) -> u64 {
    let rounded_up = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    rounded_up.max(1)
}

/// A quota the fleet shares in Valkey.
///
/// Valkey keeps a GCRA per organisation (its theoretical arrival time), and
/// a small Lua script grants a replica a lease of several requests at once
/// from it; the replica spends the lease in memory, so most requests make no
/// round trip. Leases are small (the fleet's unspent leases hold at most a
/// twentieth of the burst) and short (one second), which keeps what the
/// fleet admits within a few percent of one quota, however the requests
/// spread. Each replica also says every second that it is there; the count
/// of replicas is its share when Valkey cannot be reached.
struct SharedQuota {
    /// Set once the client's thread runs; without it every request decides
    /// on the replica's share.
    manager: OnceLock<redis::aio::ConnectionManager>,
    timeout: Duration,
    prefix: String,
    registry: String,
    replica: String,
    /// The replicas last known to share the quota, this one included.
    replicas: AtomicU32,
    down: AtomicBool,
    leases: moka::sync::Cache<Key, Arc<Mutex<Lease>>>,
    /// The replica's share while Valkey is away, for the count of replicas
    /// it was made for.
    fallback: Mutex<Option<(u32, Arc<Local>)>>,
}

type Flight = Shared<BoxFuture<'static, ()>>;

/// What a replica holds of one organisation's shared quota.
#[derive(Default)]
struct Lease {
    permits: u64,
    expires: Option<Instant>,
    /// Valkey refused a lease: 429 until then without asking again.
    refused_until: Option<Instant>,
    /// The lease request under way, which others wait for.
    flight: Option<Flight>,
}

/// Grants up to ARGV[3] requests of the GCRA at KEYS[1] (emission interval
/// ARGV[1] microseconds, burst ARGV[2]) at the server's clock; returns the
/// requests granted and, when none, the microseconds until one would be.
/// The key expires once the organisation's burst is whole again.
const LEASE_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local room = math.floor((now + burst * interval - tat) / interval)
if room < 1 then
  return {0, tat + interval - burst * interval - now}
end
local granted = math.min(want, room)
local new = tat + granted * interval
redis.call('SET', KEYS[1], string.format('%.0f', new), 'PX', math.ceil((new - now) / 1000) + 1000)
return {granted, 0}
";

/// Marks replica ARGV[1] as there now in the set KEYS[1], forgets those not
/// seen for ARGV[2] milliseconds, and returns how many are left.
const REGISTER_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], string.format('%.0f', now), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - window))
redis.call('PEXPIRE', KEYS[1], window * 2)
return redis.call('ZCARD', KEYS[1])
";

fn lease_script() -> &'static redis::Script {
    static SCRIPT: OnceLock<redis::Script> = OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(LEASE_SCRIPT))
}

fn register_script() -> &'static redis::Script {
    static SCRIPT: OnceLock<redis::Script> = OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(REGISTER_SCRIPT))
}

/// A replica's name in the registry, unique among a fleet's: a hash of the
/// process, the time and a counter, with the standard library's random
/// keys.
fn replica_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u64(NEXT.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    format!("{:016x}", hasher.finish())
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SharedQuota {
    fn new(config: &Config) -> SharedQuota {
        let prefix = format!("maskinporten-quota:{}", config.name);
        SharedQuota {
            manager: OnceLock::new(),
            timeout: config.timeout,
            registry: format!("{prefix}:replicas"),
            prefix,
            replica: replica_id(),
            replicas: AtomicU32::new(1),
            down: AtomicBool::new(false),
            leases: moka::sync::Cache::builder().time_to_idle(QUIET).build(),
            fallback: Mutex::new(None),
        }
    }

    /// Starts the client on a thread of its own with its own runtime: the
    /// connection outlives any one worker, and the heartbeat runs whether
    /// requests come or not. Nothing is connected yet (the first call
    /// does); the thread ends within a heartbeat of the state.
    fn connect(&self, client: redis::Client, state: Weak<State>) {
        // `rediss://` needs a crypto provider; the crate's is aws-lc-rs.
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(HEARTBEAT);
        let (sender, receiver) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("maskinporten-quota".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => return drop(sender.send(Err(error.to_string()))),
                };
                runtime.block_on(async move {
                    match redis::aio::ConnectionManager::new_lazy_with_config(client, config) {
                        Ok(manager) => {
                            let _ = sender.send(Ok(manager.clone()));
                            heartbeat(state, manager).await;
                        }
                        Err(error) => drop(sender.send(Err(error.to_string()))),
                    }
                });
            });
        let made = spawned
            .map_err(|error| error.to_string())
            .and_then(|_| receiver.recv().map_err(|error| error.to_string()))
            .and_then(|made| made);
        match made {
            Ok(manager) => {
                let _ = self.manager.set(manager);
            }
            Err(error) => self.enter_fallback(&error),
        }
    }

    fn decide(
        &self,
        state: &Arc<State>,
        key: &Key,
    ) -> Either<Decision, BoxFuture<'static, Decision>> {
        if self.down.load(Ordering::Relaxed) {
            return Either::Left(self.fallback_decision(state, key));
        }
        let lease = self.leases.get_with_by_ref(key, Arc::default);
        let flight = match self.spend_or_lease(state, key, &lease) {
            Ok(decision) => return Either::Left(decision),
            Err(flight) => flight,
        };
        let state = Arc::clone(state);
        let key = key.clone();
        Either::Right(
            async move {
                // Other requests may spend the new lease before this one's
                // turn: wait for another a few times, then refuse briefly.
                let mut flight = flight;
                for _ in 0..4 {
                    flight.await;
                    let Some(shared) = state.shared.as_ref() else {
                        break;
                    };
                    if shared.down.load(Ordering::Relaxed) {
                        return shared.fallback_decision(&state, &key);
                    }
                    match shared.spend_or_lease(&state, &key, &lease) {
                        Ok(decision) => return decision,
                        Err(next) => flight = next,
                    }
                }
                Decision::Throttled(Duration::from_secs(1))
            }
            .boxed(),
        )
    }

    /// Spends a permit of the lease in hand, or refuses while Valkey's
    /// refusal holds; else the lease request to wait for (started here
    /// unless one is under way).
    fn spend_or_lease(
        &self,
        state: &Arc<State>,
        key: &Key,
        lease: &Arc<Mutex<Lease>>,
    ) -> Result<Decision, Flight> {
        let limit = state.limit(key);
        if limit.per_period == 0 {
            return Ok(Decision::Throttled(state.config.period));
        }
        let now = Instant::now();
        let mut held = locked(lease);
        if let Some(until) = held.refused_until {
            if until > now {
                return Ok(Decision::Throttled(until - now));
            }
            held.refused_until = None;
        }
        if held.permits > 0 && held.expires.is_some_and(|expires| expires > now) {
            held.permits -= 1;
            return Ok(Decision::Admitted);
        }
        let flight = held
            .flight
            .get_or_insert_with(|| self.lease(state, key, limit, lease))
            .clone();
        Err(flight)
    }

    /// How many requests to ask for at once: a twentieth of the burst (or
    /// of a lease lifetime's worth of the quota, when that is less), shared
    /// among the replicas.
    fn lease_size(&self, limit: Limit, period: Duration) -> u64 {
        let replicas = u64::from(self.replicas.load(Ordering::Relaxed).max(1));
        let per_lifetime = u64::from(limit.per_period) * LEASE_TTL.as_micros() as u64
            / (period.as_micros() as u64).max(1);
        let base = u64::from(limit.burst).min(per_lifetime.max(1));
        (base / (LEASE_DIVISOR * replicas)).max(1)
    }

    /// A lease request to Valkey, shared by the requests that wait for it.
    fn lease(
        &self,
        state: &Arc<State>,
        key: &Key,
        limit: Limit,
        lease: &Arc<Mutex<Lease>>,
    ) -> Flight {
        let period = state.config.period;
        let want = self.lease_size(limit, period);
        let interval = limit.interval_us(period);
        let valkey_key = format!("{}:{}", self.prefix, key.label());
        let manager = self.manager.get().cloned();
        let timeout = self.timeout;
        let state = Arc::downgrade(state);
        let lease = Arc::downgrade(lease);
        async move {
            let answer = match manager {
                Some(mut manager) => {
                    let mut invocation = lease_script().key(valkey_key);
                    invocation.arg(interval).arg(limit.burst).arg(want);
                    let call = invocation.invoke_async::<(u64, u64)>(&mut manager);
                    match tokio::time::timeout(timeout, call).await {
                        Ok(Ok(answer)) => Ok(answer),
                        Ok(Err(error)) => Err(error.to_string()),
                        Err(_) => Err(format!("no answer within {timeout:?}")),
                    }
                }
                None => Err("no Valkey client".to_owned()),
            };
            let Some(lease) = lease.upgrade() else { return };
            let now = Instant::now();
            let mut held = locked(&lease);
            held.flight = None;
            match answer {
                Ok((granted, _)) if granted > 0 => {
                    held.permits = granted;
                    held.expires = Some(now + LEASE_TTL);
                }
                Ok((_, wait_us)) => {
                    held.refused_until = Some(now + Duration::from_micros(wait_us.max(1)));
                }
                Err(error) => {
                    drop(held);
                    if let Some(shared) = state.upgrade().as_ref().and_then(|s| s.shared.as_ref()) {
                        shared.enter_fallback(&error);
                    }
                }
            }
        }
        .boxed()
        .shared()
    }

    /// The decision on the replica's share of the quota.
    fn fallback_decision(&self, state: &State, key: &Key) -> Decision {
        let replicas = self.replicas.load(Ordering::Relaxed).max(1);
        let local = {
            let mut fallback = locked(&self.fallback);
            match &*fallback {
                Some((made_for, local)) if *made_for == replicas => Arc::clone(local),
                _ => {
                    let local = Arc::new(Local::new(&state.config, &state.own, replicas));
                    *fallback = Some((replicas, Arc::clone(&local)));
                    local
                }
            }
        };
        match local.check(key, state.config.period) {
            Ok(()) => Decision::Fallback,
            Err(wait) => Decision::Throttled(wait),
        }
    }

    fn fallback_now(&self) -> Option<Arc<Local>> {
        locked(&self.fallback)
            .as_ref()
            .map(|(_, local)| Arc::clone(local))
    }

    fn enter_fallback(&self, reason: &str) {
        if !self.down.swap(true, Ordering::Relaxed) {
            let replicas = self.replicas.load(Ordering::Relaxed).max(1);
            tracing::warn!(
                reason,
                replicas,
                "Valkey cannot be reached: the shared request quota decides on this replica's \
                 share (the quota divided by the replicas last known) until it can"
            );
            #[cfg(feature = "metrics")]
            counted::fallback(true);
        }
    }

    fn back(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!("Valkey can be reached again: the shared request quota decides again");
            #[cfg(feature = "metrics")]
            counted::fallback(false);
        }
    }
}

/// Says every [`HEARTBEAT`] that the replica is there, learns how many
/// share the quota, and notices Valkey going and coming back. Ends when the
/// quota's state is dropped.
async fn heartbeat(state: Weak<State>, mut manager: redis::aio::ConnectionManager) {
    loop {
        let Some((registry, replica, timeout)) = state.upgrade().and_then(|state| {
            let shared = state.shared.as_ref()?;
            Some((
                shared.registry.clone(),
                shared.replica.clone(),
                shared.timeout,
            ))
        }) else {
            return;
        };
        let mut invocation = register_script().key(registry);
        invocation
            .arg(replica)
            .arg(REPLICA_WINDOW.as_millis() as u64);
        let call = invocation.invoke_async::<u32>(&mut manager);
        let answer = tokio::time::timeout(timeout, call).await;
        let Some(state) = state.upgrade() else { return };
        if let Some(shared) = state.shared.as_ref() {
            match answer {
                Ok(Ok(replicas)) => {
                    shared.replicas.store(replicas.max(1), Ordering::Relaxed);
                    shared.back();
                }
                Ok(Err(error)) => shared.enter_fallback(&error.to_string()),
                Err(_) => shared.enter_fallback(&format!("no answer within {timeout:?}")),
            }
        }
        drop(state);
        tokio::time::sleep(HEARTBEAT).await;
    }
}

impl<S, B> Transform<S, ServiceRequest> for ConsumerQuota
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = QuotaService<S>;
    type InitError = ();
    type Future = Ready<Result<QuotaService<S>, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let state = Arc::clone(self.state());
        if let Some(problem) = &state.config.problem {
            static REPORTED: AtomicBool = AtomicBool::new(false);
            tracing::error!("{problem}");
            if !REPORTED.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "maskinporten-actix: ERROR: {problem} (every request under the quota answers \
                     500 until then)"
                );
            }
        }
        future::ok(QuotaService {
            service: Rc::new(service),
            state,
        })
    }
}

/// The service a [`ConsumerQuota`] wraps around the routes under it (its
/// [`Transform::Transform`]): it decides on the request's one validation,
/// then takes the organisation's quota, and calls the wrapped service `S`
/// only for a request admitted. Named here for code that composes
/// middleware by hand; built only by the quota.
pub struct QuotaService<S> {
    service: Rc<S>,
    state: Arc<State>,
}

type Answer<B> = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>;

impl<S, B> Service<ServiceRequest> for QuotaService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    /// The wrapped service's own future when the request is admitted at
    /// once (a cached token, a permit in hand); boxed otherwise.
    type Future = Either<Passed<S, B>, LocalBoxFuture<'static, Answer<B>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        if self.state.config.problem.is_some() {
            let error = MaskinportenError::new(
                ErrorKind::Misconfigured,
                "the service's request quota is not configured correctly",
            );
            return Either::Right(Box::pin(future::ok(reject(req, error))));
        }
        let mut key = Key::Unknown;
        let decided = MaskinportenClaims::guard_decision(req.request(), |_, claims| {
            key = Key::of(claims);
            Ok(())
        });
        match decided {
            Ok(Ok(())) => match self.state.decide(&key) {
                Either::Left(Decision::Throttled(wait)) => {
                    let decision = Decision::Throttled(wait);
                    Either::Right(Box::pin(future::ok(
                        self.finish_throttled(req, &key, &decision),
                    )))
                }
                Either::Left(decision) => {
                    self.state.note(&key, &decision);
                    Either::Left(pass(&self.service, req))
                }
                Either::Right(waiting) => {
                    let service = Rc::clone(&self.service);
                    let state = Arc::clone(&self.state);
                    Either::Right(Box::pin(async move {
                        let decision = waiting.await;
                        after_wait(&service, &state, req, key, decision).await
                    }))
                }
            },
            Ok(Err(rejection)) => Either::Right(Box::pin(future::ok(reject(req, rejection)))),
            Err(flight) => {
                let service = Rc::clone(&self.service);
                let state = Arc::clone(&self.state);
                Either::Right(Box::pin(async move {
                    let mut key = Key::Unknown;
                    let decided = MaskinportenClaims::guard_decision_after(
                        req.request(),
                        flight,
                        |_, claims| {
                            key = Key::of(claims);
                            Ok(())
                        },
                    )
                    .await;
                    if let Err(rejection) = decided {
                        return Ok(reject(req, rejection));
                    }
                    let decision = match state.decide(&key) {
                        Either::Left(decision) => decision,
                        Either::Right(waiting) => waiting.await,
                    };
                    after_wait(&service, &state, req, key, decision).await
                }))
            }
        }
    }
}

impl<S> QuotaService<S> {
    fn finish_throttled<B>(
        &self,
        req: ServiceRequest,
        key: &Key,
        decision: &Decision,
    ) -> ServiceResponse<EitherBody<B>> {
        throttled(&self.state, req, key, decision)
    }
}

fn throttled<B>(
    state: &State,
    req: ServiceRequest,
    key: &Key,
    decision: &Decision,
) -> ServiceResponse<EitherBody<B>> {
    state.note(key, decision);
    let wait = match decision {
        Decision::Throttled(wait) => *wait,
        Decision::Admitted | Decision::Fallback => Duration::ZERO,
    };
    req.into_response(state.too_many_requests(key, wait))
        .map_into_right_body()
}

async fn after_wait<S, B>(
    service: &Rc<S>,
    state: &State,
    req: ServiceRequest,
    key: Key,
    decision: Decision,
) -> Answer<B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    match decision {
        Decision::Throttled(_) => Ok(throttled(state, req, &key, &decision)),
        Decision::Admitted | Decision::Fallback => {
            state.note(&key, &decision);
            pass(service, req).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_at_least_one() {
        assert_eq!(retry_after(Duration::ZERO), 1);
        assert_eq!(retry_after(Duration::from_millis(1)), 1);
        assert_eq!(retry_after(Duration::from_secs(1)), 1);
        assert_eq!(retry_after(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after(Duration::from_secs(15)), 15);
    }

    #[test]
    fn a_lease_is_a_twentieth_of_the_quota_shared_among_the_replicas() {
        let shared = SharedQuota::new(&ConsumerQuota::per_second(600).config);
        let limit = Limit {
            per_period: 600,
            burst: 600,
        };
        let second = Duration::from_secs(1);
        assert_eq!(shared.lease_size(limit, second), 30);
        shared.replicas.store(3, Ordering::Relaxed);
        assert_eq!(shared.lease_size(limit, second), 10);
        // A minute's quota: a second's worth of it bounds the lease.
        let per_minute = Limit {
            per_period: 6000,
            burst: 6000,
        };
        assert_eq!(shared.lease_size(per_minute, Duration::from_secs(60)), 1);
        shared.replicas.store(1, Ordering::Relaxed);
        assert_eq!(shared.lease_size(per_minute, Duration::from_secs(60)), 5);
    }
}

#[cfg(feature = "metrics")]
mod counted {
    use std::sync::LazyLock;

    use ::metrics::{Counter, Gauge};

    use super::{Decision, DECISIONS_TOTAL, FALLBACK};

    struct Handles {
        admitted: Counter,
        throttled: Counter,
        fallback: Counter,
        in_fallback: Gauge,
    }

    static HANDLES: LazyLock<Handles> = LazyLock::new(|| {
        ::metrics::describe_counter!(
            DECISIONS_TOTAL,
            "Requests under a consumer quota, by result: admitted, throttled (429), or \
             fallback (admitted on the replica's share while Valkey is away)"
        );
        ::metrics::describe_gauge!(
            FALLBACK,
            "1 while a shared quota decides on the replica's share, Valkey being away"
        );
        Handles {
            admitted: ::metrics::counter!(DECISIONS_TOTAL, "result" => "admitted"),
            throttled: ::metrics::counter!(DECISIONS_TOTAL, "result" => "throttled"),
            fallback: ::metrics::counter!(DECISIONS_TOTAL, "result" => "fallback"),
            in_fallback: ::metrics::gauge!(FALLBACK),
        }
    });

    pub(super) fn decision(decision: &Decision, consumer: Option<String>) {
        let result = match decision {
            Decision::Admitted => "admitted",
            Decision::Throttled(_) => "throttled",
            Decision::Fallback => "fallback",
        };
        match consumer {
            Some(consumer) => {
                ::metrics::counter!(DECISIONS_TOTAL, "result" => result, "consumer" => consumer)
                    .increment(1);
            }
            None => match decision {
                Decision::Admitted => HANDLES.admitted.increment(1),
                Decision::Throttled(_) => HANDLES.throttled.increment(1),
                Decision::Fallback => HANDLES.fallback.increment(1),
            },
        }
    }

    pub(super) fn fallback(on: bool) {
        HANDLES.in_fallback.set(if on { 1.0 } else { 0.0 });
    }
}
