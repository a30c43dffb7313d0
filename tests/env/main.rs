//! The tests that change the process environment: the NAIS variables the
//! handles read, and the NAIS markers under which `LocalTexas` refuses to
//! start. One binary, so that no other test reads the environment while
//! they change it, and one change at a time within it, under [`ENV`].

mod from_env;
mod local_from_env;
mod local_texas_on_nais;
mod quota_from_env;

use maskinporten_actix::testing::LocalTexas;

/// Held by every test here while it sets or reads the variables: the one
/// process environment changes under one test at a time.
static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Starts a `LocalTexas` under [`ENV`]: it reads the NAIS markers, which
/// `local_texas_on_nais` sets.
fn local_texas() -> LocalTexas {
    let _env = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    LocalTexas::start()
}
