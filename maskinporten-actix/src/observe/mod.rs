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
//! without passing through it. A direct
//! [`Maskinporten::validate`](crate::Maskinporten::validate) has a
//! record of its own, settled when it returns.
//!
//! Nothing here sees the token: the span holds the decision, the strategy,
//! the cache's answer, the required scopes, the consumer's organisation
//! number and the latency.
//!
//! Here is the span and the record; the counting they call is in
//! `counted` (the series' handles, with the `metrics` feature; nothing
//! without it), and the series' public names are in `metrics`.
//!
//! This room sits below the ones it counts: it takes plain values (an
//! outcome as an [`ErrorKind`], a strategy's name, an organisation number,
//! timings) and imports nothing but the error vocabulary. A validation still
//! under way reaches it as a [`Pending`], which the extractor implements.

use std::{
    cell::{Cell, RefCell},
    future::Future,
    time::Instant,
};

use tracing::{field::Empty, Instrument, Span};

use crate::error::ErrorKind;

/// Valid claims, as far as the span cares: who the token acts for. Read
/// only when a span records it.
pub(crate) trait ActsFor {
    /// The organisation number the token acts for, when known.
    fn acting_for_orgno(&self) -> Option<&str>;
}

/// A validation as its record first sees it.
pub(crate) enum Seen<'a, P> {
    /// Decided on the spot (from the header, or a cache hit): the claims,
    /// or the rejection.
    Done(Result<&'a dyn ActsFor, ErrorKind>),
    /// Under way: asked again when the request is done with.
    InFlight(&'a P),
}

/// A validation still under way when its record was made.
pub(crate) trait Pending {
    /// What it came to, `None` while it is still under way; with `Ok`, the
    /// organisation number the token acts for, given to `orgno` when known.
    fn settled(&self, orgno: &mut dyn FnMut(&str)) -> Option<Result<(), ErrorKind>>;
}

/// What a validation came to, as the `outcome` label and the span's
/// `decision` field: `allowed`, or the rejection's [`ErrorKind::code`], the
/// name its JSON body gives it too.
fn outcome(decided: Result<(), ErrorKind>) -> &'static str {
    match decided {
        Ok(()) => "allowed",
        Err(kind) => kind.code(),
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
    pub(crate) fn record<P: Pending + Clone + 'static>(
        self,
        strategy: Option<&'static str>,
        validation: Seen<'_, P>,
    ) -> Option<Box<Record>> {
        if !counted::ENABLED && self.span.is_disabled() {
            return None;
        }
        self.record_wanted(strategy, validation).map(Box::new)
    }

    /// [`record`](Self::record) when metrics or the span want one: out of
    /// line, so that the common path (neither) stays small.
    #[inline(never)]
    fn record_wanted<P: Pending + Clone + 'static>(
        self,
        strategy: Option<&'static str>,
        validation: Seen<'_, P>,
    ) -> Option<Record> {
        if !self.span.is_disabled() {
            if let Some(strategy) = strategy {
                self.span.record("strategy", strategy);
            }
        }
        match validation {
            Seen::Done(outcome) => {
                if let Some(started) = self.started {
                    // Decided on the spot: from the header, or a cache hit.
                    if outcome.is_ok() {
                        self.span.record("cache", CacheUse::Hit.label());
                    }
                    self.span.record("latency_us", micros(started));
                }
                self.validated(outcome)
            }
            Seen::InFlight(pending) => Some(Record {
                span: self.span,
                validated: Ok(()),
                pending: Some(Box::new(pending.clone())),
                rejection: Cell::new(None),
                scopes: RefCell::new(String::new()),
            }),
        }
    }

    /// Settles a direct validation (one outside a request) now.
    pub(crate) fn finish(self, strategy: &'static str, outcome: Result<&dyn ActsFor, ErrorKind>) {
        if !self.span.is_disabled() {
            self.span.record("strategy", strategy);
        }
        drop(self.validated(outcome));
    }

    /// The record of a validation decided now; a rejection is settled at
    /// once (`None`), claims wait for the guards.
    fn validated(self, outcome: Result<&dyn ActsFor, ErrorKind>) -> Option<Record> {
        match outcome {
            Ok(claims) => {
                if !self.span.is_disabled() {
                    if let Some(orgno) = claims.acting_for_orgno() {
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
            Err(kind) => {
                settle(&self.span, Err(kind));
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
    /// The validation under way when it was not.
    pending: Option<Box<dyn Pending>>,
    /// The first rejection of a guard: it overrides an allowed validation.
    rejection: Cell<Option<ErrorKind>>,
    /// The scopes the request's guards required, for the span.
    scopes: RefCell<String>,
}

/// Notes a guard's decision on the request's record: a rejection becomes
/// what the request counts as, and the scopes it required (none for a
/// consumer list) go into the span.
#[inline]
pub(crate) fn judged<S: AsRef<str>>(
    record: Option<&Record>,
    scopes: &[S],
    rejection: Option<ErrorKind>,
) {
    let Some(record) = record else {
        return;
    };
    if let Some(kind) = rejection {
        if record.rejection.get().is_none() {
            record.rejection.set(Some(kind));
        }
    }
    if !record.span.is_disabled() {
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
            Some(pending) => pending.settled(&mut |_| {})?,
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
        if let Some(pending) = &self.pending {
            let span = &self.span;
            pending.settled(&mut |orgno| {
                span.record("consumer", orgno);
            });
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

/// With the `metrics` feature: the handles of every series, registered
/// once.
#[cfg(feature = "metrics")]
mod counted;

#[cfg(feature = "metrics")]
pub mod metrics;
