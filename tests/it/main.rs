//! The integration tests that need no process of their own, one module per
//! behaviour, in one test binary: the workspace links actix, reqwest and the
//! guard once for all of them instead of once per file.
//!
//! A module belongs here when its tests share nothing with others in the
//! process: no environment variables, no global tracing subscriber, `log`
//! logger or metrics recorder, no child processes, and no timing bound that other
//! tests running beside it could break. The tests run in parallel threads;
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
mod openapi;
mod quota;
mod readme;
mod redaction;
mod system_users;
mod texas_compat;
