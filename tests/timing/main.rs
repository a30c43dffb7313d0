//! The tests that bound latencies, count work against a clock or flood the
//! guard (a flood that must not delay consumers or evict hot cache entries,
//! expiry at `exp`, JWKS refetches at most once per 300 ms window): away
//! from the other tests, whose load on a two-core machine would stretch
//! those bounds or time requests out, and one at a time, under [`TURN`], for
//! the same reason.

mod cache;
mod flood;
mod forged_flood;
mod jwks_faults;

/// Taken first by every test here: one at a time.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
