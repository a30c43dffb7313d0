//! The metrics of the `metrics` feature, recorded through the
//! [`metrics`](https://docs.rs/metrics) facade: install a recorder (for
//! Prometheus, `metrics-exporter-prometheus`) and they appear in it.
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `maskinporten_validations_total` | counter | `outcome`: `allowed`, `missing_token`, `invalid_request`, `invalid_token`, `insufficient_scope`, `access_denied`, `validator_unavailable`, `misconfigured`: the rejection's [`ErrorKind::code`](crate::ErrorKind::code), as in the JSON body |
//! | `maskinporten_cache_lookups_total` | counter | `result`: `hit`, `miss` |
//! | `maskinporten_introspections_total` | counter | `result`: `active`, `inactive`, `failed` |
//! | `maskinporten_local_verifications_total` | counter | `result`: `active`, `inactive`, `failed` |
//! | `maskinporten_jwks_fetches_total` | counter | `result`: `ok`, `failed` |
//! | `maskinporten_introspection_duration_seconds` | histogram | |
//! | `maskinporten_cache_entries` | gauge | |
//!
//! Each request counts once in `maskinporten_validations_total`, however
//! many guards and extractors look at its token: as the first guard's
//! rejection (`insufficient_scope`, `access_denied`), else as its
//! validation came out. It is counted when the request is done with; a
//! request whose caller went away while its token was being introspected
//! counts nowhere there. A call of
//! [`Maskinporten::validate`](crate::Maskinporten::validate) counts once
//! too. A handler's own checks (`claims.require_all(..)`) are the
//! handler's and not counted.
//!
//! `introspections_total{result="failed"}` counts introspections that gave
//! no verdict (unreachable, timed out, a broken answer) and those that
//! could not start because too many were in flight; the histogram holds
//! only the ones sent. The gauge is set on every cache miss and by
//! [`Maskinporten::stats`](crate::Maskinporten::stats) and
//! [`settle_cache`](crate::Maskinporten::settle_cache); with several
//! handles in one process it shows the last one's.
//!
//! The handles are taken from the recorder installed when a metric is first
//! recorded (or when [`register`](crate::metrics::register) is called): install the recorder at
//! start-up, before the first request.
//!
//! ```
//! use maskinporten_actix::metrics;
//! use metrics_exporter_prometheus::PrometheusBuilder;
//!
//! let prometheus = PrometheusBuilder::new()
//!     .set_buckets_for_metric(
//!         metrics_exporter_prometheus::Matcher::Full(
//!             metrics::INTROSPECTION_DURATION_SECONDS.to_owned(),
//!         ),
//!         &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0],
//!     )
//!     .expect("buckets")
//!     .install_recorder()
//!     .expect("the only recorder");
//! metrics::register();
//! // Serve `prometheus.render()` at /internal/metrics.
//! assert!(prometheus.render().contains(r#"maskinporten_validations_total{outcome="allowed"} 0"#));
//! ```

/// Requests validated, labelled `outcome`.
pub const VALIDATIONS_TOTAL: &str = "maskinporten_validations_total";
/// Cache lookups, labelled `result` (`hit`, `miss`).
pub const CACHE_LOOKUPS_TOTAL: &str = "maskinporten_cache_lookups_total";
/// Introspections, labelled `result` (`active`, `inactive`, `failed`).
pub const INTROSPECTIONS_TOTAL: &str = "maskinporten_introspections_total";
/// Local verifications, labelled `result` (`active`, `inactive`, `failed`).
pub const LOCAL_VERIFICATIONS_TOTAL: &str = "maskinporten_local_verifications_total";
/// JWKS fetches, labelled `result` (`ok`, `failed`).
pub const JWKS_FETCHES_TOTAL: &str = "maskinporten_jwks_fetches_total";
/// How long introspections took, in seconds (a histogram).
pub const INTROSPECTION_DURATION_SECONDS: &str = "maskinporten_introspection_duration_seconds";
/// Tokens in the cache (a gauge).
pub const CACHE_ENTRIES: &str = "maskinporten_cache_entries";

/// Registers every metric with the recorder installed now, so that each
/// series is exported (at zero) before the first request, and describes
/// them. Optional: the first request does the same.
pub fn register() {
    std::sync::LazyLock::force(&super::counted::HANDLES);
}
