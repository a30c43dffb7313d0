//! Shared parts of the integration tests, one room each: the API under
//! test and the requests sent to it ([`api`]), the handlers most tests
//! serve ([`handlers`]), scopes, organisations, handles and tokens
//! ([`fixtures`]), a misbehaving introspection endpoint ([`fault`]), and
//! what no status code shows: stray panics and log lines ([`observe`]).
//! Everything is also at the crate's root.

pub mod api;
pub mod fault;
pub mod fixtures;
// The UI cases (tests/ui.rs) compile this crate too, as trybuild's
// dependency, under each case's manifest variables: the handlers carry the
// attributes, which would be checked against those manifests there.
// trybuild builds with `--cfg trybuild`.
#[cfg(not(trybuild))]
pub mod handlers;
pub mod observe;

pub use api::*;
pub use fault::*;
pub use fixtures::*;
pub use observe::*;
