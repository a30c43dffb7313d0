//! Observability at the edges: one `tracing` span and one count per
//! validation, finished in one place.
//!
//! A request is validated once (`RequestValidation` in its extensions), and
//! may then meet several guards. Its [`Record`] sits beside that validation
//! in the extensions: guards note a rejection on it, and when the request is
//! done with (its extensions dropped) the record settles what the request
//! came to (the first guard's rejection, else the validation's own outcome),
//! counts it in `maskinporten_validations_total` and closes the span. No
//! path through the extractor, the attribute or the middleware decides
//! without passing through it. A direct [`Maskinporten::validate`] has a
//! record of its own, settled when it returns.
//!
//! Nothing here sees the token: the span holds the decision, the strategy,
//! the cache's answer, the required scopes, the consumer's organisation
//! number and the latency.

use std::{
    cell::{Cell, RefCell},
    future::Future,
    time::Instant,
};

use tracing::{field::Empty, Instrument, Span};

use crate::{extract::RequestValidation, guard::Requirement, ErrorKind, Maskinporten};

/// What a validation came to, as the `outcome` label and the span's
/// `decision` field.
fn outcome(decided: Result<(), ErrorKind>) -> &'static str {
    match decided {
        Ok(()) => "allowed",
        Err(kind) => OUTCOMES[rejection_index(kind)],
    }
}

/// The label values of `maskinporten_validations_total`, `allowed` first and
/// then one per [`ErrorKind`], in the order of [`rejection_index`].
const OUTCOMES: [&str; 8] = [
    "allowed",
    "no_token",
    "invalid_request",
    "invalid_token",
    "insufficient_scope",
    "access_denied",
    "unavailable",
    "misconfigured",
];

fn rejection_index(kind: ErrorKind) -> usize {
    match kind {
        ErrorKind::MissingToken => 1,
        ErrorKind::InvalidRequest => 2,
        ErrorKind::InvalidToken => 3,
        ErrorKind::InsufficientScope => 4,
        ErrorKind::AccessDenied => 5,
        ErrorKind::ValidatorUnavailable => 6,
        ErrorKind::Misconfigured => 7,
    }
}

/// How a validation used the cache, for the span and
/// `maskinporten_cache_lookups_total`.
#[derive(Clone, Copy)]
pub(crate) enum CacheUse {
    Hit,
    Miss,
    /// The handle has no cache.
    Off,
}

impl CacheUse {
    fn label(self) -> &'static str {
        match self {
            CacheUse::Hit => "hit",
            CacheUse::Miss => "miss",
            CacheUse::Off => "off",
        }
    }
}

/// Counts a cache hit of the request path, whose span learns of it from
/// the validation itself.
#[inline]
pub(crate) fn cache_hit() {
    counted::cache_hit();
}

/// Counts a cache lookup and, inside a validation's span, names it there.
#[inline]
pub(crate) fn cache(used: CacheUse) {
    match used {
        CacheUse::Hit => counted::cache_hit(),
        CacheUse::Miss => counted::cache_miss(),
        CacheUse::Off => {}
    }
    let span = Span::current();
    if !span.is_disabled() {
        span.record("cache", used.label());
    }
}

/// The start of a validation: its span, and the clock when the span is
/// recorded by a subscriber.
pub(crate) struct Start {
    span: Span,
    started: Option<Instant>,
}

impl Start {
    /// Opens the span. Without a subscriber that wants it, this is one
    /// check of the callsite's interest, and no clock is read.
    ///
    /// Before any subscriber is set, a disabled span still goes to the `log`
    /// crate (tracing's `log` feature, which Actix turns on): the macro
    /// records every field into it and the span logs itself when dropped,
    /// about 180 instructions per request. Where no logger listens at
    /// `info` either, nothing could ever see the span, and none is made.
    #[inline]
    pub(crate) fn now() -> Start {
        Self::opened(unseen())
    }

    /// [`now`](Self::now), told whether anything could see the span.
    #[inline]
    fn opened(unseen: bool) -> Start {
        if unseen {
            return Start {
                span: Span::none(),
                started: None,
            };
        }
        let span = tracing::info_span!(
            "maskinporten.validate",
            decision = Empty,
            strategy = Empty,
            cache = Empty,
            scopes = Empty,
            consumer = Empty,
            latency_us = Empty,
        );
        let started = (!span.is_disabled()).then(Instant::now);
        Start { span, started }
    }

    /// The start of a request's validation, when anything would see it:
    /// the metrics, a subscriber, or a logger. Otherwise `None`, and the
    /// request carries no span and no record.
    #[inline]
    pub(crate) fn if_wanted() -> Option<Start> {
        let unseen = unseen();
        if !counted::ENABLED && unseen {
            return None;
        }
        Some(Start::opened(unseen))
    }

    /// Runs a validation inside the span, and records its latency when it
    /// finishes.
    pub(crate) fn instrument<F: Future>(&self, validation: F) -> impl Future<Output = F::Output> {
        let started = self.started;
        // A combinator, not an `async` block: the block would hold the
        // validation twice (as its capture and as the awaited future), and
        // copy both whenever it moves.
        futures_util::FutureExt::inspect(validation, move |_| {
            if let Some(started) = started {
                Span::current().record("latency_us", micros(started));
            }
        })
        .instrument(self.span.clone())
    }

    /// The record of a request's validation, kept beside it in the
    /// request's extensions for the guards to note their rejections on and
    /// settled when the request is dropped; `None` when neither metrics nor
    /// the span want one. A validation that failed outright is settled at
    /// once: no guard decides on it.
    #[inline]
    pub(crate) fn record(
        self,
        handle: Option<&Maskinporten>,
        validation: &RequestValidation,
    ) -> Option<Box<Record>> {
        if !counted::ENABLED && self.span.is_disabled() {
            return None;
        }
        self.record_wanted(handle, validation).map(Box::new)
    }

    /// [`record`](Self::record) when metrics or the span want one: out of
    /// line, so that the common path (neither) stays small.
    #[inline(never)]
    fn record_wanted(
        self,
        handle: Option<&Maskinporten>,
        validation: &RequestValidation,
    ) -> Option<Record> {
        if !self.span.is_disabled() {
            if let Some(handle) = handle {
                self.span.record("strategy", handle.strategy_name());
            }
        }
        match validation {
            RequestValidation::Done(outcome) => {
                if let Some(started) = self.started {
                    // Decided on the spot: from the header, or a cache hit.
                    if outcome.is_ok() {
                        self.span.record("cache", CacheUse::Hit.label());
                    }
                    self.span.record("latency_us", micros(started));
                }
                self.validated(outcome)
            }
            RequestValidation::InFlight(_) => Some(Record {
                span: self.span,
                validated: Ok(()),
                pending: Some(validation.clone()),
                rejection: Cell::new(None),
                scopes: RefCell::new(String::new()),
            }),
        }
    }

    /// Settles a direct validation (one outside a request) now.
    pub(crate) fn finish(
        self,
        maskinporten: &Maskinporten,
        outcome: &Result<crate::MaskinportenClaims, crate::MaskinportenError>,
    ) {
        if !self.span.is_disabled() {
            self.span.record("strategy", maskinporten.strategy_name());
        }
        drop(self.validated(outcome));
    }

    /// The record of a validation decided now; a rejection is settled at
    /// once (`None`), claims wait for the guards.
    fn validated(
        self,
        outcome: &Result<crate::MaskinportenClaims, crate::MaskinportenError>,
    ) -> Option<Record> {
        match outcome {
            Ok(claims) => {
                if !self.span.is_disabled() {
                    if let Some(orgno) = claims.acting_for().and_then(|c| c.orgno()) {
                        self.span.record("consumer", orgno);
                    }
                }
                Some(Record {
                    span: self.span,
                    validated: Ok(()),
                    pending: None,
                    rejection: Cell::new(None),
                    scopes: RefCell::new(String::new()),
                })
            }
            Err(error) => {
                settle(&self.span, Err(error.kind()));
                None
            }
        }
    }
}

/// Whether nothing could ever see a validation's span: no subscriber has
/// been set, and no logger listens at `info`.
#[inline]
fn unseen() -> bool {
    !tracing::dispatcher::has_been_set() && log::max_level() < log::LevelFilter::Info
}

fn micros(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Counts what a validation came to and says it in its span.
fn settle(span: &Span, decision: Result<(), ErrorKind>) {
    counted::validation(decision);
    if !span.is_disabled() {
        span.record("decision", outcome(decision));
    }
}

/// One validation, settled (counted, its span closed) when dropped.
pub(crate) struct Record {
    span: Span,
    /// The validation's outcome when it was decided at once.
    validated: Result<(), ErrorKind>,
    /// The introspection under way when it was not.
    pending: Option<RequestValidation>,
    /// The first rejection of a guard: it overrides an allowed validation.
    rejection: Cell<Option<ErrorKind>>,
    /// The scopes the request's guards required, for the span.
    scopes: RefCell<String>,
}

/// Notes a guard's decision on the request's record: a rejection becomes
/// what the request counts as, and the required scopes go into the span.
#[inline]
pub(crate) fn judged<S: AsRef<str>>(
    record: Option<&Record>,
    requirement: &Requirement<'_, S>,
    decision: &Result<(), crate::MaskinportenError>,
) {
    let Some(record) = record else {
        return;
    };
    if let Err(rejection) = decision {
        if record.rejection.get().is_none() {
            record.rejection.set(Some(rejection.kind()));
        }
    }
    if let (false, Requirement::Scopes { scopes, .. }) = (record.span.is_disabled(), requirement) {
        let mut listed = record.scopes.borrow_mut();
        for scope in scopes.iter() {
            if !listed.is_empty() {
                listed.push(' ');
            }
            listed.push_str(scope.as_ref());
        }
    }
}

impl Record {
    /// What the request came to; `None` while its validation never
    /// finished (the caller went away during an introspection).
    fn decided(&self) -> Option<Result<(), ErrorKind>> {
        let validated = match &self.pending {
            None => self.validated,
            Some(RequestValidation::InFlight(flight)) => match flight.peek()? {
                Ok(_) => Ok(()),
                Err(error) => Err(error.kind()),
            },
            Some(RequestValidation::Done(outcome)) => {
                outcome.as_ref().map(drop).map_err(|e| e.kind())
            }
        };
        Some(match self.rejection.get() {
            Some(kind) => Err(kind),
            None => validated,
        })
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        let decided = self.decided();
        match decided {
            Some(decision) => settle(&self.span, decision),
            None => {
                if !self.span.is_disabled() {
                    self.span.record("decision", "abandoned");
                }
            }
        }
        if self.span.is_disabled() {
            return;
        }
        if let Some(RequestValidation::InFlight(flight)) = &self.pending {
            if let Some(Ok(claims)) = flight.peek() {
                if let Some(orgno) = claims.acting_for().and_then(|c| c.orgno()) {
                    self.span.record("consumer", orgno);
                }
            }
        }
        let scopes = self.scopes.get_mut();
        if !scopes.is_empty() {
            self.span.record("scopes", scopes.as_str());
        }
    }
}

/// What the strategies report, for the metrics.
#[derive(Clone, Copy)]
pub(crate) enum Verdict {
    Active,
    Inactive,
    Failed,
}

/// Counts one introspection's verdict; `took` is the round trip, when one
/// was made.
#[inline]
pub(crate) fn introspected(verdict: Verdict, took: Option<std::time::Duration>) {
    counted::introspection(verdict, took);
}

/// Counts one local verification's verdict.
#[inline]
pub(crate) fn verified_locally(verdict: Verdict) {
    counted::local_verification(verdict);
}

/// Counts one fetch of the JWKS.
#[inline]
pub(crate) fn jwks_fetched(ok: bool) {
    counted::jwks_fetch(ok);
}

/// Sets the cache's entry gauge.
#[inline]
pub(crate) fn cache_entries(entries: u64) {
    counted::cache_entries(entries);
}

/// Without the `metrics` feature: nothing, at no cost.
#[cfg(not(feature = "metrics"))]
mod counted {
    use super::Verdict;
    pub(super) const ENABLED: bool = false;
    #[inline(always)]
    pub(super) fn validation(_: Result<(), crate::ErrorKind>) {}
    #[inline(always)]
    pub(super) fn cache_hit() {}
    #[inline(always)]
    pub(super) fn cache_miss() {}
    #[inline(always)]
    pub(super) fn introspection(_: Verdict, _: Option<std::time::Duration>) {}
    #[inline(always)]
    pub(super) fn local_verification(_: Verdict) {}
    #[inline(always)]
    pub(super) fn jwks_fetch(_: bool) {}
    #[inline(always)]
    pub(super) fn cache_entries(_: u64) {}
}

/// With the `metrics` feature: handles registered once, on first use, so a
/// request costs an indexed load and the recorder's increment, with no key
/// built or looked up.
#[cfg(feature = "metrics")]
mod counted {
    use std::{sync::LazyLock, time::Duration};

    use ::metrics::{Counter, Gauge, Histogram};

    use super::{metrics::*, rejection_index, Verdict, OUTCOMES};

    pub(super) const ENABLED: bool = true;

    pub(super) struct Handles {
        validations: [Counter; OUTCOMES.len()],
        cache_hit: Counter,
        cache_miss: Counter,
        introspections: [Counter; 3],
        local_verifications: [Counter; 3],
        jwks_ok: Counter,
        jwks_failed: Counter,
        introspection_duration: Histogram,
        cache_entries: Gauge,
    }

    const VERDICTS: [&str; 3] = ["active", "inactive", "failed"];

    pub(super) static HANDLES: LazyLock<Handles> = LazyLock::new(|| {
        use ::metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
        describe_counter!(
            VALIDATIONS_TOTAL,
            "Requests validated, by what they came to: allowed, or the rejection"
        );
        describe_counter!(
            CACHE_LOOKUPS_TOTAL,
            "Lookups of a token in the cache of validated tokens, by hit or miss"
        );
        describe_counter!(
            INTROSPECTIONS_TOTAL,
            "Introspections by the sidecar, by active, inactive or failed"
        );
        describe_counter!(
            LOCAL_VERIFICATIONS_TOTAL,
            "Tokens verified in-process against the JWKS, by active, inactive or failed"
        );
        describe_counter!(
            JWKS_FETCHES_TOTAL,
            "Fetches of Maskinporten's JWKS, by ok or failed"
        );
        describe_histogram!(
            INTROSPECTION_DURATION_SECONDS,
            Unit::Seconds,
            "How long an introspection by the sidecar took"
        );
        describe_gauge!(CACHE_ENTRIES, "Tokens in the cache of validated tokens");
        Handles {
            validations: OUTCOMES
                .map(|outcome| ::metrics::counter!(VALIDATIONS_TOTAL, "outcome" => outcome)),
            cache_hit: ::metrics::counter!(CACHE_LOOKUPS_TOTAL, "result" => "hit"),
            cache_miss: ::metrics::counter!(CACHE_LOOKUPS_TOTAL, "result" => "miss"),
            introspections: VERDICTS
                .map(|result| ::metrics::counter!(INTROSPECTIONS_TOTAL, "result" => result)),
            local_verifications: VERDICTS
                .map(|result| ::metrics::counter!(LOCAL_VERIFICATIONS_TOTAL, "result" => result)),
            jwks_ok: ::metrics::counter!(JWKS_FETCHES_TOTAL, "result" => "ok"),
            jwks_failed: ::metrics::counter!(JWKS_FETCHES_TOTAL, "result" => "failed"),
            introspection_duration: ::metrics::histogram!(INTROSPECTION_DURATION_SECONDS),
            cache_entries: ::metrics::gauge!(CACHE_ENTRIES),
        }
    });

    fn verdict(verdict: Verdict) -> usize {
        match verdict {
            Verdict::Active => 0,
            Verdict::Inactive => 1,
            Verdict::Failed => 2,
        }
    }

    #[inline]
    pub(super) fn validation(decision: Result<(), crate::ErrorKind>) {
        let index = match decision {
            Ok(()) => 0,
            Err(kind) => rejection_index(kind),
        };
        HANDLES.validations[index].increment(1);
    }

    #[inline]
    pub(super) fn cache_hit() {
        HANDLES.cache_hit.increment(1);
    }

    pub(super) fn cache_miss() {
        HANDLES.cache_miss.increment(1);
    }

    pub(super) fn introspection(result: Verdict, took: Option<Duration>) {
        HANDLES.introspections[verdict(result)].increment(1);
        if let Some(took) = took {
            HANDLES.introspection_duration.record(took.as_secs_f64());
        }
    }

    pub(super) fn local_verification(result: Verdict) {
        HANDLES.local_verifications[verdict(result)].increment(1);
    }

    pub(super) fn jwks_fetch(ok: bool) {
        if ok {
            HANDLES.jwks_ok.increment(1);
        } else {
            HANDLES.jwks_failed.increment(1);
        }
    }

    pub(super) fn cache_entries(entries: u64) {
        HANDLES.cache_entries.set(entries as f64);
    }
}

/// The metrics of the `metrics` feature, recorded through the
/// [`metrics`](https://docs.rs/metrics) facade: install a recorder (for
/// Prometheus, `metrics-exporter-prometheus`) and they appear in it.
///
/// | name | kind | labels |
/// |---|---|---|
/// | `maskinporten_validations_total` | counter | `outcome`: `allowed`, `no_token`, `invalid_request`, `invalid_token`, `insufficient_scope`, `access_denied`, `unavailable`, `misconfigured` |
/// | `maskinporten_cache_lookups_total` | counter | `result`: `hit`, `miss` |
/// | `maskinporten_introspections_total` | counter | `result`: `active`, `inactive`, `failed` |
/// | `maskinporten_local_verifications_total` | counter | `result`: `active`, `inactive`, `failed` |
/// | `maskinporten_jwks_fetches_total` | counter | `result`: `ok`, `failed` |
/// | `maskinporten_introspection_duration_seconds` | histogram | |
/// | `maskinporten_cache_entries` | gauge | |
///
/// Each request counts once in `maskinporten_validations_total`, however
/// many guards and extractors look at its token: as the first guard's
/// rejection (`insufficient_scope`, `access_denied`), else as its
/// validation came out. It is counted when the request is done with; a
/// request whose caller went away while its token was being introspected
/// counts nowhere there. A call of
/// [`Maskinporten::validate`](crate::Maskinporten::validate) counts once
/// too. A handler's own checks (`claims.require_all(..)`) are the
/// handler's and not counted.
///
/// `introspections_total{result="failed"}` counts introspections that gave
/// no verdict (unreachable, timed out, a broken answer) and those that
/// could not start because too many were in flight; the histogram holds
/// only the ones sent. The gauge is set on every cache miss and by
/// [`Maskinporten::stats`](crate::Maskinporten::stats) and
/// [`settle_cache`](crate::Maskinporten::settle_cache); with several
/// handles in one process it shows the last one's.
///
/// The handles are taken from the recorder installed when a metric is first
/// recorded (or when [`register`](crate::metrics::register) is called): install the recorder at
/// start-up, before the first request.
///
/// ```
/// use maskinporten_actix::metrics;
/// use metrics_exporter_prometheus::PrometheusBuilder;
///
/// let prometheus = PrometheusBuilder::new()
///     .set_buckets_for_metric(
///         metrics_exporter_prometheus::Matcher::Full(
///             metrics::INTROSPECTION_DURATION_SECONDS.to_owned(),
///         ),
///         &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0],
///     )
///     .expect("buckets")
///     .install_recorder()
///     .expect("the only recorder");
/// metrics::register();
/// // Serve `prometheus.render()` at /internal/metrics.
/// assert!(prometheus.render().contains(r#"maskinporten_validations_total{outcome="allowed"} 0"#));
/// ```
#[cfg(feature = "metrics")]
pub mod metrics {
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
}
