//! The claims cache: validated claims by token, until the token expires,
//! whichever strategy validated them; and the refusals worth remembering.
//!
//! - Keyed by the SHA-256 of the token: the raw token is never kept.
//! - An entry lives until the token's `exp` at the latest (and an optional
//!   maximum TTL on top); a hit is checked against the wall clock too, so no
//!   answer is served past `exp`, whatever the cache's timers do.
//! - Concurrent misses for one token share one introspection
//!   (single-flight). Local validation does not share: its check, a
//!   signature verify, costs less than the sharing, and a key fetch it
//!   waits for is shared by the key set itself.
//! - Active answers are cached, and so are the refusals of validly issued
//!   tokens (one Maskinporten issued for another API, or another audience),
//!   until the token's `exp`, in the same table and within the same bounds:
//!   a replayed one is refused at the cost of one lookup. Failures of the
//!   validator are not (the next request tries again), and neither are
//!   inactive answers: a token that is inactive now can turn active moments
//!   later (an `iat` or `nbf` inside the issuer's clock skew, a key the
//!   sidecar has not fetched yet), and caching them would let a flood of
//!   junk tokens crowd out real entries.
//! - Eviction is TinyLFU: a new entry is admitted over an old one only if it
//!   has been asked for more often, so a flood of distinct one-off tokens does
//!   not push out the tokens of consumers that call again and again.
//! - In front of it, a small table of the entries it answered last
//!   ([`HotEntries`]) serves repeat hits without the cache's per-read
//!   bookkeeping; one hit in [`RECORD_EVERY`] still goes through the cache,
//!   so that it sees how often each token is asked for.

use std::{
    cell::Cell,
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc, RwLock,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use futures_util::FutureExt;

use crate::{claims::ClaimSet, MaskinportenError};

/// Entries held by default. At about 850 bytes resident per entry (see
/// BENCHMARKS.md), 10 000 entries take under 10 MB.
pub(crate) const DEFAULT_CACHE_CAPACITY: u64 = 10_000;

/// The most the cached claims weigh together by default: 32 MiB. A usual
/// entry weighs about 600 bytes, so the entry count binds first; an answer
/// may carry up to 64 KiB of claims, and 500 of those would fill it.
pub(crate) const DEFAULT_CACHE_MAX_BYTES: u64 = 32 * 1024 * 1024;

/// What an entry weighs beyond its claims: its key, the `Arc` and the
/// cache's own node (measured at about 250 bytes, BENCHMARKS.md).
const ENTRY_OVERHEAD_BYTES: u64 = 256;

/// The two bounds of a cache; whichever is reached first applies.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CacheBounds {
    pub(crate) entries: u64,
    pub(crate) bytes: u64,
}

impl CacheBounds {
    /// The weight of one entry: its bytes, but at least `bytes / entries`,
    /// so that a full cache of light entries stops at `entries`.
    fn weigh(self, entry: &Entry) -> u32 {
        let floor = self.bytes / self.entries.max(1);
        let bytes = match entry {
            Entry::Claims(claims) => claims.heap_bytes(),
            Entry::Refused(refused) => std::mem::size_of::<Refusal>() + refused.error.heap_bytes(),
        };
        let weight = (bytes as u64 + ENTRY_OVERHEAD_BYTES).max(floor);
        u32::try_from(weight).unwrap_or(u32::MAX)
    }
}

/// What the cache holds for a token: the claims of a token validated
/// before, or the refusal of a validly issued token not meant for this API.
#[derive(Clone)]
pub(crate) enum Entry {
    Claims(Arc<ClaimSet>),
    Refused(Arc<Refusal>),
}

/// A remembered refusal, and when the token it refuses expires.
pub(crate) struct Refusal {
    pub(crate) error: MaskinportenError,
    expires: SystemTime,
}

impl Refusal {
    /// The refusal of a token with these claims, when it can be remembered:
    /// its `exp` is a time to come.
    pub(crate) fn of(claims: &ClaimSet, error: &MaskinportenError) -> Option<Refusal> {
        let expires = expiry(claims)?;
        (expires > SystemTime::now()).then(|| Refusal {
            error: error.clone(),
            expires,
        })
    }
}

impl Entry {
    /// When the token expires: nothing is served from here past it.
    fn expires(&self) -> Option<SystemTime> {
        match self {
            Entry::Claims(claims) => expiry(claims),
            Entry::Refused(refused) => Some(refused.expires),
        }
    }

    /// How long until the token expires; zero once it has.
    fn time_left(&self) -> Duration {
        self.expires()
            .and_then(|expires| expires.duration_since(SystemTime::now()).ok())
            .unwrap_or(Duration::ZERO)
    }
}

/// SHA-256 of a token.
pub(crate) type TokenKey = [u8; 32];

pub(crate) fn token_key(token: &[u8]) -> TokenKey {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token);
    let mut key = [0; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

pub(crate) struct ClaimsCache {
    entries: moka::future::Cache<TokenKey, Entry>,
    /// `None` with a maximum TTL: a copy in front cannot know how long the
    /// cache has held its entry.
    hot: Option<HotEntries>,
    /// How many of the entries are refusals (approximate, as the cache's
    /// own count): raised on insert, lowered by the eviction listener.
    refusals: Arc<AtomicI64>,
}

/// One hit in this many goes through the cache even when the table in front
/// holds the token: moka counts accesses (TinyLFU's frequency sketch, the
/// recency order) only on its own reads. Every token is sampled alike, so
/// the frequencies keep their order; a token asked for once (a flood) is
/// still counted once, on its miss.
pub(crate) const RECORD_EVERY: u32 = 16;

// Hits answered by the table in front, counted per thread.
thread_local! {
    static FRONT_HITS: Cell<u32> = const { Cell::new(0) };
}

/// The entries the cache answered last, one per slot, a slot chosen by the
/// key's first bytes (already uniform: the key is a SHA-256). A slot holds
/// only what the cache held when it answered, keyed by the same hash, and is
/// checked against `exp` on every read like the cache itself. It is read
/// with `try_read` and written with `try_write`: a busy slot is a miss here,
/// never a wait.
struct HotEntries {
    slots: Box<[Slot]>,
}

/// A slot on a cache line of its own, so that hits on two tokens from two
/// threads do not contend.
#[repr(align(64))]
#[derive(Default)]
struct Slot(RwLock<Option<Hot>>);

/// What a slot holds: the key, the cache's own answer, and the instant the
/// token expires (`exp`), worked out once when the slot is filled.
struct Hot {
    key: TokenKey,
    claims: Arc<ClaimSet>,
    expires: SystemTime,
}

/// Slots in front of a cache of the default 10 000 entries or more; a
/// smaller cache gets as many slots as entries (rounded up to a power of
/// two). 1 024 slots take 64 KiB.
const MAX_HOT_SLOTS: u64 = 1024;

impl HotEntries {
    fn new(entries: u64) -> Self {
        let slots = entries.clamp(1, MAX_HOT_SLOTS).next_power_of_two() as usize;
        HotEntries {
            slots: (0..slots).map(|_| Slot::default()).collect(),
        }
    }

    fn slot(&self, key: &TokenKey) -> &RwLock<Option<Hot>> {
        let index = u64::from_le_bytes(key[..8].try_into().expect("8 bytes"));
        &self.slots[index as usize & (self.slots.len() - 1)].0
    }

    fn get(&self, key: &TokenKey, now: SystemTime) -> Option<Arc<ClaimSet>> {
        let slot = self.slot(key).try_read().ok()?;
        match &*slot {
            Some(hot) if hot.key == *key && now < hot.expires => Some(Arc::clone(&hot.claims)),
            _ => None,
        }
    }

    fn put(&self, key: &TokenKey, claims: &Arc<ClaimSet>) {
        // A token whose `exp` is not a time after 1970 that a `SystemTime`
        // can hold is never served from here.
        let Some(expires) = expiry(claims) else {
            return;
        };
        if let Ok(mut slot) = self.slot(key).try_write() {
            *slot = Some(Hot {
                key: *key,
                claims: Arc::clone(claims),
                expires,
            });
        }
    }

    fn remove(&self, key: &TokenKey) {
        if let Ok(mut slot) = self.slot(key).try_write() {
            if slot.as_ref().is_some_and(|hot| hot.key == *key) {
                *slot = None;
            }
        }
    }
}

/// Whether the hit to be served now may skip the cache: all but one in
/// [`RECORD_EVERY`].
fn skip_recording() -> bool {
    FRONT_HITS.with(|hits| {
        let n = hits.get().wrapping_add(1);
        hits.set(n);
        n % RECORD_EVERY != 0
    })
}

/// When the token expires: `exp` as a wall-clock time. A token has expired
/// once the clock reaches it, exactly as [`Entry::time_left`] says (the whole
/// seconds since 1970 at or past `exp` means the instant at or past `exp`).
fn expiry(claims: &ClaimSet) -> Option<SystemTime> {
    let exp = u64::try_from(claims.expires_at_unix()).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(exp))
}

struct UntilExpiry {
    max_ttl: Option<Duration>,
}

impl moka::Expiry<TokenKey, Entry> for UntilExpiry {
    fn expire_after_create(&self, _: &TokenKey, entry: &Entry, _: Instant) -> Option<Duration> {
        let left = entry.time_left();
        Some(self.max_ttl.map_or(left, |max| left.min(max)))
    }
}

/// The most entries a cache's table is sized for up front (about 1 MiB of
/// table); a larger bound grows the table as entries come.
const MAX_INITIAL_ENTRIES: u64 = 65_536;

impl ClaimsCache {
    pub(crate) fn new(bounds: CacheBounds, max_ttl: Option<Duration>) -> Self {
        let refusals = Arc::new(AtomicI64::new(0));
        let evicted = Arc::clone(&refusals);
        ClaimsCache {
            entries: moka::future::Cache::builder()
                // Weighed in bytes: a count alone would let answers with
                // 64 KiB of extra claims each take 64 times the memory.
                .max_capacity(bounds.bytes)
                // Sized for the entries it is bounded to: a cache that grows
                // its table while a burst of new tokens comes in rehashes on
                // their path.
                .initial_capacity(bounds.entries.min(MAX_INITIAL_ENTRIES) as usize)
                .weigher(move |_, entry: &Entry| bounds.weigh(entry))
                .expire_after(UntilExpiry { max_ttl })
                .eviction_listener(move |_, entry, _| {
                    if let Entry::Refused(_) = entry {
                        evicted.fetch_sub(1, Ordering::Relaxed);
                    }
                })
                .build(),
            hot: max_ttl.is_none().then(|| HotEntries::new(bounds.entries)),
            refusals,
        }
    }

    /// A cached, unexpired entry for the token, when one can be had without
    /// waiting: from the table in front, else from the cache (which then
    /// counts the access); `None` when it would have to wait.
    pub(crate) fn get_now(&self, key: &TokenKey) -> Option<Entry> {
        let Some(hot) = &self.hot else {
            return self.get(key).now_or_never()?;
        };
        if skip_recording() {
            if let Some(claims) = hot.get(key, SystemTime::now()) {
                return Some(Entry::Claims(claims));
            }
        }
        // The cache's lookup only waits when its housekeeping is contended.
        let entry = self.get(key).now_or_never()?;
        match &entry {
            Some(Entry::Claims(claims)) => hot.put(key, claims),
            Some(Entry::Refused(_)) => {}
            // Evicted or expired in the cache: not served in front either.
            None => hot.remove(key),
        }
        entry
    }

    /// A cached, unexpired entry for the token.
    pub(crate) async fn get(&self, key: &TokenKey) -> Option<Entry> {
        let entry = self.entries.get(key).await?;
        if entry.time_left().is_zero() {
            self.invalidate(key).await;
            return None;
        }
        Some(entry)
    }

    async fn invalidate(&self, key: &TokenKey) {
        if let Some(hot) = &self.hot {
            hot.remove(key);
        }
        self.entries.invalidate(key).await;
    }

    /// The cached entry, or the one `validate()` gives, shared by every
    /// caller that asks for the same token while it runs. Errors are shared
    /// with those callers too, and not cached.
    ///
    /// A cached entry is checked against the wall clock here as in
    /// [`get`](Self::get): the cache's own timers run on the monotonic clock,
    /// and an entry they still hold after the wall clock passed the token's
    /// `exp` is dropped and the token validated again. A fresh answer is
    /// served as the validator gave it (inside its leeway it may already be
    /// past `exp`; it is then not kept).
    pub(crate) async fn get_or_validate<F, E>(
        &self,
        key: TokenKey,
        validate: impl Fn() -> F,
    ) -> Result<Entry, Arc<E>>
    where
        F: std::future::Future<Output = Result<Entry, E>>,
        E: Send + Sync + 'static,
    {
        let counted = || async {
            let entry = validate().await?;
            self.counted(&entry);
            Ok(entry)
        };
        let entry = self
            .entries
            .entry(key)
            .or_try_insert_with(counted())
            .await?;
        if entry.is_fresh() || !entry.value().time_left().is_zero() {
            return Ok(entry.into_value());
        }
        self.invalidate(&key).await;
        self.entries
            .entry(key)
            .or_try_insert_with(counted())
            .await
            .map(|entry| entry.into_value())
    }

    /// Keeps an entry made without the single-flight of
    /// [`get_or_validate`](Self::get_or_validate), for a check that costs
    /// less than sharing it. Like a fresh answer there, one already past the
    /// token's `exp` (inside the leeway) is not kept.
    pub(crate) async fn insert(&self, key: TokenKey, entry: Entry) {
        if !entry.time_left().is_zero() {
            self.counted(&entry);
            self.entries.insert(key, entry).await;
        }
    }

    /// Counts a refusal going in.
    fn counted(&self, entry: &Entry) {
        if let Entry::Refused(_) = entry {
            self.refusals.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Entries of either kind.
    pub(crate) fn entry_count(&self) -> u64 {
        self.entries.entry_count()
    }

    /// Remembered refusals among the entries (approximate, as the count).
    pub(crate) fn refusal_count(&self) -> u64 {
        u64::try_from(self.refusals.load(Ordering::Relaxed)).unwrap_or(0)
    }

    /// What the entries weigh together, in bytes (approximate, as the
    /// count).
    pub(crate) fn weighted_size(&self) -> u64 {
        self.entries.weighted_size()
    }

    pub(crate) async fn run_pending_tasks(&self) {
        self.entries.run_pending_tasks().await;
    }
}
