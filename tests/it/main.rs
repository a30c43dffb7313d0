//! The integration tests that need no process of their own, one module per
//! behaviour, in one test binary: the workspace links actix, reqwest and the
//! guard once for all of them instead of once per file.
//!
//! A module belongs here when its tests share nothing with others in the
//! process: no environment variables, no global tracing subscriber, `log`
//! logger or metrics recorder, and no timing bound that other tests running
//! beside it could break. Child processes are fine: cargo on a scratch crate
//! (`manifest`), this binary again for one test (`missing_handle`), and
//! `redis-server` (`quota_shared`, whose tests are ignored unless asked for:
//! `cargo test -p maskinporten-tests --test it -- --ignored quota_shared::`). The tests run in parallel threads;
//! each starts its own servers on loopback and counts requests on its own
//! endpoints. Modules that cannot live here have their own binary, and
//! `tests/Cargo.toml` says why beside each.
//!
//! The handles take the scopes `maskinporten_tests::EXPOSED` lists, or those
//! a test gives them: a token "for another API" holds a scope no handle here
//! exposes (`nav:other/...`).

mod bad_input;
mod compiles;
mod composition;
mod core;
mod differential;
mod exposure;
mod fail_closed;
mod fuzz_corpus;
mod fuzz_props;
mod guards;
mod local;
mod manifest;
mod missing_handle;
mod openapi;
mod quota;
mod quota_shared;
mod readme;
mod redaction;
mod system_users;
mod texas_compat;
