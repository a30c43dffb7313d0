//! Compile-time behaviour of `#[require_scope]`: what compiles, and the exact
//! message for each mistake (the `.stderr` beside each `ui/fail/*.rs`).
//!
//! After a deliberate change to a message, regenerate with
//! `TRYBUILD=overwrite cargo test -p maskinporten-tests --test ui` and review
//! the diff of the `.stderr` files like code.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}
