//! The `#[require_scope]` and `#[require_consumer]` attributes and the
//! `scopes![]` and `orgnos![]` lists of `maskinporten-actix`.
//!
//! An implementation detail: depend on `maskinporten-actix`, which re-exports
//! these macros, documents them, and provides the items their expansions
//! name.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod args;
mod cache;
mod context;
mod expand;
mod manifest;
mod once;

use proc_macro::TokenStream;

use args::List;
use expand::Guard;

// The macros are documented where users see them, on their re-exports in
// `maskinporten-actix` (where the examples also run as doctests): rustdoc
// shows the docs of a re-export followed by those of the item, so docs here
// would render twice.

#[allow(missing_docs)]
#[proc_macro_attribute]
pub fn require_scope(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::guard(Guard::Scope, args.into(), item.into()).into()
}

#[allow(missing_docs)]
#[proc_macro_attribute]
pub fn require_consumer(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::guard(Guard::Consumer, args.into(), item.into()).into()
}

#[allow(missing_docs)]
#[proc_macro]
pub fn scopes(input: TokenStream) -> TokenStream {
    expand::list(input.into(), List::Scopes).into()
}

#[allow(missing_docs)]
#[proc_macro]
pub fn exposed_scopes(input: TokenStream) -> TokenStream {
    expand::exposed_scopes(input.into()).into()
}

#[allow(missing_docs)]
#[proc_macro]
pub fn orgnos(input: TokenStream) -> TokenStream {
    expand::list(input.into(), List::Orgnos).into()
}
