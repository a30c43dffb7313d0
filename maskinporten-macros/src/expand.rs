//! Emitting: the handler rewritten so that its arguments move behind
//! `Guarded`, which checks the token before extracting them; the lists of
//! `scopes![]`, `orgnos![]` and `exposed_scopes!()`; and, for what the
//! checks found wrong, the errors. Nothing here reads a file or decides
//! what is valid: [`crate::check`] did.

use std::path::PathBuf;
use std::sync::Arc;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitStr, Token, Type};

use crate::args::{Delegation, Guard, List, Match, Rule};
use crate::check::{Checked, Usable};
use crate::manifest;

/// `scopes![...]` or `orgnos![...]`: the checked list, or the errors.
pub(crate) fn list(list: List, checked: syn::Result<(Vec<LitStr>, Arc<[PathBuf]>)>) -> TokenStream {
    let checked_list = match list {
        List::Scopes => quote!(checked_scopes),
        List::Orgnos => quote!(checked_orgnos),
    };
    match checked {
        Ok((literals, tracked)) => {
            let tracking = manifest::tracking(&tracked);
            quote!({ #tracking ::maskinporten_actix::__private::#checked_list(&[#(#literals),*]) })
        }
        // Several `compile_error!`s are not one expression: a block holds
        // them, and ends in a value of the right type so that the errors are
        // not followed by a type mismatch.
        Err(errors) => {
            let errors = errors.to_compile_error();
            quote!({ #errors ::maskinporten_actix::__private::#checked_list(&[]) })
        }
    }
}

/// `exposed_scopes!()`: the enabled scopes of the configured manifests, as
/// a `&'static [&'static str]`.
pub(crate) fn exposed_scopes(checked: syn::Result<(Vec<String>, Arc<[PathBuf]>)>) -> TokenStream {
    let exposed = syn::Ident::new("__MASKINPORTEN_EXPOSED", Span::mixed_site());
    let (tracking, scopes) = match checked {
        Ok((scopes, tracked)) => (manifest::tracking(&tracked), scopes),
        Err(errors) => (errors.to_compile_error(), Vec::new()),
    };
    quote!({
        #tracking
        const #exposed: &[&str] = &[#(#scopes),*];
        #exposed
    })
}

/// The most elements actix-web implements `FromRequest` for in one tuple;
/// longer argument lists are nested in tuples of at most this many.
const MAX_TUPLE: usize = 16;

/// A checked guard attribute: the expansion, or, when the attribute or
/// its handler is wrong, the untouched item plus the errors, so a mistake
/// gives its own message and not a cascade about a missing handler.
///
/// What the manifests say against a rule leaves the expansion right, so it
/// goes out with their errors: the handler, its requirement and a
/// `#[require_consumer]` stacked below stay as they will be once the
/// manifest or the rule is fixed. Left out, the stacked attribute's import
/// drew an `unused import` warning, and following it broke the build after
/// the fix.
pub(crate) fn guard(guard: Guard, checked: Checked, item: TokenStream) -> TokenStream {
    let Usable {
        rule,
        handler,
        tracked,
        errors,
    } = match checked {
        Checked::Usable(usable) => *usable,
        Checked::Unusable(errors) => return error_output(item, errors),
    };
    let mut output = expand(guard, &rule, handler, manifest::tracking(&tracked));
    if let Err(errors) = errors.finish() {
        output.extend(errors.to_compile_error());
    }
    output
}

/// When `#[utoipa::path]` is written below the guard, the guard moves
/// itself below it, so that utoipa reads the handler's own arguments (its
/// path, query and body), not the guard's wrapper: the item comes back
/// unchanged but for the attribute's place.
pub(crate) fn below_openapi_path(
    guard: Guard,
    args: &TokenStream,
    handler: &ItemFn,
) -> Option<TokenStream> {
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

/// The expansion described in `maskinporten_actix::__private`: a unit struct
/// naming the requirement, and the handler taking `Guarded<that struct, its
/// own arguments>`.
///
/// `tracking` goes first in the handler's body, where items may stand
/// wherever the handler does: beside it, in an `impl` block, they would add
/// errors of their own to the compiler's about the requirement.
fn expand(guard: Guard, rule: &Rule, mut handler: ItemFn, tracking: TokenStream) -> TokenStream {
    // Paths into the facade are at the attribute's span: if the crate is not
    // a dependency, the error points at `#[require_scope]`.
    let private = quote!(::maskinporten_actix::__private);
    let vis = &handler.vis;
    let name = &handler.sig.ident;
    let requirement_ty = format_ident!("{}{}", guard.prefix(), name.unraw(), span = name.span());
    let handler_name = name.unraw().to_string();
    let rule = match rule {
        Rule::Scopes { scopes, match_ } => {
            let match_ = match match_ {
                Match::All => quote!(All),
                Match::Any => quote!(Any),
            };
            quote!(#private::Rule::Scopes(&[#(#scopes),*], #private::Match::#match_))
        }
        Rule::Consumers {
            consumers,
            delegation,
        } => {
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
    let mut prelude = tracking;
    prelude.extend(match patterns.is_empty() {
        true => TokenStream::new(),
        false => {
            let arguments = syn::Ident::new("__maskinporten_arguments", Span::mixed_site());
            let pattern = nest(patterns);
            quote_spanned! {inputs_span=>
                let #arguments = #guarded.into_inner();
                let #pattern = #arguments;
            }
        }
    });
    handler.sig.inputs = std::iter::once(guarded_arg).collect();
    let handler = with_prelude(&handler, prelude);

    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #requirement_ty;

        impl #private::Requirement for #requirement_ty {
            const RULE: #private::Rule = #rule;
        }

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
    use std::path::Path;

    use super::*;
    use crate::manifest::Environment;

    /// Token text without the spacing `quote` puts between tokens.
    fn text(tokens: TokenStream) -> String {
        tokens.to_string().split_whitespace().collect()
    }

    /// This crate's directory: its Cargo.toml names no manifest.
    fn crate_dir() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    /// The environment of a crate that names no manifest, whatever the
    /// environment of the test.
    fn unconfigured() -> Environment {
        Environment::naming(crate_dir(), None)
    }

    fn guard(guard: Guard, args: TokenStream, item: TokenStream) -> TokenStream {
        crate::guard_in(&unconfigured(), guard, args, item)
    }

    fn expansion(args: TokenStream, item: TokenStream) -> String {
        text(guard(Guard::Scope, args, item))
    }

    fn list(input: TokenStream, list: List) -> TokenStream {
        crate::list_in(&unconfigured(), input, list)
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
        let cargo_toml = crate_dir().join("Cargo.toml");
        let cargo_toml = cargo_toml.to_str().unwrap();
        let expected = text(quote! {
            #[doc(hidden)]
            #[allow(non_camel_case_types)]
            pub struct __maskinporten_scopes_afp;
            impl ::maskinporten_actix::__private::Requirement for __maskinporten_scopes_afp {
                const RULE: ::maskinporten_actix::__private::Rule = ::maskinporten_actix::__private::Rule::Scopes(
                    &["nav:a/bb", "nav:c/dd"],
                    ::maskinporten_actix::__private::Match::All
                );
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
                // Without a manifest, the variables that could name one and
                // the Cargo.toml that could are tracked, so that setting
                // either checks the code again.
                const _: () = {
                    let _ = ::core::option_env!("MASKINPORTEN_NAIS_MANIFEST");
                    let _ = ::core::option_env!("MASKINPORTEN_NAIS_VARIABLES");
                    let _ = ::core::include_bytes!(#cargo_toml);
                };
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
        let tracking = crate::manifest::tracking(&[crate_dir().join("Cargo.toml")]);
        let expected = text(quote! {
            async fn ping(
                __maskinporten_guarded: ::maskinporten_actix::__private::Guarded<__maskinporten_scopes_ping, ()>
            ) -> &'static str { #tracking "pong" }
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
        let tracking = text(crate::manifest::tracking(&[crate_dir().join("Cargo.toml")]));
        assert_eq!(
            text(list(quote!("nav:a/bb", "nav:c/dd"), List::Scopes)),
            format!(
                "{{{tracking}{}}}",
                text(quote!(::maskinporten_actix::__private::checked_scopes(&[
                    "nav:a/bb", "nav:c/dd"
                ])))
            )
        );
        assert_eq!(
            text(list(quote!("991825827",), List::Orgnos)),
            format!(
                "{{{tracking}{}}}",
                text(quote!(::maskinporten_actix::__private::checked_orgnos(&[
                    "991825827"
                ])))
            )
        );
    }

    #[test]
    fn a_bad_list_is_only_errors() {
        let actual = text(list(quote!("123456789", "99182582"), List::Orgnos));
        assert!(actual.starts_with("{::core::compile_error!"), "{actual}");
        assert!(actual.ends_with("checked_orgnos(&[])}"), "{actual}");
    }

    /// A crate's directory of its own, with a Cargo.toml that names no
    /// manifest and the manifest `yaml` beside it.
    fn scratch_crate(name: &str, yaml: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("maskinporten-expand-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("Cargo.toml"), "[package]\nname = \"app\"\n").unwrap();
        std::fs::write(dir.join("app.yaml"), yaml).unwrap();
        dir
    }

    const APP: &str = "spec:\n  maskinporten:\n    scopes:\n      exposes:\n        \
                       - {name: afp.read, product: helse, enabled: true}\n";

    #[test]
    fn an_edited_manifest_gives_its_own_verdict_in_the_same_process() {
        let dir = scratch_crate("edited", APP);
        let manifest = dir.join("app.yaml");
        let env = Environment::naming(&dir, Some(&manifest));
        let expand = || {
            text(crate::guard_in(
                &env,
                Guard::Scope,
                quote!("nav:helse:afp.read"),
                quote!(
                    async fn afp() {}
                ),
            ))
        };
        let accepted = expand();
        assert!(!accepted.contains("compile_error"), "{accepted}");
        // The manifest is what is tracked, where the environment names it.
        let tracked = text(crate::manifest::tracking(std::slice::from_ref(&manifest)));
        assert!(accepted.contains(&tracked), "{accepted}");
        // Nothing of the first expansion changes the second.
        assert_eq!(expand(), accepted);

        std::fs::write(&manifest, APP.replace("true", "false")).unwrap();
        let disabled = expand();
        assert!(disabled.contains("isdisabledin"), "{disabled}");
        std::fs::write(&manifest, APP.replace("afp.read", "afp.raed")).unwrap();
        let renamed = expand();
        assert!(
            renamed.contains("didyoumean`nav:helse:afp.raed`?"),
            "{renamed}"
        );
        // Written again at once, in the same length: only the content tells.
        std::fs::write(&manifest, APP).unwrap();
        assert_eq!(expand(), accepted);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn cargo_toml_is_tracked_whether_it_names_a_manifest_or_not() {
        let dir = scratch_crate("cargo-toml", APP);
        let cargo_toml = dir.join("Cargo.toml");
        let env = Environment::naming(&dir, None);
        let scopes = || {
            text(crate::list_in(
                &env,
                quote!("nav:helse:afp.raed"),
                List::Scopes,
            ))
        };
        let without = scopes();
        assert!(!without.contains("compile_error"), "{without}");
        assert!(
            without.starts_with(&format!(
                "{{{}",
                text(crate::manifest::tracking(std::slice::from_ref(&cargo_toml)))
            )),
            "{without}"
        );
        // Naming the manifest there: checked against it, and both tracked.
        std::fs::write(
            &cargo_toml,
            "[package]\nname = \"app\"\n\n[package.metadata.maskinporten]\n\
             nais-manifest = \"app.yaml\"\n",
        )
        .unwrap();
        let with = scopes();
        assert!(with.contains("didyoumean`nav:helse:afp.read`?"), "{with}");
        let tracked = text(crate::manifest::tracking(&[
            cargo_toml.clone(),
            dir.join("app.yaml"),
        ]));
        assert!(
            text(crate::list_in(
                &env,
                quote!("nav:helse:afp.read"),
                List::Scopes
            ))
            .starts_with(&format!("{{{tracked}")),
            "{with}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
