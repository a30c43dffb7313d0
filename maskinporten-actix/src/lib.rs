//! Maskinporten bearer tokens for Actix-web APIs on NAIS.
//!
//! An external organisation calls your API with a Maskinporten access token;
//! this crate checks the token (through the NAIS introspection endpoint,
//! Texas, or locally against Maskinporten's keys), gives your handler its
//! typed claims, and answers callers that may not pass with the RFC 6750
//! rejection they are owed. Scopes and organisation numbers are checked when
//! the code compiles, against the NAIS scope grammar and the application's
//! NAIS manifest.
//!
//! ```no_run
//! use actix_web::{get, App, HttpResponse, HttpServer, Responder};
//! use maskinporten_actix::{require_scope, Maskinporten, MaskinportenClaims};
//!
//! #[get("/afp")]
//! #[require_scope("nav:helse/sykepenger/afp.read")]
//! async fn afp(claims: MaskinportenClaims) -> impl Responder {
//!     let orgno = claims.consumer().and_then(|c| c.orgno()).unwrap_or("unknown");
//!     HttpResponse::Ok().body(format!("AFP data for {orgno}"))
//! }
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // The endpoint and issuer NAIS sets when Maskinporten is enabled for the
//!     // application, and the scopes it exposes: with the manifest named in
//!     // Cargo.toml, `exposed_scopes(maskinporten_actix::exposed_scopes!())`.
//!     let maskinporten = Maskinporten::builder_from_env()?
//!         .exposed_scopes(["nav:helse/sykepenger/afp.read"])
//!         .build()?;
//!     HttpServer::new(move || App::new().app_data(maskinporten.clone()).service(afp))
//!         .bind(("0.0.0.0", 8080))?
//!         .run()
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! The README has the quick start: the manifest, `Cargo.toml`, and a service
//! with its test. This page is the map; the [`manual`] holds the guide.
//!
//! # The map
//!
//! - **The handle.** [`Maskinporten`] validates tokens, built once from the
//!   environment NAIS sets ([`Maskinporten::builder_from_env`]) or by hand
//!   ([`MaskinportenBuilder`]) and registered as app data. Environment
//!   variables, every option and its default:
//!   [configuration](manual::configuration).
//! - **The claims.** [`MaskinportenClaims`] is the extractor: the consumer and
//!   supplier [`Organization`]s, the Altinn [`SystemUser`], the client, the
//!   scopes, any other claim.
//! - **Guards on handlers.** [`require_scope`] (one or more scopes, or
//!   `any(..)`) and [`require_consumer`] (an allow-list of organisation
//!   numbers) guard one handler; their literals are checked when the code
//!   compiles. [Guards](manual::guards).
//! - **Guards on route trees.** The middleware [`RequireScope`] and
//!   [`RequireConsumer`] guard a `web::scope`, a `web::resource` or an `App`,
//!   with lists from [`scopes!`] and [`orgnos!`], or read at run time
//!   ([`Scopes`], [`Orgnos`], [`ListError`]). [Guards](manual::guards).
//! - **Consumer allow-lists, delegation, Altinn system users.** Who the token
//!   acts for ([`MaskinportenClaims::acting_for`]), suppliers and vendors:
//!   [guards](manual::guards#delegation-and-altinn-system-users).
//! - **Rejections.** [`MaskinportenError`] and [`ErrorKind`]: every status,
//!   challenge and body, and your own renderer:
//!   [rejections](manual::rejections).
//! - **Local mode.** Verifying signatures in-process against the JWKS instead
//!   of asking the sidecar ([`Maskinporten::local_builder_from_env`]): the
//!   [strategies](manual::strategies) compared, and how keys are fetched.
//! - **The cache and floods.** Validated tokens cached by their SHA-256, junk
//!   kept off the sidecar: [cache](manual::cache).
//! - **The NAIS manifest.** [`exposed_scopes!`] and the compile-time checks of
//!   scopes and consumers against `.nais/app.yaml`:
//!   [manifest](manual::manifest).
//! - **Tracing and metrics.** The `maskinporten.validate` span:
//!   [observability](manual::observability). Prometheus metrics (feature
//!   `metrics`), the [`metrics`][metrics-module] module and its set-up:
//!   [metrics](manual::metrics).
//! - **OpenAPI.** The document's security from the guards (feature
//!   `openapi`): the [`openapi`][openapi-module] module,
//!   [OpenAPI](manual::openapi).
//! - **Testing.** A local Texas-compatible endpoint that mints real tokens
//!   (feature `testing`), [`LocalTexas`][local-texas]:
//!   [testing](manual::testing).
//! - **Names.** The scope grammar and the organisation number check, for
//!   values only known at run time: [`scope`] and [`orgno`].
//! - **The threat model.** What is guaranteed, and what is the
//!   application's to check: [threat model](manual::threat_model).
//!
//! Features: `testing`, `metrics`, `openapi`, none on by default.
//!
#![cfg_attr(feature = "testing", doc = "[local-texas]: testing::LocalTexas")]
#![cfg_attr(not(feature = "testing"), doc = "[local-texas]: manual::testing")]
#![cfg_attr(feature = "metrics", doc = "[metrics-module]: metrics")]
#![cfg_attr(not(feature = "metrics"), doc = "[metrics-module]: manual::metrics")]
#![cfg_attr(feature = "openapi", doc = "[openapi-module]: openapi")]
#![cfg_attr(not(feature = "openapi"), doc = "[openapi-module]: manual::openapi")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod bearer;
mod cache;
mod claims;
mod error;
mod exposure;
mod extract;
mod handle;
mod http;
mod middleware;
mod observe;
mod rules;
mod stats;
mod strategy;

pub mod manual;

#[doc(hidden)]
pub mod __private;

/// The types the guards' trait implementations name, for code that wraps
/// or composes them by hand (as `actix_web::dev` holds actix-web's).
pub mod dev {
    pub use crate::extract::ClaimsFuture;
    pub use crate::middleware::GuardService;
    #[cfg(feature = "quota")]
    #[cfg_attr(docsrs, doc(cfg(feature = "quota")))]
    pub use crate::quota::QuotaService;
}

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub use observe::metrics;

#[cfg(feature = "openapi")]
#[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
pub mod openapi;

#[cfg(feature = "quota")]
#[cfg_attr(docsrs, doc(cfg(feature = "quota")))]
pub mod quota;

/// Every Rust block of the README, compiled (and run, unless marked
/// `no_run`) as a doctest, so that what a new user copies builds. The quick
/// start is the one `ignore` block: it is `examples/quickstart.rs`, which
/// needs a manifest named in its own Cargo.toml, and `tests/it/readme.rs` holds
/// the two to the same text.
#[cfg(all(doctest, feature = "testing", feature = "openapi", feature = "quota"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

pub use claims::{MaskinportenClaims, Organization, SystemUser};
pub use error::{ConfigError, ErrorKind, MaskinportenError};
pub use handle::{Maskinporten, MaskinportenBuilder};
pub use middleware::{RequireConsumer, RequireScope};
pub use rules::{ListError, Orgnos, Scopes};
pub use stats::ValidationStats;

/// Guards a handler: the request must carry a Maskinporten token that holds
/// the scopes.
///
/// ```
/// use actix_web::{post, web, HttpResponse, Responder};
/// use maskinporten_actix::{require_scope, MaskinportenClaims};
///
/// // Every scope listed is required.
/// #[post("/afp")]
/// #[require_scope("nav:helse/sykepenger/afp.write", "nav:helse/sykepenger/afp.read")]
/// async fn store(body: web::Bytes) -> impl Responder {
///     HttpResponse::Created().finish()
/// }
///
/// // One of them is enough.
/// #[require_scope(any("nav:helse/sykepenger/afp.read", "nav:helse/sykepenger/afp.write"))]
/// async fn read(claims: MaskinportenClaims) -> impl Responder {
///     HttpResponse::Ok().body(claims.scope_claim().to_owned())
/// }
/// ```
///
/// The token is validated (once per request, whatever else extracts the
/// claims) and the scopes checked before any of the handler's own arguments
/// are extracted, so no request body is read for a caller that may not pass.
/// Each scope literal is checked against the NAIS scope grammar when the code
/// compiles. The attribute goes above or below `#[get]`, `#[post]` or
/// `#[route]`, on free `async fn` handlers with any return type. It does not
/// go on an associated function of an `impl` block (its requirement is an
/// item beside the handler, which an `impl` cannot hold): the compiler
/// says so at the attribute ("struct is not supported in `trait`s or
/// `impl`s").
pub use maskinporten_macros::require_scope;

/// Lets only listed consumer organisations into a handler.
///
/// ```
/// use actix_web::{get, HttpResponse, Responder};
/// use maskinporten_actix::{require_consumer, require_scope};
///
/// #[get("/afp")]
/// #[require_scope("nav:helse/sykepenger/afp.read")]
/// #[require_consumer("991825827", "974760673")]
/// async fn afp() -> impl Responder {
///     HttpResponse::Ok().finish()
/// }
/// ```
///
/// Each literal must be a Norwegian organisation number, nine digits with a
/// valid mod-11 check digit; a wrong one is a compile error that says which
/// check digit its first eight digits need. The organisation the token acts
/// for ([`MaskinportenClaims::acting_for`], whose data it is) must be on the
/// list: the consumer, also when a supplier calls on its behalf, or for an
/// Altinn system-user token the system user's organisation, never the
/// vendor in its `consumer` (a system-user token whose organisation cannot
/// be read is refused). Any other gets 403 `access_denied` without a
/// challenge, and the answer never names the organisations that may pass.
/// It stacks with `#[require_scope]` and actix-web's route attributes in any
/// order, and the token is still validated once.
///
/// After the organisation numbers, one option says what becomes of a
/// delegated token (a supplier calls for the consumer) or a system-user
/// token (the vendor of a system calls for its customer), as the options of
/// [`RequireConsumer`] do:
///
/// ```
/// use actix_web::{get, HttpResponse, Responder};
/// use maskinporten_actix::require_consumer;
///
/// // Only tokens the listed organisations fetched for themselves.
/// #[get("/own")]
/// #[require_consumer("991825827", "974760673", refuse_delegated)]
/// async fn own() -> impl Responder {
///     HttpResponse::Ok().finish()
/// }
///
/// // Delegated and system-user tokens only from these suppliers and vendors.
/// #[get("/supplied")]
/// #[require_consumer("991825827", suppliers("974760673", "889640782"))]
/// async fn supplied() -> impl Responder {
///     HttpResponse::Ok().finish()
/// }
/// ```
///
/// Without an option, such tokens are judged by the organisation they act
/// for alone. The suppliers are checked like the consumers when the code
/// compiles; an unknown option, an option given twice, both options, or an
/// empty `suppliers()` is a compile error.
pub use maskinporten_macros::require_consumer;

/// A [`Scopes`] list whose literals are checked against the NAIS scope
/// grammar when the code compiles, with the messages of `#[require_scope]`.
///
/// ```
/// use maskinporten_actix::{scopes, RequireScope};
///
/// let guard = RequireScope::any(scopes![
///     "nav:helse/sykepenger/afp.read",
///     "nav:helse/sykepenger/afp.write",
/// ]);
/// ```
pub use maskinporten_macros::scopes;

/// The scopes the application exposes, read from its NAIS manifest when the
/// code compiles: every enabled entry of `spec.maskinporten.scopes.exposes`,
/// as a `&'static [&'static str]`, for
/// [`MaskinportenBuilder::exposed_scopes`].
///
/// The manifest is named in the application's Cargo.toml
/// ([`manual::manifest`] has the details):
///
/// ```toml
/// [package.metadata.maskinporten]
/// nais-manifest = ".nais/app.yaml"
/// ```
///
/// ```ignore
/// use maskinporten_actix::{exposed_scopes, Maskinporten};
///
/// let maskinporten = Maskinporten::builder()
///     .introspection_endpoint("http://127.0.0.1:7164/api/v1/introspect")
///     .exposed_scopes(exposed_scopes!())
///     .build()?;
/// ```
///
/// Without a manifest, or with one that exposes no enabled scope, it is a
/// compile error that says so. With the manifest read, `#[require_scope]`,
/// `#[require_consumer]`, `scopes![]` and `orgnos![]` are checked against it
/// too.
pub use maskinporten_macros::exposed_scopes;

/// An [`Orgnos`] list whose literals are checked (nine digits, mod-11 check
/// digit) when the code compiles, with the messages of `#[require_consumer]`.
///
/// ```
/// use maskinporten_actix::{orgnos, RequireConsumer};
///
/// let guard = RequireConsumer::one_of(orgnos!["991825827", "974760673"]);
/// ```
pub use maskinporten_macros::orgnos;

/// The environment variables NAIS sets for an application with Maskinporten
/// enabled, which [`Maskinporten::builder_from_env`] and
/// [`Maskinporten::local_builder_from_env`] read. (The defaults of the other
/// settings are associated constants of [`MaskinportenBuilder`].)
pub mod env {
    pub use crate::handle::nais::{INTROSPECTION_ENDPOINT, ISSUER, JWKS_URI, WELL_KNOWN_URL};
}

/// The NAIS scope grammar that `#[require_scope]` applies when the code
/// compiles, for scopes only known at run time.
pub mod scope {
    pub use maskinporten_names::{validate, ScopeError, ScopeErrorKind, EXAMPLE};
}

/// The organisation number check (nine digits, mod-11 check digit) that
/// `#[require_consumer]` and `orgnos![]` apply when the code compiles, for
/// numbers only known at run time.
pub mod orgno {
    pub use maskinporten_names::orgno::{
        check_digit, validate, OrgnoError, OrgnoErrorKind, EXAMPLE,
    };
}
