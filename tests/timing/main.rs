//! The tests that count work against a clock or flood the guard (a flood
//! that must not lock out consumers or evict hot cache entries, expiry at
//! `exp`, JWKS refetches at most once per window): one at a time, under
//! [`TURN`], as some count the connections open at once and a flood beside
//! them would be counted too.
//!
//! Windows, refreshes and timeouts are measured on tokio's clock: where a
//! test can, it pauses that clock and advances it ([`FrozenClock`]), so
//! that nothing it asserts depends on how fast the machine runs. Where real
//! time passes, a test asserts what must hold however slow the machine is
//! (an answer no sooner than the timeout), never an upper bound.

mod cache;
mod flood;
mod forged_flood;
mod jwks_faults;

use std::time::Duration;

/// Taken first by every test here: one at a time.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Keeps tokio's paused clock where it is until the test advances it, also
/// while the runtime waits on real sockets.
///
/// A paused clock jumps to the next timer whenever the runtime is idle,
/// which is the case while it waits on a server on another thread: an
/// HTTP timeout would then fire at once. A blocking task, for as long as it
/// runs, stops that jump on a current-thread runtime (tokio's documented
/// way to wait on I/O with the clock paused); this one runs until the value
/// is dropped.
pub struct FrozenClock {
    release: Option<std::sync::mpsc::Sender<()>>,
}

impl FrozenClock {
    /// Stops the paused clock of the current runtime (a current-thread
    /// runtime started paused: `#[tokio::test(start_paused = true)]`, so
    /// that every deadline falls on a whole millisecond) from moving on its
    /// own.
    pub fn hold() -> FrozenClock {
        let (release, released) = std::sync::mpsc::channel::<()>();
        tokio::task::spawn_blocking(move || {
            let _ = released.recv();
        });
        FrozenClock {
            release: Some(release),
        }
    }

    /// Moves the clock on by `by`, firing every timer due by then, and lets
    /// the tasks they wake run.
    pub async fn advance(&self, by: Duration) {
        tokio::time::advance(by).await;
        for _ in 0..8 {
            tokio::task::yield_now().await;
        }
    }
}

impl Drop for FrozenClock {
    fn drop(&mut self) {
        // Ends the blocking task, which the runtime's shutdown waits for.
        drop(self.release.take());
    }
}

/// Waits, in real time, until `done` holds: for work on another thread
/// (a server counting a request) while the clock stands still. Never
/// bounded in time; a condition that never comes shows as a test that
/// runs on and on, named by the test harness.
pub async fn until(mut done: impl FnMut() -> bool) {
    while !done() {
        // The runtime polls its sockets between the yields; the short
        // sleep keeps the wait from spinning a core.
        std::thread::sleep(Duration::from_millis(1));
        tokio::task::yield_now().await;
    }
}
