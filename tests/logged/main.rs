//! The tests that assert what the guard logs, and that no token is in any
//! of it: they read the one `tracing` subscriber of the process
//! (`maskinporten_tests::logs()` and `fields()`, at TRACE), which a binary
//! can set only once and which would capture, and slow, every other test
//! beside it.

mod consumers;
mod delegation;
mod hygiene;
mod quota;
