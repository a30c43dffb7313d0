//! What a handle has done so far: counters kept per handle, read as
//! [`ValidationStats`]. No token, nor any part of one, is counted here.

use std::{
    sync::atomic::{AtomicU64, Ordering::Relaxed},
    time::Duration,
};

/// Counters of a [`Maskinporten`](crate::Maskinporten) handle.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) introspections: AtomicU64,
    /// Validations no strategy could decide (503): the sidecar or the JWKS
    /// out of reach, too slow, or answering nonsense.
    pub(crate) validator_failures: AtomicU64,
    pub(crate) introspection_micros: AtomicU64,
    pub(crate) refused_unasked: AtomicU64,
}

impl Counters {
    pub(crate) fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    pub(crate) fn snapshot(
        &self,
        entries: u64,
        cached_bytes: u64,
        remembered_refusals: u64,
    ) -> ValidationStats {
        ValidationStats {
            cache_hits: self.hits.load(Relaxed),
            cache_misses: self.misses.load(Relaxed),
            introspections: self.introspections.load(Relaxed),
            validator_failures: self.validator_failures.load(Relaxed),
            introspection_time: Duration::from_micros(self.introspection_micros.load(Relaxed)),
            cached_entries: entries,
            cached_bytes,
            refused_without_validator: self.refused_unasked.load(Relaxed),
            remembered_refusals,
        }
    }
}

/// What a [`Maskinporten`](crate::Maskinporten) handle has done so far, for
/// metrics. No token, nor any part of one, is in here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ValidationStats {
    /// Validations answered from the cache.
    pub cache_hits: u64,
    /// Validations the cache could not answer (each led to a validation by
    /// the strategy, or waited for one already under way).
    pub cache_misses: u64,
    /// Introspection requests sent to the sidecar; always 0 with local
    /// validation, which asks no one.
    pub introspections: u64,
    /// Validations that could not be decided and were answered 503, with
    /// either strategy: the sidecar unreachable, too slow or answering
    /// nonsense, no place free among the introspections in flight, or (local
    /// validation) no key set to be had.
    pub validator_failures: u64,
    /// Time spent in introspections, all together; divide by
    /// `introspections` for the mean latency.
    pub introspection_time: Duration,
    /// Validated tokens' claims in the cache now (approximate: the cache
    /// settles lazily); the remembered refusals are counted apart.
    pub cached_entries: u64,
    /// What those entries weigh against
    /// [`cache_max_bytes`](crate::MaskinportenBuilder::cache_max_bytes): each
    /// its bytes, but at least `cache_max_bytes / cache_capacity`, which is
    /// how one bound serves for both.
    pub cached_bytes: u64,
    /// Tokens refused without asking the validator: not a compact JWS
    /// signed RS256 with a `kid`, expired beyond the leeway, or from
    /// another issuer.
    pub refused_without_validator: u64,
    /// Refusals of validly issued tokens held now (a token for another API
    /// or audience), each answered from memory when replayed until its
    /// `exp` (approximate, as `cached_entries`). They share the cache's
    /// bounds, and their bytes are in `cached_bytes`.
    pub remembered_refusals: u64,
}
