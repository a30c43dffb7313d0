//! Rewriting the handler: its arguments move behind `Guarded`, which checks
//! the token before extracting them; and the checked lists of `scopes![]`
//! and `orgnos![]`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{FnArg, Item, ItemFn, Token, Type};

use crate::args::{self, Consumers, Delegation, Errors, List, Match, Requirement};
use crate::manifest::{self, Manifests};
use crate::once;

/// Which guard attribute is expanding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guard {
    /// `#[require_scope(...)]`.
    Scope,
    /// `#[require_consumer(...)]`.
    Consumer,
}

impl Guard {
    fn attribute(self) -> &'static str {
        match self {
            Guard::Scope => "`#[require_scope]`",
            Guard::Consumer => "`#[require_consumer]`",
        }
    }

    /// The attribute's name, as written in a path.
    fn name(self) -> &'static str {
        match self {
            Guard::Scope => "require_scope",
            Guard::Consumer => "require_consumer",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Guard::Scope => "__maskinporten_scopes_",
            Guard::Consumer => "__maskinporten_consumers_",
        }
    }
}

/// What the attribute requires, checked.
enum Rule {
    Scopes(Requirement),
    Consumers(Consumers),
}

/// `scopes![...]` or `orgnos![...]`: the checked list, or the errors.
pub(crate) fn list(input: TokenStream, list: List) -> TokenStream {
    let (usage, ty) = match list {
        List::Scopes => ("scopes![...]", quote!(Scopes)),
        List::Orgnos => ("orgnos![...]", quote!(Orgnos)),
    };
    let checked = args::parse_literals(input, list, usage).and_then(|literals| {
        let manifests = manifest::load()?;
        if let Some(manifests) = &manifests {
            let mut errors = Errors::default();
            match list {
                List::Scopes => manifests.check_scopes(&literals, &mut errors),
                // No scope is in sight of the list: its consumers are checked
                // against every scope the application exposes.
                List::Orgnos => manifests.check_consumers(None, &literals, &mut errors),
            }
            errors.finish()?;
        }
        Ok((literals, manifest::tracking_once(manifests.as_deref())))
    });
    match checked {
        Ok((literals, tracking)) => {
            let named = match list {
                List::Scopes => named_scopes(&literals),
                List::Orgnos => TokenStream::new(),
            };
            quote!({ #tracking #named ::maskinporten_actix::#ty::__checked(&[#(#literals),*]) })
        }
        // Several `compile_error!`s are not one expression: a block holds
        // them, and ends in a value of the right type so that the errors are
        // not followed by a type mismatch.
        Err(errors) => {
            let errors = errors.to_compile_error();
            quote!({ #errors ::maskinporten_actix::#ty::__checked(&[]) })
        }
    }
}

/// `exposed_scopes!()`: the enabled scopes of the configured manifests, as
/// a `&'static [&'static str]`.
pub(crate) fn exposed_scopes(input: TokenStream) -> TokenStream {
    let exposed = syn::Ident::new("__MASKINPORTEN_EXPOSED", Span::mixed_site());
    let scopes = match input.is_empty() {
        false => Err(syn::Error::new_spanned(
            input,
            "`exposed_scopes!()` takes no arguments: it reads the scopes from the NAIS manifest \
             named in Cargo.toml",
        )),
        true => manifest::load().and_then(|manifests| match manifests {
            Some(manifests) => manifests
                .exposed()
                .map(|scopes| (scopes, manifest::tracking_once(Some(&*manifests))))
                .map_err(|message| syn::Error::new(Span::call_site(), message)),
            None => Err(syn::Error::new(
                Span::call_site(),
                "`exposed_scopes!()` reads the scopes the application exposes from its NAIS \
                 manifest, and none is named: add `nais-manifest = \".nais/app.yaml\"` under \
                 `[package.metadata.maskinporten]` in Cargo.toml",
            )),
        }),
    };
    let (tracking, scopes) = match scopes {
        Ok((scopes, tracking)) => (tracking, scopes),
        Err(errors) => (errors.to_compile_error(), Vec::new()),
    };
    let named = named_scopes(&scopes);
    quote!({
        #tracking
        #named
        const #exposed: &[&str] = &[#(#scopes),*];
        #exposed
    })
}

/// Submits the scopes a guard or list names to the program-wide set that
/// is every handle's default of exposed scopes (`maskinporten_actix`'s
/// `exposure` module), collected when the program is linked.
fn named_scopes<T: ToTokens>(scopes: &[T]) -> TokenStream {
    if scopes.is_empty() {
        return TokenStream::new();
    }
    // The program's named scopes are a set: one submission of a list per
    // crate is as good as one per handler, and costs the compiler less.
    let list = quote!(#(#scopes),*);
    if !once::first_in_crate(|| format!("scopes {list}")) {
        return TokenStream::new();
    }
    let private = quote!(::maskinporten_actix::__private);
    quote! {
        #private::inventory::submit! { #private::NamedScopes(&[#list]) }
    }
}

/// The most elements actix-web implements `FromRequest` for in one tuple;
/// longer argument lists are nested in tuples of at most this many.
const MAX_TUPLE: usize = 16;

/// Entry point: the expansion, or the untouched item plus the errors, so a
/// mistake gives its own message and not a cascade about a missing handler.
pub(crate) fn guard(guard: Guard, args: TokenStream, item: TokenStream) -> TokenStream {
    // The item is parsed once, for the check below and for the expansion.
    let parsed = syn::parse2::<Item>(item.clone());
    if let Ok(Item::Fn(handler)) = &parsed {
        if let Some(deferred) = below_openapi_path(guard, &args, handler) {
            return deferred;
        }
    }
    let mut errors = Errors::default();
    let rule = match guard {
        Guard::Scope => args::parse(args).map(Rule::Scopes),
        Guard::Consumer => args::parse_consumers(args).map(Rule::Consumers),
    };
    let requirement = rule.map_err(|e| errors.push(e)).ok();
    let mut handler = match parsed {
        Ok(Item::Fn(handler)) => check_handler(guard, &handler)
            .map_err(|e| errors.push(e))
            .ok()
            .map(|()| handler),
        Ok(other) => {
            errors.push(not_a_function(guard, &other));
            None
        }
        Err(e) => {
            errors.push(e);
            None
        }
    };
    // The NAIS manifests, once the attribute itself is right.
    let mut loaded = None;
    let mut consumers_checked = false;
    if let (true, Some(rule), Some(handler)) = (errors.is_empty(), &requirement, &handler) {
        match manifest::load() {
            Ok(manifests) => {
                if let Some(manifests) = &manifests {
                    consumers_checked = check_against(rule, handler, manifests, &mut errors);
                }
                loaded = manifests;
            }
            Err(e) => errors.push(e),
        }
    }
    match (errors.finish(), requirement, handler.take()) {
        (Ok(()), Some(requirement), Some(handler)) => {
            let mut output = manifest::tracking_once(loaded.as_deref());
            output.extend(expand(guard, &requirement, handler));
            output
        }
        // The stacked `#[require_consumer]` whose list was checked here is
        // left out: expanding it after all would report its list twice.
        (Err(errors), _, Some(mut handler)) if consumers_checked => {
            handler
                .attrs
                .retain(|attr| !is_attribute(attr, Guard::Consumer));
            error_output(handler.into_token_stream(), errors)
        }
        (Err(errors), ..) => error_output(item, errors),
        (Ok(()), ..) => unreachable!("a missing requirement or handler records an error"),
    }
}

/// When `#[utoipa::path]` is written below the guard, the guard moves
/// itself below it, so that utoipa reads the handler's own arguments (its
/// path, query and body), not the guard's wrapper: the item comes back
/// unchanged but for the attribute's place.
fn below_openapi_path(guard: Guard, args: &TokenStream, handler: &ItemFn) -> Option<TokenStream> {
    let position = handler.attrs.iter().position(|attr| {
        let segments = &attr.path().segments;
        segments.last().is_some_and(|last| last.ident == "path")
            && (segments.len() == 1
                || segments
                    .first()
                    .is_some_and(|first| first.ident == "utoipa"))
    })?;
    let name = syn::Ident::new(guard.name(), Span::call_site());
    let ours: syn::Attribute = syn::parse_quote!(#[::maskinporten_actix::#name(#args)]);
    let mut handler = handler.clone();
    handler.attrs.insert(position + 1, ours);
    Some(handler.into_token_stream())
}

/// Checks the rule against the manifests: the scopes must be exposed, and
/// the consumers (and the suppliers of `suppliers(...)`) must be ones
/// Maskinporten gives a token for them. When
/// `#[require_scope]` and `#[require_consumer]` are stacked, whichever
/// expands first sees the other still written on the handler, and checks
/// the pair; the second then sees the first's expansion and checks no
/// consumers again. Returns whether a stacked `#[require_consumer]` was
/// checked here.
fn check_against(
    rule: &Rule,
    handler: &ItemFn,
    manifests: &Manifests,
    errors: &mut Errors,
) -> bool {
    match rule {
        Rule::Scopes(requirement) => {
            manifests.check_scopes(&requirement.scopes, errors);
            let stacked = stacked(handler, Guard::Consumer)
                .and_then(|tokens| args::parse_consumers(tokens).ok());
            if let Some(consumers) = &stacked {
                let scopes = (&requirement.scopes[..], requirement.match_);
                manifests.check_consumers(Some(scopes), &consumers.orgnos(), errors);
            }
            stacked.is_some()
        }
        Rule::Consumers(consumers) => {
            let orgnos = &consumers.orgnos();
            match stacked(handler, Guard::Scope) {
                // A malformed `#[require_scope]` reports itself.
                Some(tokens) => {
                    if let Ok(requirement) = args::parse(tokens) {
                        let scopes = (&requirement.scopes[..], requirement.match_);
                        manifests.check_consumers(Some(scopes), orgnos, errors);
                    }
                }
                None if guarded_by_scopes(handler) => {}
                // Guarded by a route tree's scopes, perhaps: checked against
                // every scope the application exposes.
                None => manifests.check_consumers(None, orgnos, errors),
            }
            false
        }
    }
}

fn is_attribute(attr: &syn::Attribute, guard: Guard) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == guard.name())
}

/// The arguments of the other guard attribute, written on the handler and
/// not expanded yet.
fn stacked(handler: &ItemFn, guard: Guard) -> Option<TokenStream> {
    let attr = handler
        .attrs
        .iter()
        .find(|attr| is_attribute(attr, guard))?;
    Some(attr.meta.require_list().ok()?.tokens.clone())
}

/// Whether `#[require_scope]` expanded on this handler already: its one
/// argument is then the guard of a scope requirement.
fn guarded_by_scopes(handler: &ItemFn) -> bool {
    let mut inputs = handler.sig.inputs.iter();
    match (inputs.next(), inputs.next()) {
        (Some(FnArg::Typed(arg)), None) => {
            matches!(&*arg.pat, syn::Pat::Ident(p) if p.ident == "__maskinporten_guarded")
                && arg
                    .ty
                    .to_token_stream()
                    .to_string()
                    .contains(Guard::Scope.prefix())
        }
        _ => false,
    }
}

/// The item as written, then the errors.
///
/// A handler missing `async` is emitted with it, as the user meant it: as
/// written it would add actix-web's `Handler<_> is not implemented` to ours.
fn error_output(item: TokenStream, errors: syn::Error) -> TokenStream {
    let mut output = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(mut handler) if handler.sig.asyncness.is_none() => {
            handler.sig.asyncness = Some(syn::token::Async(handler.sig.fn_token.span));
            handler.into_token_stream()
        }
        _ => item,
    };
    output.extend(errors.to_compile_error());
    output
}

/// Checks what the rewrite needs of the handler's signature.
fn check_handler(guard: Guard, handler: &ItemFn) -> syn::Result<()> {
    let sig = &handler.sig;
    let attribute = guard.attribute();
    let mut errors = Errors::default();
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            sig.fn_token.span,
            format!("{attribute} goes on an `async fn` handler; add `async`"),
        ));
    }
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => errors.push(syn::Error::new_spanned(
                receiver,
                format!(
                    "{attribute} goes on a free `async fn` handler, not on a method taking `self`"
                ),
            )),
            // A tuple pattern has no place for them, and only `cfg`-like
            // lint attributes are allowed on parameters anyway.
            FnArg::Typed(arg) => {
                if let Some(attr) = arg.attrs.first() {
                    errors.push(syn::Error::new_spanned(
                        attr,
                        format!("{attribute} does not support attributes on handler arguments"),
                    ));
                }
            }
        }
    }
    // Only when the rest is fine: the one error then says all there is.
    if errors.is_empty() && crate::context::in_impl_block(guard.name(), &sig.ident) {
        let ident = &sig.ident;
        let fn_token = &sig.fn_token;
        errors.push(syn::Error::new_spanned(
            quote!(#fn_token #ident),
            format!(
                "{attribute} goes on a free `async fn` handler, not on an associated function \
                 of an `impl` block: the guard's requirement is an item beside the handler, and \
                 an `impl` block cannot hold one; move `{ident}` out of the `impl`, to module \
                 level, and register it from there"
            ),
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            variadic,
            "a handler cannot be variadic",
        ));
    }
    errors.finish()
}

/// The error for anything but a function, on its keyword and name rather
/// than its whole body.
fn not_a_function(guard: Guard, item: &Item) -> syn::Error {
    let message = format!("{} goes on an `async fn` handler", guard.attribute());
    match item_head(item) {
        Some(head) => syn::Error::new_spanned(head, message),
        None => syn::Error::new(Span::call_site(), message),
    }
}

fn item_head(item: &Item) -> Option<TokenStream> {
    fn head(keyword: &dyn ToTokens, name: &dyn ToTokens) -> Option<TokenStream> {
        Some(quote!(#keyword #name))
    }
    match item {
        Item::Struct(i) => head(&i.struct_token, &i.ident),
        Item::Enum(i) => head(&i.enum_token, &i.ident),
        Item::Union(i) => head(&i.union_token, &i.ident),
        Item::Trait(i) => head(&i.trait_token, &i.ident),
        Item::Mod(i) => head(&i.mod_token, &i.ident),
        Item::Const(i) => head(&i.const_token, &i.ident),
        Item::Static(i) => head(&i.static_token, &i.ident),
        Item::Type(i) => head(&i.type_token, &i.ident),
        Item::Impl(i) => head(&i.impl_token, &i.self_ty),
        _ => None,
    }
}

/// The expansion described in `maskinporten_actix::__private`: a unit struct
/// naming the requirement, and the handler taking `Guarded<that struct, its
/// own arguments>`.
fn expand(guard: Guard, rule: &Rule, mut handler: ItemFn) -> TokenStream {
    // Paths into the facade are at the attribute's span: if the crate is not
    // a dependency, the error points at `#[require_scope]`.
    let private = quote!(::maskinporten_actix::__private);
    let vis = &handler.vis;
    let name = &handler.sig.ident;
    let requirement_ty = format_ident!("{}{}", guard.prefix(), name.unraw(), span = name.span());
    let handler_name = name.unraw().to_string();
    let mut named = TokenStream::new();
    let rule = match rule {
        Rule::Scopes(requirement) => {
            let scopes = &requirement.scopes;
            named = named_scopes(scopes);
            let match_ = match requirement.match_ {
                Match::All => quote!(All),
                Match::Any => quote!(Any),
            };
            quote!(#private::Rule::Scopes(&[#(#scopes),*], #private::Match::#match_))
        }
        Rule::Consumers(Consumers {
            consumers,
            delegation,
        }) => {
            let delegation = match delegation {
                Delegation::Allowed => quote!(#private::Delegation::Allowed),
                Delegation::Refused => quote!(#private::Delegation::Refused),
                Delegation::Suppliers(suppliers) => {
                    quote!(#private::Delegation::Suppliers(&[#(#suppliers),*]))
                }
            };
            quote!(#private::Rule::Consumers(&[#(#consumers),*], #delegation))
        }
    };

    let (patterns, types): (Vec<TokenStream>, Vec<TokenStream>) = handler
        .sig
        .inputs
        .iter()
        .map(|input| match input {
            FnArg::Typed(arg) => (arg.pat.to_token_stream(), arg.ty.to_token_stream()),
            FnArg::Receiver(_) => unreachable!("check_handler rejects receivers"),
        })
        .unzip();
    let inputs_span = match handler.sig.inputs.is_empty() {
        true => handler.sig.paren_token.span.join(),
        false => handler.sig.inputs.span(),
    };
    let guarded = syn::Ident::new("__maskinporten_guarded", Span::mixed_site());
    let arguments_ty = nest(types);
    // Built as tokens and kept verbatim: parsing them into syntax again, to
    // print them, took more than half of each expansion's time.
    let guarded_ty = quote_spanned! {inputs_span=>
        #private::Guarded<#requirement_ty, #arguments_ty>
    };
    let guarded_arg = FnArg::Typed(syn::PatType {
        attrs: Vec::new(),
        pat: Box::new(syn::Pat::Ident(syn::PatIdent {
            attrs: Vec::new(),
            by_ref: None,
            mutability: None,
            ident: guarded.clone(),
            subpat: None,
        })),
        colon_token: Token![:](Span::call_site()),
        ty: Box::new(Type::Verbatim(guarded_ty)),
    });

    // Unpacked from a local, not from the temporary `into_inner()`: what a
    // `_` pattern leaves behind then lives to the end of the body, as it
    // would as a parameter, instead of being dropped before the body runs.
    let unpack = match patterns.is_empty() {
        true => TokenStream::new(),
        false => {
            let arguments = syn::Ident::new("__maskinporten_arguments", Span::mixed_site());
            let pattern = nest(patterns);
            quote_spanned! {inputs_span=>
                let #arguments = #guarded.into_inner();
                let #pattern = #arguments;
            }
        }
    };
    handler.sig.inputs = std::iter::once(guarded_arg).collect();
    let handler = with_prelude(&handler, unpack);

    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #requirement_ty;

        impl #private::Requirement for #requirement_ty {
            const RULE: #private::Rule = #rule;
        }

        #named

        // The handler and its rule, for the OpenAPI document: nothing for
        // the compiler to check where the `openapi` feature is off.
        #private::openapi_only! {
            #private::inventory::submit! {
                #private::GuardedHandler {
                    name: #handler_name,
                    module: ::core::module_path!(),
                    rule: <#requirement_ty as #private::Requirement>::RULE,
                }
            }
        }

        #handler
    }
}

/// The handler with `prelude` first in its body, after the body's inner
/// attributes: as the item prints, with the statements spliced in.
fn with_prelude(handler: &ItemFn, prelude: TokenStream) -> TokenStream {
    let (inner, outer): (Vec<&syn::Attribute>, Vec<&syn::Attribute>) = handler
        .attrs
        .iter()
        .partition(|attr| matches!(attr.style, syn::AttrStyle::Inner(_)));
    let ItemFn {
        vis, sig, block, ..
    } = handler;
    let mut tokens = quote!(#(#outer)* #vis #sig);
    block.brace_token.surround(&mut tokens, |body| {
        body.extend(inner.iter().map(|attr| attr.to_token_stream()));
        body.extend(prelude);
        for stmt in &block.stmts {
            stmt.to_tokens(body);
        }
    });
    tokens
}

/// A tuple of `items` that actix-web can extract: flat up to [`MAX_TUPLE`]
/// elements, nested in chunks beyond that. Types and patterns nest alike, so
/// the `let` unpacks exactly what `Guarded` extracted.
fn nest(items: Vec<TokenStream>) -> TokenStream {
    if items.len() <= MAX_TUPLE {
        return quote!((#(#items,)*));
    }
    let chunks = items
        .chunks(MAX_TUPLE)
        .map(|chunk| quote!((#(#chunk,)*)))
        .collect();
    nest(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Token text without the spacing `quote` puts between tokens.
    fn text(tokens: TokenStream) -> String {
        tokens.to_string().split_whitespace().collect()
    }

    fn expansion(args: TokenStream, item: TokenStream) -> String {
        text(guard(Guard::Scope, args, item))
    }

    #[test]
    fn expands_to_a_requirement_and_a_guarded_handler() {
        let actual = expansion(
            quote!("nav:a/bb", "nav:c/dd"),
            quote! {
                /// Docs.
                #[get("/afp")]
                pub async fn afp(claims: MaskinportenClaims, web::Path((a, b)): web::Path<(u32, u32)>) -> impl Responder {
                    body(claims, a, b)
                }
            },
        );
        let expected = text(quote! {
            // Without a manifest, only the variables that could name one are
            // tracked, so that setting them builds the code again.
            const _: ::core::option::Option<&str> = ::core::option_env!("MASKINPORTEN_NAIS_MANIFEST");
            const _: ::core::option::Option<&str> = ::core::option_env!("MASKINPORTEN_NAIS_VARIABLES");
            #[doc(hidden)]
            #[allow(non_camel_case_types)]
            pub struct __maskinporten_scopes_afp;
            impl ::maskinporten_actix::__private::Requirement for __maskinporten_scopes_afp {
                const RULE: ::maskinporten_actix::__private::Rule = ::maskinporten_actix::__private::Rule::Scopes(
                    &["nav:a/bb", "nav:c/dd"],
                    ::maskinporten_actix::__private::Match::All
                );
            }
            // The scopes, for every handle's default of exposed scopes.
            ::maskinporten_actix::__private::inventory::submit! {
                ::maskinporten_actix::__private::NamedScopes(&["nav:a/bb", "nav:c/dd"])
            }
            // The handler and its rule, for the OpenAPI document: nothing for
            // the compiler to check where the `openapi` feature is off.
            ::maskinporten_actix::__private::openapi_only! {
                ::maskinporten_actix::__private::inventory::submit! {
                    ::maskinporten_actix::__private::GuardedHandler {
                        name: "afp",
                        module: ::core::module_path!(),
                        rule: <__maskinporten_scopes_afp as ::maskinporten_actix::__private::Requirement>::RULE,
                    }
                }
            }
            #[doc = r" Docs."]
            #[get("/afp")]
            pub async fn afp(
                __maskinporten_guarded: ::maskinporten_actix::__private::Guarded<
                    __maskinporten_scopes_afp,
                    (MaskinportenClaims, web::Path<(u32, u32)>,)
                >
            ) -> impl Responder {
                let __maskinporten_arguments = __maskinporten_guarded.into_inner();
                let (claims, web::Path((a, b)),) = __maskinporten_arguments;
                body(claims, a, b)
            }
        });
        assert_eq!(actual, expected);
    }

    #[test]
    fn any_sets_the_match() {
        let actual = expansion(
            quote!(any("nav:a/bb", "nav:c/dd")),
            quote!(
                async fn afp() {}
            ),
        );
        assert!(actual.contains("__private::Match::Any)"), "{actual}");
    }

    #[test]
    fn a_handler_without_arguments_extracts_the_unit_tuple() {
        let actual = expansion(
            quote!("nav:a/bb"),
            quote!(
                async fn ping() -> &'static str {
                    "pong"
                }
            ),
        );
        let expected = text(quote! {
            async fn ping(
                __maskinporten_guarded: ::maskinporten_actix::__private::Guarded<__maskinporten_scopes_ping, ()>
            ) -> &'static str { "pong" }
        });
        assert!(actual.ends_with(&expected), "{actual}");
    }

    #[test]
    fn raw_identifiers_name_the_requirement_without_the_prefix() {
        let actual = expansion(
            quote!("nav:a/bb"),
            quote!(
                async fn r#type() {}
            ),
        );
        assert!(
            actual.contains("struct__maskinporten_scopes_type;"),
            "{actual}"
        );
    }

    #[test]
    fn more_arguments_than_actix_extracts_in_one_tuple_are_nested() {
        let names: Vec<_> = (0..18).map(|i| format_ident!("a{i}")).collect();
        let actual = expansion(
            quote!("nav:a/bb"),
            quote!(async fn many(#(#names: u8),*) {}),
        );
        let (first, second) = names.split_at(MAX_TUPLE);
        let (u8s_first, u8s_second) = (
            vec![quote!(u8); first.len()],
            vec![quote!(u8); second.len()],
        );
        let types = text(quote!(((#(#u8s_first,)*), (#(#u8s_second,)*),)));
        let patterns =
            text(quote!(let ((#(#first,)*), (#(#second,)*),) = __maskinporten_arguments;));
        assert!(
            actual.contains(&text(quote!(__maskinporten_scopes_many,))),
            "{actual}"
        );
        assert!(actual.contains(&types), "{actual}");
        assert!(actual.contains(&patterns), "{actual}");
    }

    #[test]
    fn an_error_keeps_the_item_so_that_it_is_the_only_error() {
        let item = quote!(
            #[get("/")]
            async fn afp(c: MaskinportenClaims) -> String {
                todo!()
            }
        );
        let actual = expansion(quote!("nav:test/a"), item.clone());
        assert!(actual.starts_with(&text(item)), "{actual}");
        assert!(actual.contains("compile_error!"), "{actual}");
        assert!(actual.contains("thename`a`istooshort"), "{actual}");
    }

    #[test]
    fn a_missing_async_is_added_to_the_item_kept() {
        let actual = expansion(
            quote!("nav:test/ab"),
            quote!(
                fn afp() -> String {
                    todo!()
                }
            ),
        );
        assert!(
            actual.starts_with(&text(quote!(
                async fn afp() -> String {
                    todo!()
                }
            ))),
            "{actual}"
        );
    }

    #[test]
    fn require_consumer_expands_to_a_consumer_requirement() {
        let actual = text(guard(
            Guard::Consumer,
            quote!("991825827", "974760673"),
            quote!(
                async fn afp() {}
            ),
        ));
        let expected = text(quote! {
            impl ::maskinporten_actix::__private::Requirement for __maskinporten_consumers_afp {
                const RULE: ::maskinporten_actix::__private::Rule =
                    ::maskinporten_actix::__private::Rule::Consumers(
                        &["991825827", "974760673"],
                        ::maskinporten_actix::__private::Delegation::Allowed
                    );
            }
        });
        assert!(actual.contains(&expected), "{actual}");
    }

    #[test]
    fn require_consumer_options_expand_to_the_delegation_of_the_rule() {
        let rule = |args: TokenStream| {
            text(guard(
                Guard::Consumer,
                args,
                quote!(
                    async fn afp() {}
                ),
            ))
        };
        let actual = rule(quote!("991825827", refuse_delegated));
        let expected = text(quote!(::maskinporten_actix::__private::Rule::Consumers(
            &["991825827"],
            ::maskinporten_actix::__private::Delegation::Refused
        )));
        assert!(actual.contains(&expected), "{actual}");
        let actual = rule(quote!(
            "991825827",
            "974761076",
            suppliers("974760673", "889640782")
        ));
        let expected = text(quote!(::maskinporten_actix::__private::Rule::Consumers(
            &["991825827", "974761076"],
            ::maskinporten_actix::__private::Delegation::Suppliers(&["974760673", "889640782"])
        )));
        assert!(actual.contains(&expected), "{actual}");
    }

    #[test]
    fn require_consumer_names_itself_in_handler_errors() {
        let actual = text(guard(
            Guard::Consumer,
            quote!("991825827"),
            quote!(
                fn afp() {}
            ),
        ));
        assert!(
            actual.contains(&text(quote!(
                "`#[require_consumer]` goes on an `async fn` handler; add `async`"
            ))),
            "{actual}"
        );
    }

    #[test]
    fn lists_expand_to_checked_constructors() {
        let tracking = text(crate::manifest::tracking(None));
        assert_eq!(
            text(list(quote!("nav:a/bb", "nav:c/dd"), List::Scopes)),
            format!(
                "{{{tracking}{}{}}}",
                text(quote!(
                    ::maskinporten_actix::__private::inventory::submit! {
                        ::maskinporten_actix::__private::NamedScopes(&["nav:a/bb", "nav:c/dd"])
                    }
                )),
                text(quote!(::maskinporten_actix::Scopes::__checked(&[
                    "nav:a/bb", "nav:c/dd"
                ])))
            )
        );
        assert_eq!(
            text(list(quote!("991825827",), List::Orgnos)),
            format!(
                "{{{tracking}{}}}",
                text(quote!(::maskinporten_actix::Orgnos::__checked(&[
                    "991825827"
                ])))
            )
        );
    }

    #[test]
    fn a_bad_list_is_only_errors() {
        let actual = text(list(quote!("123456789", "99182582"), List::Orgnos));
        assert!(actual.starts_with("{::core::compile_error!"), "{actual}");
        assert!(actual.ends_with("__checked(&[])}"), "{actual}");
    }
}
