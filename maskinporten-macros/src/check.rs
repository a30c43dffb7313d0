//! Checking: what was parsed, against the NAIS grammar (`maskinporten-names`),
//! the handler's signature, and the application's NAIS manifests
//! ([`crate::manifest`]). The manifests are read once while they are
//! unchanged, not once per macro call.
//!
//! Nothing here looks past the tokens the macro is given: where the handler
//! sits (an `impl` block cannot hold the items the guard emits) is the
//! compiler's to tell, at the attribute.

use std::path::PathBuf;
use std::sync::Arc;

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{FnArg, ItemFn, LitStr};

use crate::args::{self, Delegation, Guard, List, Parsed, Rule, REFUSE_DELEGATED};
use crate::errors::Errors;
use crate::manifest::{self, Environment, Manifests};

/// A guard attribute, checked.
pub(crate) enum Checked {
    /// The attribute or its handler is wrong: there is nothing to expand.
    Unusable(syn::Error),
    /// The guard can expand.
    Usable(Box<Usable>),
}

/// A guard attribute whose arguments and handler are right.
pub(crate) struct Usable {
    pub(crate) rule: Rule,
    pub(crate) handler: ItemFn,
    /// The files read to check it, for the expansion to track.
    pub(crate) tracked: Arc<[PathBuf]>,
    /// What the manifests say against the rule, or why they could not be
    /// read: the expansion is still right, and goes out with them.
    pub(crate) errors: Errors,
}

/// Checks a guard attribute: its arguments, then its handler, then (when
/// both are right) the rule against the NAIS manifests.
pub(crate) fn guard(
    env: &Environment,
    guard: Guard,
    rule: Parsed<Rule>,
    handler: Parsed<ItemFn>,
) -> Checked {
    let mut errors = rule.errors;
    if let Some(rule) = &rule.value {
        names(rule, &mut errors);
    }
    errors.append(handler.errors);
    if let Some(handler) = &handler.value {
        signature(guard, handler, &mut errors);
    }
    let (Some(rule), Some(handler), true) = (rule.value, handler.value, errors.is_empty()) else {
        return Checked::Unusable(
            errors
                .finish()
                .expect_err("a missing rule or handler records an error"),
        );
    };
    let tracked = match manifest::load(env) {
        Ok(loaded) => {
            if let Some(manifests) = &loaded.manifests {
                against_manifests(&rule, &handler, manifests, &mut errors);
            }
            loaded.files
        }
        Err(e) => {
            errors.push(e);
            Arc::new([])
        }
    };
    Checked::Usable(Box::new(Usable {
        rule,
        handler,
        tracked,
        errors,
    }))
}

/// Checks the literals of `scopes![...]` or `orgnos![...]`: against the
/// grammar, then against the NAIS manifests.
pub(crate) fn list(
    env: &Environment,
    list: List,
    parsed: Parsed<Vec<LitStr>>,
) -> syn::Result<(Vec<LitStr>, Arc<[PathBuf]>)> {
    let mut errors = parsed.errors;
    if let Some(literals) = &parsed.value {
        match list {
            List::Scopes => scopes(literals, &mut errors),
            List::Orgnos => orgnos(literals, &mut errors),
        }
    }
    errors.finish()?;
    let literals = parsed.value.expect("a list not read records an error");
    let loaded = manifest::load(env)?;
    if let Some(manifests) = &loaded.manifests {
        let mut errors = Errors::default();
        match list {
            List::Scopes => manifests.check_scopes(&literals, &mut errors),
            // No scope is in sight of the list: its consumers are checked
            // against every scope the application exposes.
            List::Orgnos => manifests.check_consumers(None, &literals, &mut errors),
        }
        errors.finish()?;
    }
    Ok((literals, loaded.files))
}

/// Checks `exposed_scopes!()`: it takes no arguments, and reads the enabled
/// scopes of the configured manifests.
pub(crate) fn exposed_scopes(
    env: &Environment,
    input: TokenStream,
) -> syn::Result<(Vec<String>, Arc<[PathBuf]>)> {
    if !input.is_empty() {
        return Err(syn::Error::new_spanned(
            input,
            "`exposed_scopes!()` takes no arguments: it reads the scopes from the NAIS manifest \
             named in Cargo.toml",
        ));
    }
    let loaded = manifest::load(env)?;
    match &loaded.manifests {
        Some(manifests) => manifests
            .exposed()
            .map(|scopes| (scopes, loaded.files.clone()))
            .map_err(|message| syn::Error::new(proc_macro2::Span::call_site(), message)),
        None => Err(syn::Error::new(
            proc_macro2::Span::call_site(),
            "`exposed_scopes!()` reads the scopes the application exposes from its NAIS \
             manifest, and none is named: add `nais-manifest = \".nais/app.yaml\"` under \
             `[package.metadata.maskinporten]` in Cargo.toml",
        )),
    }
}

/// Checks the names a rule holds against their grammar, and that it holds
/// at least one consumer.
fn names(rule: &Rule, errors: &mut Errors) {
    match rule {
        Rule::Scopes { scopes: list, .. } => scopes(list, errors),
        Rule::Consumers {
            consumers,
            delegation,
        } => {
            orgnos(consumers, errors);
            if let Delegation::Suppliers(suppliers) = delegation {
                orgnos(suppliers, errors);
            }
            if consumers.is_empty() && errors.is_empty() {
                // Without errors, the arguments were options only.
                errors.push(syn::Error::new(
                    proc_macro2::Span::call_site(),
                    format!(
                        "`#[require_consumer]` needs at least one organisation number before \
                         its options, as in `#[require_consumer(\"{}\", {REFUSE_DELEGATED})]`",
                        List::Orgnos.example()
                    ),
                ));
            }
        }
    }
}

/// Checks each scope against the NAIS grammar and for repeats.
fn scopes(scopes: &[LitStr], errors: &mut Errors) {
    names_of(List::Scopes, scopes, errors, |scope| {
        maskinporten_names::validate(scope).map_err(|err| {
            format!(
                "{err}; a valid scope looks like `{}`",
                maskinporten_names::EXAMPLE
            )
        })
    });
}

/// Checks each organisation number (nine digits, mod-11 check digit) and
/// for repeats.
fn orgnos(orgnos: &[LitStr], errors: &mut Errors) {
    names_of(List::Orgnos, orgnos, errors, |orgno| {
        maskinporten_names::orgno::validate(orgno).map_err(|err| err.to_string())
    });
}

/// Checks each name of a list with `validate`, and for repeats: a name
/// that is valid and listed before.
fn names_of(
    list: List,
    literals: &[LitStr],
    errors: &mut Errors,
    validate: impl Fn(&str) -> Result<(), String>,
) {
    let invalid = match list {
        List::Scopes => "invalid Maskinporten scope",
        List::Orgnos => "invalid organisation number",
    };
    let mut seen: Vec<String> = Vec::with_capacity(literals.len());
    for lit in literals {
        let name = lit.value();
        if let Err(problem) = validate(&name) {
            // "the scope is empty" needs no empty quote before it.
            let quoted = match name.is_empty() {
                true => String::new(),
                false => format!(" `{}`", name.escape_debug()),
            };
            errors.push(syn::Error::new(
                lit.span(),
                format!("{invalid}{quoted}: {problem}"),
            ));
        } else if seen.contains(&name) {
            errors.push(syn::Error::new(
                lit.span(),
                format!("the {} `{name}` is listed twice", list.item()),
            ));
        }
        seen.push(name);
    }
}

/// Checks what the rewrite needs of the handler's signature.
fn signature(guard: Guard, handler: &ItemFn, errors: &mut Errors) {
    let sig = &handler.sig;
    let attribute = guard.attribute();
    let mut found = Errors::default();
    if sig.asyncness.is_none() {
        found.push(syn::Error::new(
            sig.fn_token.span,
            format!("{attribute} goes on an `async fn` handler; add `async`"),
        ));
    }
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => found.push(syn::Error::new_spanned(
                receiver,
                format!(
                    "{attribute} goes on a free `async fn` handler, not on a method taking `self`"
                ),
            )),
            // A tuple pattern has no place for them, and only `cfg`-like
            // lint attributes are allowed on parameters anyway.
            FnArg::Typed(arg) => {
                if let Some(attr) = arg.attrs.first() {
                    found.push(syn::Error::new_spanned(
                        attr,
                        format!("{attribute} does not support attributes on handler arguments"),
                    ));
                }
            }
        }
    }
    if let Some(variadic) = &sig.variadic {
        found.push(syn::Error::new_spanned(
            variadic,
            "a handler cannot be variadic",
        ));
    }
    errors.append(found);
}

/// Checks the rule against the manifests: the scopes must be exposed, and
/// the consumers (and the suppliers of `suppliers(...)`) must be ones
/// Maskinporten gives a token for them. When
/// `#[require_scope]` and `#[require_consumer]` are stacked, whichever
/// expands first sees the other still written on the handler, and checks
/// the pair; the second then sees the first's expansion and checks no
/// consumers again, whether the first found errors or not.
fn against_manifests(rule: &Rule, handler: &ItemFn, manifests: &Manifests, errors: &mut Errors) {
    match rule {
        Rule::Scopes { scopes, .. } => {
            manifests.check_scopes(scopes, errors);
            let stacked = stacked(handler, Guard::Consumer)
                .and_then(|tokens| right_rule(Guard::Consumer, tokens));
            if let Some(consumers) = &stacked {
                manifests.check_consumers(rule.scopes(), &consumers.orgnos(), errors);
            }
        }
        Rule::Consumers { .. } => {
            let orgnos = &rule.orgnos();
            match stacked(handler, Guard::Scope) {
                // A malformed `#[require_scope]` reports itself.
                Some(tokens) => {
                    if let Some(scopes) = right_rule(Guard::Scope, tokens) {
                        manifests.check_consumers(scopes.scopes(), orgnos, errors);
                    }
                }
                None if guarded_by_scopes(handler) => {}
                // Guarded by a route tree's scopes, perhaps: checked against
                // every scope the application exposes.
                None => manifests.check_consumers(None, orgnos, errors),
            }
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

/// The rule `tokens` give `guard`, when they are right: a wrong one
/// reports itself when its attribute expands.
fn right_rule(guard: Guard, tokens: TokenStream) -> Option<Rule> {
    let Parsed { value, mut errors } = args::rule(guard, tokens);
    let rule = value?;
    names(&rule, &mut errors);
    errors.is_empty().then_some(rule)
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
