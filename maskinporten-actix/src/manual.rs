//! The manual: every page of the guide, one topic each.
//!
//! The crate documentation's front page is the map; these pages are the
//! guide behind it, with examples that compile (and run, unless they would
//! start a server) as doctests.
//!
//! | page | what it holds |
//! |---|---|
//! | [`configuration`] | the handle: environment variables, builder options and defaults, where to register it |
//! | [`guards`] | `#[require_scope]`, `#[require_consumer]`, the middleware for route trees, lists from configuration, delegation and Altinn system users |
//! | [`rejections`] | every answer a caller can get, and how to render your own |
//! | [`strategies`] | introspection or local validation: what each costs, how keys are fetched |
//! | [`cache`] | the cache of validated tokens, and what keeps a flood of junk tokens off the sidecar |
//! | [`manifest`] | the NAIS manifest as the source of truth: exposing scopes, the checks when the code compiles, each error explained |
//! | [`observability`] | the tracing span of each validation, OpenTelemetry |
//! | [`metrics`] | the Prometheus metrics, set-up, and queries (feature `metrics`) |
//! | [`openapi`] | the OpenAPI document's security from the guards (feature `openapi`) |
//! | [`testing`] | testing handlers and running a service without NAIS (feature `testing`) |
//! | [`threat_model`] | what the crates guarantee, and what the application must still check |
//!
//! The pages of the `metrics`, `openapi` and `testing` features are complete
//! when the documentation is built with them (docs.rs builds every feature;
//! locally `cargo doc -p maskinporten-actix --all-features --open`).

#[doc = include_str!("manual/configuration.md")]
pub mod configuration {}

#[doc = include_str!("manual/guards.md")]
pub mod guards {}

#[doc = include_str!("manual/rejections.md")]
pub mod rejections {}

#[doc = include_str!("manual/strategies.md")]
pub mod strategies {}

#[doc = include_str!("manual/cache.md")]
pub mod cache {}

#[doc = include_str!("manual/manifest.md")]
pub mod manifest {}

#[doc = include_str!("manual/observability.md")]
pub mod observability {}

#[cfg_attr(feature = "metrics", doc = include_str!("manual/metrics.md"))]
#[cfg_attr(
    not(feature = "metrics"),
    doc = "The Prometheus metrics: this page needs the `metrics` feature \
           (`cargo doc -p maskinporten-actix --features metrics`; docs.rs has it)."
)]
pub mod metrics {}

#[cfg_attr(feature = "openapi", doc = include_str!("manual/openapi.md"))]
#[cfg_attr(
    not(feature = "openapi"),
    doc = "The OpenAPI document's security: this page needs the `openapi` feature \
           (`cargo doc -p maskinporten-actix --features openapi`; docs.rs has it)."
)]
pub mod openapi {}

#[cfg_attr(feature = "testing", doc = include_str!("manual/testing.md"))]
#[cfg_attr(
    not(feature = "testing"),
    doc = "Testing handlers and running a service without NAIS: this page needs the \
           `testing` feature (`cargo doc -p maskinporten-actix --features testing`; \
           docs.rs has it)."
)]
pub mod testing {}

#[doc = include_str!("manual/threat_model.md")]
pub mod threat_model {}

