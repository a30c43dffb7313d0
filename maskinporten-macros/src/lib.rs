//! The `#[require_scope]` and `#[require_consumer]` attributes and the
//! `scopes![]` and `orgnos![]` lists of `maskinporten-actix`.
//!
//! An implementation detail: depend on `maskinporten-actix`, which re-exports
//! these macros, documents them, and provides the items their expansions
//! name.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

// Each macro reads as three steps: `args` parses what is written, `check`
// asks the NAIS grammar and the NAIS manifests whether it is right, and
// `expand` emits the code, or the item with the errors. An expansion is a
// function of the macro's tokens, the manifests' content and the
// environment: nothing is kept of what the process expanded before.
mod args;
mod cache;
mod check;
mod errors;
mod expand;
mod manifest;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;

use args::{Guard, List};
use manifest::Environment;

// The macros are documented where users see them, on their re-exports in
// `maskinporten-actix` (where the examples also run as doctests): rustdoc
// shows the docs of a re-export followed by those of the item, so docs here
// would render twice.

#[allow(missing_docs)]
#[proc_macro_attribute]
pub fn require_scope(args: TokenStream, item: TokenStream) -> TokenStream {
    guard(Guard::Scope, args.into(), item.into()).into()
}

#[allow(missing_docs)]
#[proc_macro_attribute]
pub fn require_consumer(args: TokenStream, item: TokenStream) -> TokenStream {
    guard(Guard::Consumer, args.into(), item.into()).into()
}

#[allow(missing_docs)]
#[proc_macro]
pub fn scopes(input: TokenStream) -> TokenStream {
    list(input.into(), List::Scopes).into()
}

#[allow(missing_docs)]
#[proc_macro]
pub fn exposed_scopes(input: TokenStream) -> TokenStream {
    let env = Environment::current();
    expand::exposed_scopes(check::exposed_scopes(&env, input.into())).into()
}

#[allow(missing_docs)]
#[proc_macro]
pub fn orgnos(input: TokenStream) -> TokenStream {
    list(input.into(), List::Orgnos).into()
}

/// `#[require_scope]` or `#[require_consumer]`.
fn guard(guard: Guard, args: TokenStream2, item: TokenStream2) -> TokenStream2 {
    guard_in(&Environment::current(), guard, args, item)
}

/// `#[require_scope]` or `#[require_consumer]`, compiled in `env`.
fn guard_in(
    env: &Environment,
    guard: Guard,
    args: TokenStream2,
    item: TokenStream2,
) -> TokenStream2 {
    // The item is parsed once, for the move below and for the rest.
    let handler = args::handler(guard, item.clone());
    // Below `#[utoipa::path]`, the guard moves itself and expands later.
    if let Some(handler) = &handler.value {
        if let Some(moved) = expand::below_openapi_path(guard, &args, handler) {
            return moved;
        }
    }
    let rule = args::rule(guard, args);
    let checked = check::guard(env, guard, rule, handler);
    expand::guard(guard, checked, item)
}

/// `scopes![...]` or `orgnos![...]`.
fn list(input: TokenStream2, list: List) -> TokenStream2 {
    list_in(&Environment::current(), input, list)
}

/// `scopes![...]` or `orgnos![...]`, compiled in `env`.
fn list_in(env: &Environment, input: TokenStream2, list: List) -> TokenStream2 {
    let usage = match list {
        List::Scopes => "scopes![...]",
        List::Orgnos => "orgnos![...]",
    };
    let literals = args::literals(input, list, usage);
    expand::list(list, check::list(env, list, literals))
}
