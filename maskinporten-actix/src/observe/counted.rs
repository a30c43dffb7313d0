//! With the `metrics` feature: handles registered once, on first use, so a
//! request costs an indexed load and the recorder's increment, with no key
//! built or looked up.

use std::{sync::LazyLock, time::Duration};

use ::metrics::{Counter, Gauge, Histogram};

use super::{metrics::*, Verdict};
use crate::error::ErrorKind;

pub(super) const ENABLED: bool = true;

pub(super) struct Handles {
    validations: [Counter; OUTCOMES],
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
        validations: std::array::from_fn(
            |index| ::metrics::counter!(VALIDATIONS_TOTAL, "outcome" => outcome_at(index)),
        ),
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

/// How many values the `outcome` label has: `allowed`, and one per
/// [`ErrorKind`].
const OUTCOMES: usize = 1 + ErrorKind::ALL.len();

/// The `outcome` label of the counter at `index`: `allowed` first, then the
/// kinds in the order of [`ErrorKind::ALL`].
fn outcome_at(index: usize) -> &'static str {
    match index {
        0 => "allowed",
        i => ErrorKind::ALL[i - 1].code(),
    }
}

/// Where a rejection's counter is: its place in [`ErrorKind::ALL`], after
/// `allowed`'s (a match, not a search, on the request path).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rejection_counts_under_its_own_code() {
        for (place, kind) in ErrorKind::ALL.into_iter().enumerate() {
            assert_eq!(rejection_index(kind), place + 1, "{kind:?}");
            assert_eq!(outcome_at(rejection_index(kind)), kind.code(), "{kind:?}");
        }
        assert_eq!(outcome_at(0), "allowed");
    }
}
