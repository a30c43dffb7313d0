//! Where the attribute sits: at module level, or on an associated function
//! of an `impl` block.
//!
//! A proc macro only sees the item it is attached to, and the expansion (a
//! requirement struct beside the handler) cannot live inside an `impl`. So
//! the source file is read and the handler looked up in it: only when it is
//! found as an associated function, and nowhere as a free function, is it
//! reported as misplaced. Whenever the file cannot be read or tokenized, the
//! attribute expands as it always does.
//!
//! The file is read once for all the attributes in it, while it is
//! unchanged ([`crate::cache`]), and what is kept of it is only where the
//! guarded functions are. It is not parsed as Rust: its tokens are enough to
//! tell an `impl` block's body from a module's or a function's, and parsing
//! a file of handlers costs as much as expanding every attribute in it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use proc_macro2::{Delimiter, TokenStream, TokenTree};

use crate::cache::Cache;

/// The attributes whose handlers are looked up.
const ATTRIBUTES: [&str; 2] = ["require_scope", "require_consumer"];

/// Whether the handler `name`, carrying the attribute `attribute`, is an
/// associated function of an `impl` block in the file being compiled.
pub(crate) fn in_impl_block(attribute: &str, name: &syn::Ident) -> bool {
    if !proc_macro::is_available() {
        return false;
    }
    let Some(path) = proc_macro::Span::call_site().local_file() else {
        return false;
    };
    in_impl_block_of(&path, attribute, name)
}

fn in_impl_block_of(path: &Path, attribute: &str, name: &syn::Ident) -> bool {
    // Each file is read and indexed once while it is unchanged, not once
    // per attribute: a file of `n` handlers would otherwise cost `n` reads
    // of a file that grows with `n`.
    static INDEXES: Cache<PathBuf, Option<Arc<Index>>> = Cache::new();
    let index = INDEXES.get(path.to_owned(), |reader| {
        let source = reader.read(path).ok()?;
        Index::of(&source).map(Arc::new)
    });
    let Some(index) = index else {
        return false;
    };
    let Some(slot) = ATTRIBUTES.iter().position(|known| *known == attribute) else {
        return false;
    };
    index
        .places
        .get(&name.to_string())
        .is_some_and(|places| places[slot].in_impl && !places[slot].free)
}

/// Where the functions of a file that carry one of [`ATTRIBUTES`] are, by
/// name, and per attribute in the order of [`ATTRIBUTES`].
#[derive(Default)]
struct Index {
    places: HashMap<String, [Found; 2]>,
}

#[derive(Default, Clone, Copy)]
struct Found {
    in_impl: bool,
    free: bool,
}

/// What a list of tokens holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    /// Items: a file, a module's body, or a function's body, where they
    /// stand among statements.
    Items,
    /// The body of an `impl` block: its functions are associated functions.
    Impl,
    /// Anything else: an expression, a trait's body, a macro's input. A
    /// guarded function there counts as free, so that it is never taken for
    /// an associated one.
    Other,
}

impl Index {
    /// The index of a source file, read from its tokens: parsing it as Rust
    /// would cost as much as expanding every attribute in it. `None` when
    /// it does not tokenize.
    fn of(source: &str) -> Option<Index> {
        let source = source.strip_prefix('\u{feff}').unwrap_or(source);
        let tokens: TokenStream = without_shebang(source).parse().ok()?;
        let mut index = Index::default();
        index.scan(tokens, Context::Items);
        Some(index)
    }

    fn note(&mut self, carried: [bool; 2], name: &proc_macro2::Ident, in_impl: bool) {
        for (slot, _) in carried.iter().enumerate().filter(|(_, carried)| **carried) {
            let found = &mut self.places.entry(name.to_string()).or_default()[slot];
            match in_impl {
                true => found.in_impl = true,
                false => found.free = true,
            }
        }
    }

    /// Reads items from `tokens`: attributes, then the qualifiers that may
    /// stand before `fn`, then `fn` and its name; `impl` and `mod` open the
    /// lists of tokens they hold. A function's body is a list of items
    /// again (a handler nested in it is a free function too); every other
    /// group is read as [`Context::Other`].
    fn scan(&mut self, tokens: TokenStream, context: Context) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        // Which of ATTRIBUTES the item being read carries so far.
        let mut carried = [false; 2];
        let mut i = 0;
        while let Some(token) = tokens.get(i) {
            i += 1;
            match token {
                TokenTree::Punct(p) if p.as_char() == '#' => {
                    // `#[...]`, or `#![...]`, which belongs to what holds it.
                    let inner = is_punct(tokens.get(i), '!');
                    let at = i + usize::from(inner);
                    if let Some(TokenTree::Group(attr)) = tokens.get(at) {
                        if attr.delimiter() == Delimiter::Bracket {
                            if let (false, Some(slot)) = (inner, attribute(attr.stream())) {
                                carried[slot] = true;
                            }
                            i = at + 1;
                            continue;
                        }
                    }
                }
                TokenTree::Ident(ident) => match ident.to_string().as_str() {
                    "pub" => {
                        // `pub(crate)`, `pub(in path)`.
                        if matches!(tokens.get(i), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis)
                        {
                            i += 1;
                        }
                        continue;
                    }
                    "extern" => {
                        if matches!(tokens.get(i), Some(TokenTree::Literal(_))) {
                            i += 1;
                        }
                        continue;
                    }
                    "const" | "async" | "unsafe" | "safe" | "default" => continue,
                    "fn" => {
                        if let Some(TokenTree::Ident(name)) = tokens.get(i) {
                            self.note(carried, name, context == Context::Impl);
                            i += 1;
                            if let Some((body, after)) = body(&tokens, i) {
                                self.scan(body, Context::Items);
                                i = after;
                            }
                        }
                    }
                    "impl" if context == Context::Items => {
                        if let Some((body, after)) = body(&tokens, i) {
                            self.scan(body, Context::Impl);
                            i = after;
                        }
                    }
                    "mod" if context == Context::Items => {
                        if let (Some(TokenTree::Ident(_)), Some(TokenTree::Group(body))) =
                            (tokens.get(i), tokens.get(i + 1))
                        {
                            if body.delimiter() == Delimiter::Brace {
                                self.scan(body.stream(), Context::Items);
                                i += 2;
                            }
                        }
                    }
                    _ => {}
                },
                TokenTree::Group(group) => self.scan(group.stream(), Context::Other),
                TokenTree::Punct(_) | TokenTree::Literal(_) => {}
            }
            carried = [false; 2];
        }
    }
}

fn is_punct(token: Option<&TokenTree>, ch: char) -> bool {
    matches!(token, Some(TokenTree::Punct(p)) if p.as_char() == ch)
}

/// Which of [`ATTRIBUTES`] the attribute `#[tokens]` is: the last segment
/// of its path, as in `#[maskinporten_actix::require_scope(...)]`.
fn attribute(tokens: TokenStream) -> Option<usize> {
    let mut last = None;
    for token in tokens {
        match token {
            TokenTree::Ident(ident) => last = Some(ident),
            TokenTree::Punct(p) if p.as_char() == ':' => {}
            _ => break,
        }
    }
    let last = last?.to_string();
    ATTRIBUTES.iter().position(|known| *known == last)
}

/// The body of the item whose head goes on from `from`: the first `{...}`
/// before a `;`, and where the tokens after it start.
fn body(tokens: &[TokenTree], from: usize) -> Option<(TokenStream, usize)> {
    for (at, token) in tokens.iter().enumerate().skip(from) {
        match token {
            TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => {
                return Some((g.stream(), at + 1))
            }
            TokenTree::Punct(p) if p.as_char() == ';' => return None,
            _ => {}
        }
    }
    None
}

/// The source without a first line `#!...` that is not an attribute
/// `#![...]`, as rustc reads it.
fn without_shebang(source: &str) -> &str {
    let Some(rest) = source.strip_prefix("#!") else {
        return source;
    };
    if rest.trim_start().starts_with('[') {
        return source;
    }
    source.find('\n').map_or("", |end| &source[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(source: &str) -> bool {
        let index = Index::of(source).expect("the source tokenizes");
        index
            .places
            .get("afp")
            .is_some_and(|places| places[0].in_impl && !places[0].free)
    }

    #[test]
    fn an_associated_function_is_found() {
        assert!(check(
            "struct Api; impl Api { #[require_scope(\"nav:a/bb\")] async fn afp() {} }"
        ));
        assert!(check(
            "mod m { impl Api { #[maskinporten_actix::require_scope(\"nav:a/bb\")] async fn afp() {} } }"
        ));
    }

    #[test]
    fn free_and_nested_functions_are_not() {
        assert!(!check("#[require_scope(\"nav:a/bb\")] async fn afp() {}"));
        // Inside a method body, items may sit beside the handler.
        assert!(!check(
            "impl Api { fn routes() { #[require_scope(\"nav:a/bb\")] async fn afp() {} } }"
        ));
        // A free handler of the same name: do not guess.
        assert!(!check(
            "impl Api { #[require_scope(\"nav:a/bb\")] async fn afp() {} } \
             mod m { #[require_scope(\"nav:a/bb\")] async fn afp() {} }"
        ));
        // Another attribute, or another name.
        assert!(!check("impl Api { #[get(\"/\")] async fn afp() {} }"));
        assert!(!check(
            "impl Api { #[require_scope(\"nav:a/bb\")] async fn other() {} }"
        ));
    }

    #[test]
    fn whatever_stands_around_the_function_is_read_past() {
        assert!(check(
            "#!/usr/bin/env run-cargo-script\n#![allow(unused)]\n\
             unsafe impl<T: Fn() -> u8> Service for Api<T> where T: Clone {\n\
                 // } a brace in a comment\n\
                 /* { */ const BRACE: &str = \"}\";\n\
                 /// Docs, with #[require_scope] in them.\n\
                 #[get(\"/\")]\n\
                 #[require_scope(any(\"nav:a/bb\", \"nav:a/cc\"))]\n\
                 pub(crate) const async unsafe extern \"Rust\" fn afp<'a>(x: &'a str) -> impl Responder + 'a\n\
                 where\n    Self: Sized,\n\
                 { x }\n\
             }"
        ));
        // Within a function's body, as syn would find it there.
        assert!(check(
            "fn main() { let x = 1; impl Api { #[require_scope(\"nav:a/bb\")] async fn afp() {} } }"
        ));
        assert!(check(
            "\u{feff}impl Api { #[require_scope(\"nav:a/bb\")] async fn afp() {} }"
        ));
    }

    #[test]
    fn what_cannot_be_told_apart_counts_as_free() {
        // Not an impl block's body: a trait's, a macro's input, an
        // expression.
        assert!(!check(
            "trait Api { #[require_scope(\"nav:a/bb\")] async fn afp() {} }"
        ));
        assert!(!check(
            "m! { impl Api { #[require_scope(\"nav:a/bb\")] async fn afp() {} } }"
        ));
        assert!(!check(
            "const _: () = { impl Api { #[require_scope(\"nav:a/bb\")] async fn afp() {} } };"
        ));
        // A brace in the impl's head is taken for its body: the body is then
        // read as anything else, never as an impl block's.
        assert!(!check(
            "impl Api<{ 1 }> { #[require_scope(\"nav:a/bb\")] async fn afp() {} }"
        ));
        // A free handler whose return type is `impl`.
        assert!(!check(
            "#[require_scope(\"nav:a/bb\")] async fn afp() -> impl Responder { impl_responder() }"
        ));
        // An attribute on something else before the function.
        assert!(!check(
            "impl Api { #[require_scope(\"nav:a/bb\")] const X: u8 = 1; async fn afp() {} }"
        ));
    }

    #[test]
    fn an_edited_file_is_looked_at_again() {
        let dir = std::env::temp_dir().join(format!("maskinporten-macros-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("edited.rs");
        let name = syn::Ident::new("afp", proc_macro2::Span::call_site());
        let found = |source: &str| {
            std::fs::write(&path, source).unwrap();
            in_impl_block_of(&path, "require_scope", &name)
        };
        assert!(!found("#[require_scope(\"nav:a/bb\")] async fn afp() {}"));
        assert!(found(
            "impl Api { #[require_scope(\"nav:a/bb\")] async fn afp() {} }"
        ));
        // The same length, written at once: the timestamp may not tell.
        assert!(found(
            "impl Api { #[require_scope(\"nav:a/bb\")] async fn afp() {} }"
        ));
        assert!(!found(
            "impl Api { #[require_scope(\"nav:a/bb\")] async fn afq() {} }"
        ));
        assert!(found(
            "impl Api { #[require_scope(\"nav:a/bb\")] async fn afp() {} }"
        ));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn an_unreadable_file_expands_as_usual() {
        let name = syn::Ident::new("afp", proc_macro2::Span::call_site());
        assert!(!in_impl_block_of(
            Path::new("/nonexistent/file.rs"),
            "require_scope",
            &name
        ));
    }
}
