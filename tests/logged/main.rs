//! The tests that assert what the guard logs: they read the one `tracing`
//! subscriber of the process (`maskinporten_tests::logs()`, at TRACE), which
//! a binary can set only once and which would capture, and slow, every other
//! test beside it.

mod consumers;
mod delegation;
mod quota;
