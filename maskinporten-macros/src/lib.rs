//! The `#[require_scope]` attribute of `maskinporten-actix`.
//!
//! An implementation detail: depend on `maskinporten-actix`, which re-exports
//! the attribute and provides the items its expansion names.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod args;
mod expand;

use proc_macro::TokenStream;

/// Lets only callers whose Maskinporten token holds the given scopes into an
/// actix-web handler.
///
/// ```ignore
/// use actix_web::{get, HttpResponse, Responder};
/// use maskinporten_actix::{require_scope, MaskinportenClaims};
///
/// #[get("/afp")]
/// #[require_scope("nav:helse/sykepenger/afp.read")]
/// async fn afp(claims: MaskinportenClaims) -> impl Responder {
///     HttpResponse::Ok().body(claims.consumer().to_string())
/// }
/// ```
///
/// - `#[require_scope("a")]`: the token must hold `a`;
/// - `#[require_scope("a", "b")]`: the token must hold every scope listed;
/// - `#[require_scope(any("a", "b"))]`: the token must hold at least one.
///
/// Each scope is checked against the NAIS grammar when the handler compiles
/// (`maskinporten_scope::validate`), so a typo is a compile error, not a
/// handler nobody can call.
///
/// The attribute goes on an `async fn`, above or below actix-web's `#[get]`,
/// `#[post]`, `#[route]` and the like. The handler keeps its arguments,
/// return type and attributes: the token is checked before any of its
/// arguments is extracted, so a caller without the scope never gets a body
/// read or a database connection taken. A `MaskinportenClaims` argument is
/// optional.
#[proc_macro_attribute]
pub fn require_scope(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::require_scope(args.into(), item.into()).into()
}
