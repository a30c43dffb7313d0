//! The names Maskinporten puts in a token, and the rules they follow: the
//! NAIS grammar for scope names ([`validate`]) and organisation numbers
//! ([`orgno`]).
//!
//! This crate is the one place those rules live: `#[require_scope]`,
//! `#[require_consumer]`, `scopes![]` and `orgnos![]` check their literals
//! with it when the code compiles, and `maskinporten-actix` checks the
//! scopes and organisation numbers it reads at run time with it. It has no
//! dependencies.
//!
//! A scope an application exposes on NAIS reads
//! `nav:<product><separator><name>`, for example [`EXAMPLE`]; an
//! organisation number, the name of a consumer or supplier, has nine digits
//! and a mod-11 check digit, as [`orgno::EXAMPLE`].
//!
//! ```
//! use maskinporten_names::{validate, ScopeErrorKind};
//!
//! assert!(validate("nav:helse/sykepenger/afp.read").is_ok());
//!
//! let err = validate("nav:test/a").unwrap_err();
//! assert_eq!(err.kind(), ScopeErrorKind::NameTooShort);
//! assert_eq!(
//!     err.to_string(),
//!     "the name `a` is too short; it needs at least two letters or digits"
//! );
//! ```
//!
//! # The grammar
//!
//! NAIS accepts, after the prefix `nav:`,
//!
//! - a *product* matching `^[a-z0-9]+$`,
//! - one *separator*: `/`, `:` or `.`,
//! - a *name* matching
//!   `^([a-zæøå0-9]+\/?)+(\:[a-zæøå0-9]+)*[a-zæøå0-9]+(\.[a-zæøå0-9]+)*$`.
//!
//! [`validate`] accepts exactly the strings that match, without a regex engine.
//! Read as plain rules, the name pattern says:
//!
//! - the part before the first `.` is letters and digits (æ, ø and å
//!   included) joined by single `/`s, then optionally `:` segments;
//!   after the first `:` no `/` may follow;
//! - that part needs at least two characters, and the segment after its last
//!   `:`, if any, at least two letters or digits: `nav:test/a` and
//!   `nav:helse.x` are rejected, `nav:test/ab` is fine;
//! - each `.` starts a suffix of letters and digits, as in `afp.read`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod orgno;
mod scope;

pub use scope::{validate, ScopeError, ScopeErrorKind, EXAMPLE};
