//! Parsing and checking the arguments of `#[require_scope(...)]`,
//! `#[require_consumer(...)]`, `scopes![...]` and `orgnos![...]`.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::parse::{ParseStream, Parser};
use syn::{Ident, Lit, LitStr, Token};

/// How the listed scopes combine; mirrors `__private::Match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Match {
    All,
    Any,
}

/// The checked arguments: scopes that each satisfy the NAIS grammar, none
/// listed twice.
pub(crate) struct Requirement {
    pub(crate) scopes: Vec<LitStr>,
    pub(crate) match_: Match,
}

/// One top-level argument, kept apart until every one has been read so that
/// mixing `any(...)` with plain scopes is reported once, at the second form.
enum Arg {
    Scope(LitStr),
    /// `tokens` is the whole `any(...)`, for spanning errors over it.
    Any {
        tokens: TokenStream,
        scopes: Vec<LitStr>,
    },
}

const EXPECTED: &str = "expected a string literal scope or `any(...)`";

/// Parses and checks `args`; every problem found is in the error, not just
/// the first, so one build shows every bad scope.
pub(crate) fn parse(args: TokenStream) -> syn::Result<Requirement> {
    if args.is_empty() {
        return Err(syn::Error::new(
            Span::call_site(),
            format!(
                "`#[require_scope]` needs at least one scope, as in \
                 `#[require_scope(\"{}\")]`",
                maskinporten_scope::EXAMPLE
            ),
        ));
    }
    let mut errors = Errors::default();
    let parsed = Parser::parse2(
        |input: ParseStream| parse_list(input, false, &mut errors),
        args,
    )?;

    let mut requirement: Option<Requirement> = None;
    for arg in parsed {
        match (arg, &mut requirement) {
            (Arg::Scope(scope), None) => {
                requirement = Some(Requirement {
                    scopes: vec![scope],
                    match_: Match::All,
                })
            }
            (Arg::Any { scopes, .. }, None) => {
                requirement = Some(Requirement {
                    scopes,
                    match_: Match::Any,
                })
            }
            (Arg::Scope(scope), Some(r)) if r.match_ == Match::All => r.scopes.push(scope),
            (Arg::Scope(scope), Some(_)) => errors.push(mixed_any(scope)),
            (Arg::Any { tokens, .. }, Some(_)) => errors.push(mixed_any(tokens)),
        }
    }
    if let Some(requirement) = &requirement {
        check_scopes(&requirement.scopes, &mut errors);
    }
    errors.finish()?;
    // Without errors, at least one argument was a scope or a non-empty `any`.
    requirement.ok_or_else(|| syn::Error::new(Span::call_site(), EXPECTED))
}

/// Reads a comma-separated list of arguments; inside `any(...)`, `nested`
/// turns a further `any` into an error.
fn parse_list(input: ParseStream, nested: bool, errors: &mut Errors) -> syn::Result<Vec<Arg>> {
    let mut args = Vec::new();
    while !input.is_empty() {
        if let Some(arg) = parse_arg(input, nested, errors)? {
            args.push(arg);
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(args)
}

/// Reads one argument. A malformed argument is recorded in `errors` and
/// skipped, so the arguments after it are still checked.
fn parse_arg(input: ParseStream, nested: bool, errors: &mut Errors) -> syn::Result<Option<Arg>> {
    if input.peek(LitStr) {
        let scope: LitStr = input.parse()?;
        if !scope.suffix().is_empty() {
            errors.push(syn::Error::new(
                scope.span(),
                format!("unexpected suffix `{}` on the scope", scope.suffix()),
            ));
            return Ok(None);
        }
        return Ok(Some(Arg::Scope(scope)));
    }
    if input.peek(Lit) {
        let lit: Lit = input.parse()?;
        let message = match &lit {
            Lit::ByteStr(_) => {
                "expected a string literal scope, found a byte string; remove the `b` prefix"
                    .to_owned()
            }
            Lit::CStr(_) => {
                "expected a string literal scope, found a C string; remove the `c` prefix"
                    .to_owned()
            }
            _ => format!("{EXPECTED}, found `{}`", lit.to_token_stream()),
        };
        errors.push(syn::Error::new(lit.span(), message));
        return Ok(None);
    }
    if input.peek(Ident) && input.peek2(syn::token::Paren) {
        let function: Ident = input.parse()?;
        let group: Group = input.parse()?;
        let tokens = quote!(#function #group);
        if function != "any" {
            let message = if function == "all" {
                "unknown function `all(...)`; to require every scope, list them without a \
                 function, as in `#[require_scope(\"nav:helse/afp.read\", \"nav:helse/afp.write\")]`"
                    .to_owned()
            } else {
                format!("unknown function `{function}(...)`; {EXPECTED}")
            };
            errors.push(syn::Error::new_spanned(tokens, message));
            return Ok(None);
        }
        if nested {
            errors.push(syn::Error::new_spanned(
                tokens,
                "`any(...)` cannot be nested; list every accepted scope in one `any(...)`",
            ));
            return Ok(None);
        }
        if group.stream().is_empty() {
            errors.push(syn::Error::new_spanned(
                tokens,
                "`any()` needs at least one scope, as in \
                 `any(\"nav:helse/afp.read\", \"nav:helse/afp.write\")`",
            ));
            return Ok(None);
        }
        let inner = Parser::parse2(
            |input: ParseStream| parse_list(input, true, errors),
            group.stream(),
        )?;
        let scopes = inner
            .into_iter()
            .filter_map(|arg| match arg {
                Arg::Scope(scope) => Some(scope),
                Arg::Any { .. } => None,
            })
            .collect();
        return Ok(Some(Arg::Any { tokens, scopes }));
    }
    // Anything else: the whole argument up to the next comma is the mistake.
    let tokens = skip_to_comma(input)?;
    let message = match syn::parse2::<syn::Path>(tokens.clone()) {
        // A constant: say why it will not do.
        Ok(_) => format!(
            "{EXPECTED}, found `{}`; write the scope out, so that it is checked when the code compiles",
            tokens.to_string().replace(' ', "")
        ),
        Err(_) => EXPECTED.to_owned(),
    };
    errors.push(syn::Error::new_spanned(tokens, message));
    Ok(None)
}

/// Consumes the tokens up to (not including) the next top-level comma.
fn skip_to_comma(input: ParseStream) -> syn::Result<TokenStream> {
    input.step(|cursor| {
        let mut tokens = TokenStream::new();
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            if matches!(&tt, TokenTree::Punct(p) if p.as_char() == ',') {
                break;
            }
            tokens.extend(std::iter::once(tt));
            rest = next;
        }
        Ok((tokens, rest))
    })
}

fn mixed_any(tokens: impl ToTokens) -> syn::Error {
    syn::Error::new_spanned(
        tokens,
        "`any(...)` must be the only argument: list scopes to require all of them, \
         or put every accepted scope in one `any(...)`",
    )
}

/// Checks each scope against the NAIS grammar and for repeats.
fn check_scopes(scopes: &[LitStr], errors: &mut Errors) {
    let mut seen: Vec<String> = Vec::with_capacity(scopes.len());
    for lit in scopes {
        let scope = lit.value();
        if let Err(err) = maskinporten_scope::validate(&scope) {
            // "the scope is empty" needs no empty quote before it.
            let quoted = match scope.is_empty() {
                true => String::new(),
                false => format!(" `{}`", scope.escape_debug()),
            };
            errors.push(syn::Error::new(
                lit.span(),
                format!(
                    "invalid Maskinporten scope{quoted}: {err}; a valid scope looks like `{}`",
                    maskinporten_scope::EXAMPLE
                ),
            ));
        } else if seen.contains(&scope) {
            errors.push(syn::Error::new(
                lit.span(),
                format!("the scope `{scope}` is listed twice"),
            ));
        }
        seen.push(scope);
    }
}

/// What a plain list of string literals holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum List {
    /// `scopes![...]`: NAIS scopes.
    Scopes,
    /// `orgnos![...]` and `#[require_consumer(...)]`: organisation numbers.
    Orgnos,
}

impl List {
    fn item(self) -> &'static str {
        match self {
            List::Scopes => "scope",
            List::Orgnos => "organisation number",
        }
    }

    fn example(self) -> &'static str {
        match self {
            List::Scopes => maskinporten_scope::EXAMPLE,
            List::Orgnos => maskinporten_scope::orgno::EXAMPLE,
        }
    }
}

/// Parses and checks a comma-separated list of string literals: every
/// problem found is in the error. `usage` is the form the messages show,
/// such as `scopes![...]`, with `...` standing for the list.
pub(crate) fn parse_literals(
    args: TokenStream,
    list: List,
    usage: &str,
) -> syn::Result<Vec<LitStr>> {
    let example = format!("\"{}\"", list.example());
    if args.is_empty() {
        return Err(syn::Error::new(
            Span::call_site(),
            format!(
                "`{}` needs at least one {}, as in `{}`",
                usage.replace("...", ""),
                list.item(),
                usage.replace("...", &example)
            ),
        ));
    }
    let mut errors = Errors::default();
    let expected = format!(
        "expected a string literal {}, as in `{example}`",
        list.item()
    );
    let literals = Parser::parse2(
        |input: ParseStream| {
            let mut literals = Vec::new();
            while !input.is_empty() {
                if input.peek(LitStr) {
                    let literal: LitStr = input.parse()?;
                    if literal.suffix().is_empty() {
                        literals.push(literal);
                    } else {
                        errors.push(syn::Error::new(
                            literal.span(),
                            format!(
                                "unexpected suffix `{}` on the {}",
                                literal.suffix(),
                                list.item()
                            ),
                        ));
                    }
                } else if input.peek(Lit) {
                    let lit: Lit = input.parse()?;
                    let message = match (&lit, list) {
                        (Lit::Int(int), List::Orgnos) => format!(
                            "expected a string literal organisation number, found the integer \
                             `{int}`; write it in quotes, as in `\"{}\"`, so that it is kept \
                             digit for digit (leading zeros included)",
                            int.base10_digits()
                        ),
                        (Lit::ByteStr(_), _) => {
                            format!("{expected}, found a byte string; remove the `b` prefix")
                        }
                        (Lit::CStr(_), _) => {
                            format!("{expected}, found a C string; remove the `c` prefix")
                        }
                        _ => format!("{expected}, found `{}`", lit.to_token_stream()),
                    };
                    errors.push(syn::Error::new(lit.span(), message));
                } else if list == List::Scopes
                    && input.peek(Ident)
                    && input.peek2(syn::token::Paren)
                {
                    let tokens = skip_to_comma(input)?;
                    errors.push(syn::Error::new_spanned(
                        tokens,
                        "`scopes![]` is a plain list; say how the scopes combine with \
                         `RequireScope::all(scopes![...])` or `RequireScope::any(scopes![...])`",
                    ));
                } else {
                    let tokens = skip_to_comma(input)?;
                    let message = match syn::parse2::<syn::Path>(tokens.clone()) {
                        Ok(_) => format!(
                            "{expected}, found `{}`; write the {} out, so that it is checked when the code compiles",
                            tokens.to_string().replace(' ', ""),
                            list.item()
                        ),
                        Err(_) => expected.clone(),
                    };
                    errors.push(syn::Error::new_spanned(tokens, message));
                }
                if input.is_empty() {
                    break;
                }
                input.parse::<Token![,]>()?;
            }
            Ok(literals)
        },
        args,
    )?;
    match list {
        List::Scopes => check_scopes(&literals, &mut errors),
        List::Orgnos => check_orgnos(&literals, &mut errors),
    }
    errors.finish()?;
    Ok(literals)
}

/// Checks each organisation number (nine digits, mod-11 check digit) and
/// for repeats.
fn check_orgnos(orgnos: &[LitStr], errors: &mut Errors) {
    let mut seen: Vec<String> = Vec::with_capacity(orgnos.len());
    for lit in orgnos {
        let orgno = lit.value();
        if let Err(err) = maskinporten_scope::orgno::validate(&orgno) {
            let quoted = match orgno.is_empty() {
                true => String::new(),
                false => format!(" `{}`", orgno.escape_debug()),
            };
            errors.push(syn::Error::new(
                lit.span(),
                format!("invalid organisation number{quoted}: {err}"),
            ));
        } else if seen.contains(&orgno) {
            errors.push(syn::Error::new(
                lit.span(),
                format!("the organisation number `{orgno}` is listed twice"),
            ));
        }
        seen.push(orgno);
    }
}

/// Collects errors so that one expansion reports all of them.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}
