//! Parsing: what the attribute or the list says, and the handler it is
//! written on. Every mistake of syntax is collected, not just the first;
//! whether the scopes and organisation numbers read are valid is for
//! [`crate::check`] to say.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::parse::{ParseStream, Parser};
use syn::{Ident, Item, ItemFn, Lit, LitStr, Token};

use crate::errors::Errors;

/// Which guard attribute is expanding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guard {
    /// `#[require_scope(...)]`.
    Scope,
    /// `#[require_consumer(...)]`.
    Consumer,
}

impl Guard {
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Guard::Scope => "`#[require_scope]`",
            Guard::Consumer => "`#[require_consumer]`",
        }
    }

    /// The attribute's name, as written in a path.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Guard::Scope => "require_scope",
            Guard::Consumer => "require_consumer",
        }
    }

    /// How the name of the requirement an expansion emits begins.
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Guard::Scope => "__maskinporten_scopes_",
            Guard::Consumer => "__maskinporten_consumers_",
        }
    }
}

/// How the listed scopes combine; mirrors `__private::Match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Match {
    All,
    Any,
}

/// What `#[require_consumer]` does with a delegated or system-user token;
/// mirrors `__private::Delegation`.
pub(crate) enum Delegation {
    /// No option: judged by the organisation the token acts for.
    Allowed,
    /// `refuse_delegated`.
    Refused,
    /// `suppliers(...)`: organisation numbers.
    Suppliers(Vec<LitStr>),
}

/// What a guard attribute requires, as written; mirrors `__private::Rule`.
pub(crate) enum Rule {
    /// `#[require_scope(...)]`: the scopes, and how they combine.
    Scopes { scopes: Vec<LitStr>, match_: Match },
    /// `#[require_consumer(...)]`: the consumers' organisation numbers, and
    /// what to do with a delegated token.
    Consumers {
        consumers: Vec<LitStr>,
        delegation: Delegation,
    },
}

impl Rule {
    /// The scopes of a scope rule, with how they combine.
    pub(crate) fn scopes(&self) -> Option<(&[LitStr], Match)> {
        match self {
            Rule::Scopes { scopes, match_ } => Some((scopes, *match_)),
            Rule::Consumers { .. } => None,
        }
    }

    /// Every organisation number written: the consumers, then the
    /// suppliers. None for a scope rule.
    pub(crate) fn orgnos(&self) -> Vec<LitStr> {
        match self {
            Rule::Scopes { .. } => Vec::new(),
            Rule::Consumers {
                consumers,
                delegation,
            } => {
                let suppliers = match delegation {
                    Delegation::Suppliers(suppliers) => &suppliers[..],
                    Delegation::Allowed | Delegation::Refused => &[],
                };
                consumers.iter().chain(suppliers).cloned().collect()
            }
        }
    }
}

/// What was read, and the mistakes found on the way. A value read in part
/// comes with the errors, so that the checks can still report what is
/// wrong with the part that was read.
pub(crate) struct Parsed<T> {
    pub(crate) value: Option<T>,
    pub(crate) errors: Errors,
}

impl<T> Parsed<T> {
    fn error(error: syn::Error) -> Self {
        let mut errors = Errors::default();
        errors.push(error);
        Parsed {
            value: None,
            errors,
        }
    }
}

/// Reads the arguments of `guard`.
pub(crate) fn rule(guard: Guard, args: TokenStream) -> Parsed<Rule> {
    match guard {
        Guard::Scope => scopes(args),
        Guard::Consumer => consumers(args),
    }
}

/// Reads the item a guard attribute is written on: it must be a function.
pub(crate) fn handler(guard: Guard, item: TokenStream) -> Parsed<ItemFn> {
    match syn::parse2::<Item>(item) {
        Ok(Item::Fn(handler)) => Parsed {
            value: Some(handler),
            errors: Errors::default(),
        },
        Ok(other) => Parsed::error(not_a_function(guard, &other)),
        Err(e) => Parsed::error(e),
    }
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

/// Reads the arguments of `#[require_scope(...)]`. An argument that
/// cannot be read is reported and left out, so the arguments after it are
/// still read, and checked.
fn scopes(args: TokenStream) -> Parsed<Rule> {
    if args.is_empty() {
        return Parsed::error(syn::Error::new(
            Span::call_site(),
            format!(
                "`#[require_scope]` needs at least one scope, as in \
                 `#[require_scope(\"{}\")]`",
                maskinporten_names::EXAMPLE
            ),
        ));
    }
    let mut errors = Errors::default();
    let parsed = match Parser::parse2(
        |input: ParseStream| parse_list(input, false, &mut errors),
        args,
    ) {
        Ok(parsed) => parsed,
        Err(e) => return Parsed::error(e),
    };

    let mut rule: Option<Rule> = None;
    for arg in parsed {
        match (arg, &mut rule) {
            (Arg::Scope(scope), None) => {
                rule = Some(Rule::Scopes {
                    scopes: vec![scope],
                    match_: Match::All,
                })
            }
            (Arg::Any { scopes, .. }, None) => {
                rule = Some(Rule::Scopes {
                    scopes,
                    match_: Match::Any,
                })
            }
            (
                Arg::Scope(scope),
                Some(Rule::Scopes {
                    scopes,
                    match_: Match::All,
                }),
            ) => scopes.push(scope),
            (Arg::Scope(scope), Some(_)) => errors.push(mixed_any(scope)),
            (Arg::Any { tokens, .. }, Some(_)) => errors.push(mixed_any(tokens)),
        }
    }
    // Without errors, at least one argument was a scope or a non-empty `any`.
    if rule.is_none() && errors.is_empty() {
        errors.push(syn::Error::new(Span::call_site(), EXPECTED));
    }
    Parsed {
        value: rule,
        errors,
    }
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

/// What a plain list of string literals holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum List {
    /// `scopes![...]`: NAIS scopes.
    Scopes,
    /// `orgnos![...]` and `#[require_consumer(...)]`: organisation numbers.
    Orgnos,
}

impl List {
    pub(crate) fn item(self) -> &'static str {
        match self {
            List::Scopes => "scope",
            List::Orgnos => "organisation number",
        }
    }

    pub(crate) fn example(self) -> &'static str {
        match self {
            List::Scopes => maskinporten_names::EXAMPLE,
            List::Orgnos => maskinporten_names::orgno::EXAMPLE,
        }
    }
}

/// The error for an empty list: `usage` is the form the message shows, such
/// as `scopes![...]`, with `...` standing for the list.
fn empty_list(list: List, usage: &str) -> syn::Error {
    let example = format!("\"{}\"", list.example());
    syn::Error::new(
        Span::call_site(),
        format!(
            "`{}` needs at least one {}, as in `{}`",
            usage.replace("...", ""),
            list.item(),
            usage.replace("...", &example)
        ),
    )
}

/// What the messages say is expected in place of something else.
fn expected_literal(list: List) -> String {
    format!(
        "expected a string literal {}, as in `\"{}\"`",
        list.item(),
        list.example()
    )
}

/// Reads the comma-separated string literals of `scopes![...]` or
/// `orgnos![...]`. `usage` is the form the messages show, such as
/// `scopes![...]`, with `...` standing for the list.
pub(crate) fn literals(args: TokenStream, list: List, usage: &str) -> Parsed<Vec<LitStr>> {
    if args.is_empty() {
        return Parsed::error(empty_list(list, usage));
    }
    let mut errors = Errors::default();
    let expected = expected_literal(list);
    let literals = Parser::parse2(
        |input: ParseStream| {
            let mut literals = Vec::new();
            while !input.is_empty() {
                if list == List::Scopes && input.peek(Ident) && input.peek2(syn::token::Paren) {
                    let tokens = skip_to_comma(input)?;
                    errors.push(syn::Error::new_spanned(
                        tokens,
                        "`scopes![]` is a plain list; say how the scopes combine with \
                         `RequireScope::all(scopes![...])` or `RequireScope::any(scopes![...])`",
                    ));
                } else if list == List::Orgnos && peek_option(input).is_some_and(is_known_option) {
                    let tokens = skip_to_comma(input)?;
                    errors.push(syn::Error::new_spanned(
                        tokens,
                        "`orgnos![]` is a plain list; the delegation options go on the guard, as \
                         in `RequireConsumer::one_of(orgnos![...]).refuse_delegated()` or \
                         `RequireConsumer::one_of(orgnos![...]).suppliers(orgnos![...])`",
                    ));
                } else if let Some(literal) = parse_literal(input, list, &expected, &mut errors)? {
                    literals.push(literal);
                }
                if input.is_empty() {
                    break;
                }
                input.parse::<Token![,]>()?;
            }
            Ok(literals)
        },
        args,
    );
    match literals {
        Ok(literals) => Parsed {
            value: Some(literals),
            errors,
        },
        Err(e) => Parsed::error(e),
    }
}

/// Reads one argument that should be a string literal of `list`: the
/// literal, or `None` with the mistake recorded in `errors` and skipped.
fn parse_literal(
    input: ParseStream,
    list: List,
    expected: &str,
    errors: &mut Errors,
) -> syn::Result<Option<LitStr>> {
    if input.peek(LitStr) {
        let literal: LitStr = input.parse()?;
        if literal.suffix().is_empty() {
            return Ok(Some(literal));
        }
        errors.push(syn::Error::new(
            literal.span(),
            format!(
                "unexpected suffix `{}` on the {}",
                literal.suffix(),
                list.item()
            ),
        ));
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
    } else {
        let tokens = skip_to_comma(input)?;
        let message = match syn::parse2::<syn::Path>(tokens.clone()) {
            Ok(_) => format!(
                "{expected}, found `{}`; write the {} out, so that it is checked when the code compiles",
                tokens.to_string().replace(' ', ""),
                list.item()
            ),
            Err(_) => expected.to_owned(),
        };
        errors.push(syn::Error::new_spanned(tokens, message));
    }
    Ok(None)
}

pub(crate) const REFUSE_DELEGATED: &str = "refuse_delegated";
const SUPPLIERS: &str = "suppliers";
/// A supplier in the messages: a valid organisation number other than
/// the consumer of the examples.
const SUPPLIER_EXAMPLE: &str = "974760673";

/// The next argument, when it is a lower-case identifier not followed by
/// `::`: an option, known or not. A constant (`ALLOWED`) or a path is an
/// attempt at an organisation number, and gets that message.
fn peek_option(input: ParseStream) -> Option<Ident> {
    let fork = input.fork();
    let ident: Ident = fork.parse().ok()?;
    let lower_case = !ident.to_string().bytes().any(|b| b.is_ascii_uppercase());
    (lower_case && !fork.peek(Token![::])).then_some(ident)
}

fn is_known_option(ident: Ident) -> bool {
    ident == REFUSE_DELEGATED || ident == SUPPLIERS
}

/// Reads the arguments of `#[require_consumer(...)]`: the consumers'
/// organisation numbers, then at most one option, `refuse_delegated` or
/// `suppliers("...", ...)`.
fn consumers(args: TokenStream) -> Parsed<Rule> {
    let list = List::Orgnos;
    if args.is_empty() {
        return Parsed::error(empty_list(list, "#[require_consumer(...)]"));
    }
    let mut errors = Errors::default();
    let expected = expected_literal(list);
    let parsed = Parser::parse2(
        |input: ParseStream| {
            let mut consumers = Vec::new();
            // The first option given, with its tokens.
            let mut option: Option<(TokenStream, Delegation)> = None;
            while !input.is_empty() {
                if peek_option(input).is_some() {
                    parse_option(input, &mut option, &mut errors)?;
                } else if let (Some((first, _)), true) = (&option, input.peek(LitStr)) {
                    let literal: LitStr = input.parse()?;
                    errors.push(syn::Error::new(
                        literal.span(),
                        format!(
                            "the consumers' organisation numbers come first, the options after \
                             them; move this one before `{}`",
                            first.to_string().replace(' ', "")
                        ),
                    ));
                } else if let Some(literal) = parse_literal(input, list, &expected, &mut errors)? {
                    consumers.push(literal);
                }
                if input.is_empty() {
                    break;
                }
                input.parse::<Token![,]>()?;
            }
            Ok((consumers, option))
        },
        args,
    );
    let (consumers, option) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return Parsed::error(e),
    };
    let delegation = option.map_or(Delegation::Allowed, |(_, delegation)| delegation);
    Parsed {
        value: Some(Rule::Consumers {
            consumers,
            delegation,
        }),
        errors,
    }
}

/// Reads one option of `#[require_consumer]`, which [`peek_option`] found
/// next. The first option is kept in `first`; a mistake, a repeat or a
/// second option is recorded in `errors`.
fn parse_option(
    input: ParseStream,
    first: &mut Option<(TokenStream, Delegation)>,
    errors: &mut Errors,
) -> syn::Result<()> {
    let name: Ident = input.parse()?;
    let group: Option<Group> = match input.peek(syn::token::Paren) {
        true => Some(input.parse()?),
        false => None,
    };
    let tokens = quote!(#name #group);
    let error = |message: String| syn::Error::new_spanned(&tokens, message);
    let delegation = if name == REFUSE_DELEGATED {
        if group.is_some() {
            errors.push(error(format!(
                "`{REFUSE_DELEGATED}` takes no arguments: it refuses every delegated and \
                 system-user token; write it alone, as in \
                 `#[require_consumer(\"991825827\", {REFUSE_DELEGATED})]`"
            )));
            return Ok(());
        }
        Delegation::Refused
    } else if name == SUPPLIERS {
        let Some(group) = group.filter(|group| !group.stream().is_empty()) else {
            errors.push(error(format!(
                "`{SUPPLIERS}(...)` needs at least one organisation number of a supplier or \
                 vendor that may call for a listed consumer, as in \
                 `{SUPPLIERS}(\"{SUPPLIER_EXAMPLE}\")`; to let none call, write \
                 `{REFUSE_DELEGATED}`"
            )));
            return Ok(());
        };
        let expected = expected_literal(List::Orgnos);
        let suppliers = Parser::parse2(
            |input: ParseStream| {
                let mut suppliers = Vec::new();
                while !input.is_empty() {
                    if let Some(literal) = parse_literal(input, List::Orgnos, &expected, errors)? {
                        suppliers.push(literal);
                    }
                    if input.is_empty() {
                        break;
                    }
                    input.parse::<Token![,]>()?;
                }
                Ok(suppliers)
            },
            group.stream(),
        )?;
        Delegation::Suppliers(suppliers)
    } else {
        errors.push(error(format!(
            "unknown option `{name}` of `#[require_consumer]`; after the organisation numbers \
             it takes `{REFUSE_DELEGATED}` or `{SUPPLIERS}(\"{SUPPLIER_EXAMPLE}\", ...)`, and an \
             organisation number is written as a string literal, as in `\"{}\"`",
            List::Orgnos.example()
        )));
        return Ok(());
    };
    match first {
        None => *first = Some((tokens, delegation)),
        Some((_, Delegation::Refused)) if matches!(delegation, Delegation::Refused) => {
            errors.push(error(format!("`{REFUSE_DELEGATED}` is given twice")));
        }
        Some((_, Delegation::Suppliers(_))) if matches!(delegation, Delegation::Suppliers(_)) => {
            errors.push(error(format!(
                "`{SUPPLIERS}(...)` is given twice; list every supplier in one `{SUPPLIERS}(...)`"
            )));
        }
        Some(_) => errors.push(error(format!(
            "`{REFUSE_DELEGATED}` and `{SUPPLIERS}(...)` cannot both be given: \
             `{REFUSE_DELEGATED}` refuses every delegated and system-user token, \
             `{SUPPLIERS}(...)` lets them in from the suppliers and vendors listed; keep one"
        ))),
    }
    Ok(())
}
