//! The integration tests that need no process of their own, one module per
//! behaviour, in one test binary: the workspace links actix, reqwest and the
//! guard once for all of them instead of once per file.
//!
//! A module belongs here when its tests share nothing with others in the
//! process: no environment variables, no global tracing subscriber, `log`
//! logger or metrics recorder, no child processes, no assertion on the set
//! of scopes the whole program's guards name, and no timing bound that other
//! tests running beside it could break. The tests run in parallel threads;
//! each starts its own servers on loopback and counts requests on its own
//! endpoints. Modules that cannot live here have their own binary, and
//! `tests/Cargo.toml` says why beside each.
//!
//! The scopes the handles take by default are those every guard in this
//! binary names: a token "for another API" must hold a scope no module here
//! names (`nav:other/...`).

mod bad_input;
mod compiles;
mod composition;
mod core;
mod differential;
mod fail_closed;
mod fuzz_corpus;
mod fuzz_props;
mod guards;
mod local;
mod openapi;
mod quota;
mod readme;
mod texas_compat;
