//! A local, Texas-compatible introspection endpoint: the way to test
//! handlers guarded by Maskinporten tokens, and to run an API without NAIS.
//!
//! On NAIS, an application validates a Maskinporten token by POSTing it to
//! Texas, the token sidecar (`NAIS_TOKEN_INTROSPECTION_ENDPOINT`). Off NAIS,
//! [`LocalTexas`] stands in for it: a real HTTP server on `127.0.0.1` that
//! answers `POST /api/v1/introspect` exactly as Texas does (same status codes,
//! same JSON, same error texts, checked against answers captured from the real
//! sidecar), and that mints real RS256 tokens with [`LocalTexas::token`].
//! Point your guard at [`LocalTexas::introspection_endpoint`], send
//! `Authorization: Bearer <token>` to your handler, and assert on the answer.
//!
//! It needs the `testing` feature. The crates are not on crates.io yet, so
//! the dependency is a path (or git) dependency on a checkout of this
//! repository until they are:
//!
//! ```toml
//! [dev-dependencies]
//! maskinporten-actix = { path = "../maskinporten-actix/maskinporten-actix", features = ["testing"] }
//! ```
//!
//! ```
//! use std::time::Duration;
//! use maskinporten_actix::testing::LocalTexas;
//!
//! // Binds 127.0.0.1 on a free port; the server stops when `texas` is dropped.
//! let texas = LocalTexas::start();
//! assert!(texas.introspection_endpoint().ends_with("/api/v1/introspect"));
//!
//! // What NAIS would put in the environment, pointing at the local endpoint.
//! for (name, value) in texas.env_vars() {
//!     println!("{name}={value}");
//! }
//!
//! // A valid token for one scope, from a chosen consumer...
//! let good = texas
//!     .token()
//!     .scope("nav:helse/sykepenger/afp.read")
//!     .consumer("974761076")
//!     .sign();
//! // ...and tokens that must be refused, each for one reason.
//! let expired = texas.token().expired(Duration::from_secs(3600)).sign();
//! let forged = texas.token().signed_by_other_key().sign();
//! let wrong_scope = texas.token().scope("nav:helse/sykepenger/afp.write").sign();
//! # let _ = (good, expired, forged, wrong_scope);
//!
//! // After the requests: how often was the endpoint asked?
//! assert_eq!(texas.introspections(), 0);
//! ```
//!
//! What the endpoint checks, as Texas does for Maskinporten: RS256 only, a
//! `kid` from its JWKS ([`LocalTexas::jwks_uri`]), the signature, `iss` equal to
//! [`LocalTexas::issuer`], `exp` and `iat` present, `exp`, `nbf` and `iat`
//! with 60 s leeway. It does not check `aud`, `scope` or `consumer`: that is
//! the application's job. Like Texas, it caches nothing and serialises the
//! validations.
//!
//! The signing keys are public test keys compiled into this crate: anyone can
//! mint any token for them. A handle pointed at a `LocalTexas` trusts those
//! keys, so it belongs in tests and on a developer's machine, never in a
//! deployed service: [`LocalTexasBuilder::start`] refuses to start where NAIS
//! runs (any of [`NAIS_MARKERS`] set), and every handle made from it says
//! so on standard error when it is built.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpServer};

mod keys;
mod server;
mod token;

pub use keys::{DEFAULT_KID, OTHER_KID};
pub use token::{TokenBuilder, DEFAULT_CONSUMER_ORGNO, DEFAULT_EXPIRES_IN};

use server::Shared;

/// The issuer a [`LocalTexas`] expects unless
/// [`LocalTexasBuilder::issuer`] says otherwise: Maskinporten's test
/// environment.
pub const DEFAULT_ISSUER: &str = "https://test.maskinporten.no/";

/// Variables NAIS sets in every pod. Where any of them is set, a
/// [`LocalTexas`] refuses to start: its keys are public, and a service that
/// fell back to it there would accept tokens anyone can mint.
pub const NAIS_MARKERS: [&str; 3] = ["NAIS_CLUSTER_NAME", "NAIS_APP_NAME", "NAIS_NAMESPACE"];

/// Seconds the server waits for open connections when it stops.
const SHUTDOWN_TIMEOUT_SECS: u64 = 1;

/// A local, Texas-compatible introspection endpoint on `127.0.0.1`, running on
/// its own thread.
///
/// Serves:
/// - `POST /api/v1/introspect`: Texas' introspection, for
///   `identity_provider` `maskinporten` (other known providers answer
///   "not enabled", as in a pod without them);
/// - `GET /jwks`: the JWKS holding the public key tokens are signed with;
/// - `GET /.well-known/oauth-authorization-server`: `issuer` and `jwks_uri`.
///
/// It works from a plain `fn main`, from `#[actix_web::main]` and
/// `#[actix_web::test]`, and from `#[tokio::test]`: the server has its own
/// thread and actix system. Dropping the value stops the server (waiting at
/// most about a second for open connections) and joins its thread.
///
/// See the [module documentation](self) for an example.
pub struct LocalTexas {
    addr: SocketAddr,
    shared: Arc<Shared>,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl LocalTexas {
    /// Starts an endpoint with the defaults (issuer [`DEFAULT_ISSUER`], a free
    /// port, one worker, no latency) and returns once it accepts connections.
    ///
    /// # Panics
    ///
    /// Where NAIS runs (see [`LocalTexasBuilder::start`]), or if no socket
    /// can be bound on `127.0.0.1` (or the server thread cannot be started).
    /// Use [`LocalTexas::builder`] to get the error instead.
    pub fn start() -> LocalTexas {
        Self::builder()
            .start()
            .unwrap_or_else(|e| panic!("LocalTexas: {e}"))
    }

    /// A builder to choose issuer, port, workers and latency.
    pub fn builder() -> LocalTexasBuilder {
        LocalTexasBuilder::default()
    }

    /// A [`MaskinportenBuilder`](crate::MaskinportenBuilder) pointed at this
    /// endpoint and its issuer: `.build()` it as it is for the defaults, or
    /// set a timeout, a realm or cache options on top. Building never fails
    /// for the endpoint's own URL.
    ///
    /// Says on standard error that the handle trusts public test keys: a
    /// line nobody can miss in the log of a service that should not have it.
    pub fn maskinporten_builder(&self) -> crate::MaskinportenBuilder {
        self.warn_public_keys();
        crate::Maskinporten::builder()
            .introspection_endpoint(self.introspection_endpoint())
            .issuer(self.issuer())
    }

    /// A [`MaskinportenBuilder`](crate::MaskinportenBuilder) for local
    /// validation against [`jwks_uri`](Self::jwks_uri) and
    /// [`issuer`](Self::issuer), to set an audience, refresh intervals or
    /// cache options on top. Says on standard error that the handle trusts
    /// public test keys, as [`maskinporten_builder`](Self::maskinporten_builder)
    /// does.
    ///
    /// ```
    /// # use maskinporten_actix::testing::LocalTexas;
    /// # actix_web::rt::System::new().block_on(async {
    /// let texas = LocalTexas::start();
    /// let maskinporten = texas
    ///     .maskinporten_local_builder()
    ///     .exposed_scopes(["nav:helse/sykepenger/afp.read"])
    ///     .build()
    ///     .unwrap();
    /// let token = texas.token().scope("nav:helse/sykepenger/afp.read").sign();
    /// let claims = maskinporten.validate(&token).await.unwrap();
    /// assert!(claims.has_scope("nav:helse/sykepenger/afp.read"));
    /// assert_eq!(texas.introspections(), 0);
    /// assert_eq!(texas.jwks_fetches(), 1);
    /// # });
    /// ```
    pub fn maskinporten_local_builder(&self) -> crate::MaskinportenBuilder {
        self.warn_public_keys();
        crate::Maskinporten::builder()
            .issuer(self.issuer())
            .local_validation(self.jwks_uri())
    }

    fn warn_public_keys(&self) {
        eprintln!(
            "maskinporten-actix: WARNING: this Maskinporten handle trusts LocalTexas at {}, \
             whose signing keys are public test keys: anyone can mint a token it accepts. \
             Use it in tests and on a developer machine only.",
            self.base_url()
        );
        tracing::warn!(
            local_texas = %self.base_url(),
            "a Maskinporten handle trusts LocalTexas and its public test keys"
        );
    }

    /// The introspection endpoint, `http://127.0.0.1:<port>/api/v1/introspect`:
    /// the value NAIS puts in `NAIS_TOKEN_INTROSPECTION_ENDPOINT`.
    pub fn introspection_endpoint(&self) -> String {
        format!("{}{}", self.base_url(), server::INTROSPECT_PATH)
    }

    /// The JWKS URI, `http://127.0.0.1:<port>/jwks` (for local validation,
    /// `MASKINPORTEN_JWKS_URI`). It lists the key with kid [`DEFAULT_KID`].
    pub fn jwks_uri(&self) -> String {
        format!("{}{}", self.base_url(), server::JWKS_PATH)
    }

    /// The authorization server metadata URL
    /// (`MASKINPORTEN_WELL_KNOWN_URL`); the document holds `issuer` and
    /// `jwks_uri`.
    pub fn well_known_url(&self) -> String {
        format!("{}{}", self.base_url(), server::WELL_KNOWN_PATH)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The issuer tokens must carry in `iss` (`MASKINPORTEN_ISSUER`).
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// The variables NAIS would set for an application with Maskinporten
    /// exposure, pointing at this endpoint:
    /// `NAIS_TOKEN_INTROSPECTION_ENDPOINT`, `MASKINPORTEN_ISSUER`,
    /// `MASKINPORTEN_JWKS_URI` and `MASKINPORTEN_WELL_KNOWN_URL`.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "NAIS_TOKEN_INTROSPECTION_ENDPOINT",
                self.introspection_endpoint(),
            ),
            ("MASKINPORTEN_ISSUER", self.issuer().to_owned()),
            ("MASKINPORTEN_JWKS_URI", self.jwks_uri()),
            ("MASKINPORTEN_WELL_KNOWN_URL", self.well_known_url()),
        ]
    }

    /// A builder for a token this endpoint accepts (see [`TokenBuilder`]
    /// for the defaults and the ways to break it).
    pub fn token(&self) -> TokenBuilder {
        TokenBuilder::new(self.shared.issuer.clone())
    }

    /// How many POSTs `/api/v1/introspect` has received since start (or
    /// since the last [`reset_introspections`](Self::reset_introspections)),
    /// whatever their answer. A request is counted when it arrives, before
    /// its answer.
    pub fn introspections(&self) -> u64 {
        self.shared.introspections.load(Ordering::SeqCst)
    }

    /// Sets the counter of [`introspections`](Self::introspections) back to
    /// zero and returns its previous value.
    pub fn reset_introspections(&self) -> u64 {
        self.shared.introspections.swap(0, Ordering::SeqCst)
    }

    /// Delays every answer of `/api/v1/introspect` by `latency` from now on
    /// (`Duration::ZERO` to stop), e.g. to test timeouts or that concurrent
    /// requests share one introspection.
    ///
    /// Maskinporten introspections are serialised as in Texas, and the delay
    /// is spent inside the serialised section: `n` concurrent introspections
    /// take about `n × latency` in all.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.set_latency(latency);
    }

    /// The current delay (see [`set_latency`](Self::set_latency)).
    pub fn latency(&self) -> Duration {
        self.shared.latency()
    }

    /// Publishes exactly these keys from now on, by kid: [`DEFAULT_KID`],
    /// [`OTHER_KID`], both or none. `/jwks` lists them and the introspection
    /// trusts them, as Maskinporten rotating its keys would. Tokens signed
    /// with [`TokenBuilder::signed_by_other_key`] carry [`OTHER_KID`].
    ///
    /// # Panics
    ///
    /// For any other kid: the endpoint has no key for it.
    pub fn set_jwks_keys(&self, kids: &[&str]) {
        let published: Vec<&'static str> = kids
            .iter()
            .map(|kid| {
                keys::keys()
                    .pair(kid)
                    .map(|pair| pair.kid)
                    .unwrap_or_else(|| panic!("LocalTexas has no key with kid `{kid}`"))
            })
            .collect();
        *self
            .shared
            .published
            .write()
            .unwrap_or_else(|p| p.into_inner()) = published;
    }

    /// The kids `/jwks` publishes now.
    pub fn jwks_keys(&self) -> Vec<&'static str> {
        self.shared.published()
    }

    /// How many GETs `/jwks` has received since start (or since the last
    /// [`reset_jwks_fetches`](Self::reset_jwks_fetches)), whatever their
    /// answer.
    pub fn jwks_fetches(&self) -> u64 {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Sets the counter of [`jwks_fetches`](Self::jwks_fetches) back to zero
    /// and returns its previous value.
    pub fn reset_jwks_fetches(&self) -> u64 {
        self.shared.jwks_fetches.swap(0, Ordering::SeqCst)
    }

    /// Makes `/jwks` answer badly from now on ([`JwksFault::None`] to
    /// stop), to test what local validation does when the key set cannot be
    /// had. Fetches are counted all the same.
    pub fn set_jwks_fault(&self, fault: JwksFault) {
        *self
            .shared
            .jwks_fault
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = fault;
    }
}

impl fmt::Debug for LocalTexas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalTexas")
            .field("addr", &self.addr)
            .field("issuer", &self.shared.issuer)
            .field("introspections", &self.introspections())
            .field("latency", &self.latency())
            .finish_non_exhaustive()
    }
}

impl Drop for LocalTexas {
    fn drop(&mut self) {
        // `stop` sends the command at once; the returned future only reports
        // completion, which joining the thread waits for anyway.
        drop(self.handle.stop(true));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How `/jwks` answers; see [`LocalTexas::set_jwks_fault`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksFault {
    /// The published keys, at once (the default).
    #[default]
    None,
    /// This status and a plain-text body.
    Status(u16),
    /// The published keys, after this delay.
    Delay(Duration),
    /// 200 with a body that is not JSON.
    Garbage,
    /// 200 with `{"keys": []}`.
    EmptyKeySet,
    /// 200 with the keys padded to 4 MiB.
    Oversized,
}

/// Configures and starts a [`LocalTexas`]; from [`LocalTexas::builder`].
#[derive(Clone, Debug)]
#[must_use = "a LocalTexasBuilder does nothing until `.start()` is called"]
pub struct LocalTexasBuilder {
    issuer: String,
    port: u16,
    workers: usize,
    latency: Duration,
}

impl Default for LocalTexasBuilder {
    fn default() -> Self {
        LocalTexasBuilder {
            issuer: DEFAULT_ISSUER.to_owned(),
            port: 0,
            workers: 1,
            latency: Duration::ZERO,
        }
    }
}

impl LocalTexasBuilder {
    /// The issuer tokens must carry (default [`DEFAULT_ISSUER`]), e.g.
    /// `https://maskinporten.no/`.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// The port on `127.0.0.1` (default 0: any free port). Texas itself
    /// listens on 7164.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The number of server worker threads (default 1; at least 1).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// The initial delay of every answer (see [`LocalTexas::set_latency`]).
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Binds `127.0.0.1:<port>`, starts the server on its own thread and
    /// returns once it accepts connections.
    ///
    /// # Errors
    ///
    /// Where NAIS runs (any of [`NAIS_MARKERS`] is set), with
    /// [`io::ErrorKind::PermissionDenied`]; if the socket cannot be bound or
    /// the server thread cannot start.
    pub fn start(self) -> io::Result<LocalTexas> {
        if let Some(marker) = NAIS_MARKERS
            .iter()
            .find(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
        {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "LocalTexas refuses to start where NAIS runs ({marker} is set): its signing \
                     keys are public, so a service trusting it would accept tokens anyone can \
                     mint. On NAIS, validate through NAIS_TOKEN_INTROSPECTION_ENDPOINT \
                     (Maskinporten::builder_from_env)."
                ),
            ));
        }
        keys::install_crypto_provider();
        // Parse the keys now rather than inside the first request.
        let _ = keys::keys();

        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, self.port))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            issuer: self.issuer,
            base_url: format!("http://{addr}"),
            introspections: AtomicU64::new(0),
            latency_nanos: AtomicU64::new(0),
            maskinporten: futures_util::lock::Mutex::new(()),
            published: std::sync::RwLock::new(vec![DEFAULT_KID]),
            jwks_fetches: AtomicU64::new(0),
            jwks_fault: std::sync::Mutex::new(JwksFault::None),
        });
        shared.set_latency(self.latency);

        let data = web::Data::from(Arc::clone(&shared));
        let workers = self.workers;
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<ServerHandle>>();
        let thread = std::thread::Builder::new()
            .name(format!("local-texas-{}", addr.port()))
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let server = HttpServer::new(move || {
                        App::new()
                            .app_data(data.clone())
                            .configure(server::configure)
                    })
                    .workers(workers)
                    .disable_signals()
                    .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
                    .listen(listener);
                    let server = match server {
                        Ok(server) => server.run(),
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(server.handle()));
                    if let Err(e) = server.await {
                        tracing::warn!(error = %e, "local texas server stopped with an error");
                    }
                });
            })?;

        match ready_rx.recv() {
            Ok(Ok(handle)) => Ok(LocalTexas {
                addr,
                shared,
                handle,
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(io::Error::other(
                    "LocalTexas: the server thread ended early",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests;
