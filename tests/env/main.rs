//! The tests that change the NAIS variables the handles read from the
//! process environment: one binary, so that no other test reads the
//! environment while they change it, and one change at a time within it,
//! under [`ENV`].

mod from_env;
mod local_from_env;
mod quota_from_env;

/// Held by every test here while it sets or reads the variables: the one
/// process environment changes under one test at a time.
static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());
