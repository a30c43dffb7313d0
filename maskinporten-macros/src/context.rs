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
//! guarded functions are. It is not parsed as Rust: its token trees are
//! enough to tell an `impl` block's body from a module's or a function's,
//! and parsing a file of handlers costs as much as expanding every
//! attribute in it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
        let tokens = lex(without_shebang(source))?;
        let mut index = Index::default();
        index.scan(&tokens, Context::Items);
        Some(index)
    }

    fn note(&mut self, carried: [bool; 2], name: &str, in_impl: bool) {
        for (slot, _) in carried.iter().enumerate().filter(|(_, carried)| **carried) {
            let found = &mut self.places.entry(name.to_owned()).or_default()[slot];
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
    fn scan(&mut self, tokens: &[Tree<'_>], context: Context) {
        // Which of ATTRIBUTES the item being read carries so far.
        let mut carried = [false; 2];
        let mut i = 0;
        while let Some(token) = tokens.get(i) {
            i += 1;
            match token {
                Tree::Punct('#') => {
                    // `#[...]`, or `#![...]`, which belongs to what holds it.
                    let inner = matches!(tokens.get(i), Some(Tree::Punct('!')));
                    let at = i + usize::from(inner);
                    if let Some(Tree::Group(Delimiter::Bracket, attr)) = tokens.get(at) {
                        if let (false, Some(slot)) = (inner, attribute(attr)) {
                            carried[slot] = true;
                        }
                        i = at + 1;
                        continue;
                    }
                }
                Tree::Ident(word) => match *word {
                    "pub" => {
                        // `pub(crate)`, `pub(in path)`.
                        if let Some(Tree::Group(Delimiter::Parenthesis, _)) = tokens.get(i) {
                            i += 1;
                        }
                        continue;
                    }
                    "extern" => {
                        if let Some(Tree::Literal) = tokens.get(i) {
                            i += 1;
                        }
                        continue;
                    }
                    "const" | "async" | "unsafe" | "safe" | "default" => continue,
                    "fn" => {
                        if let Some(Tree::Ident(name)) = tokens.get(i) {
                            self.note(carried, name, context == Context::Impl);
                            i += 1;
                            if let Some((body, after)) = body(tokens, i) {
                                self.scan(body, Context::Items);
                                i = after;
                            }
                        }
                    }
                    "impl" if context == Context::Items => {
                        if let Some((body, after)) = body(tokens, i) {
                            self.scan(body, Context::Impl);
                            i = after;
                        }
                    }
                    "mod" if context == Context::Items => {
                        if let (Some(Tree::Ident(_)), Some(Tree::Group(Delimiter::Brace, body))) =
                            (tokens.get(i), tokens.get(i + 1))
                        {
                            self.scan(body, Context::Items);
                            i += 2;
                        }
                    }
                    _ => {}
                },
                Tree::Group(_, group) => self.scan(group, Context::Other),
                Tree::Punct(_) | Tree::Literal => {}
            }
            carried = [false; 2];
        }
    }
}

/// Which of [`ATTRIBUTES`] the attribute `#[tokens]` is: the last segment
/// of its path, as in `#[maskinporten_actix::require_scope(...)]`.
fn attribute(tokens: &[Tree<'_>]) -> Option<usize> {
    let mut last = None;
    for token in tokens {
        match token {
            Tree::Ident(word) => last = Some(*word),
            Tree::Punct(':') => {}
            _ => break,
        }
    }
    ATTRIBUTES.iter().position(|known| Some(*known) == last)
}

/// The body of the item whose head goes on from `from`: the first `{...}`
/// before a `;`, and where the tokens after it start.
fn body<'t, 's>(tokens: &'t [Tree<'s>], from: usize) -> Option<(&'t [Tree<'s>], usize)> {
    for (at, token) in tokens.iter().enumerate().skip(from) {
        match token {
            Tree::Group(Delimiter::Brace, body) => return Some((body, at + 1)),
            Tree::Punct(';') => return None,
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

/// A token tree of the source, as much of one as the scan needs: comments
/// (doc comments too) are left out, and a literal is only a literal.
#[derive(Debug, PartialEq, Eq)]
enum Tree<'s> {
    /// An identifier or keyword, raw ones with their `r#`.
    Ident(&'s str),
    Punct(char),
    Literal,
    Group(Delimiter, Vec<Tree<'s>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delimiter {
    Parenthesis,
    Bracket,
    Brace,
}

/// The token trees of `source`, by Rust's lexical rules as far as they
/// decide where a token, a comment or a group ends; `None` when a
/// delimiter, a literal or a comment is left open. Run by the macro for a
/// whole file, without the compiler's tokenizer: a trip through it, for the
/// file's every token, costs ten times as much.
fn lex(source: &str) -> Option<Vec<Tree<'_>>> {
    let bytes = source.as_bytes();
    let mut open: Vec<(Delimiter, Vec<Tree<'_>>)> = Vec::new();
    let mut trees = Vec::new();
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let delimiter = match byte {
            b'(' | b')' => Some(Delimiter::Parenthesis),
            b'[' | b']' => Some(Delimiter::Bracket),
            b'{' | b'}' => Some(Delimiter::Brace),
            _ => None,
        };
        match byte {
            _ if byte.is_ascii_whitespace() => i += 1,
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = source[i..].find('\n').map_or(bytes.len(), |end| i + end);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = block_comment(bytes, i)?,
            b'(' | b'[' | b'{' => {
                open.push((delimiter?, std::mem::take(&mut trees)));
                i += 1;
            }
            b')' | b']' | b'}' => {
                let (opened, outer) = open.pop()?;
                if Some(opened) != delimiter {
                    return None;
                }
                let inner = std::mem::replace(&mut trees, outer);
                trees.push(Tree::Group(opened, inner));
                i += 1;
            }
            b'"' => {
                i = string(bytes, i + 1)?;
                trees.push(Tree::Literal);
            }
            b'\'' => match char_literal(source, i + 1) {
                Some(end) => {
                    i = end;
                    trees.push(Tree::Literal);
                }
                // A lifetime or a label: its name follows as an identifier.
                None => {
                    i += 1;
                    trees.push(Tree::Punct('\''));
                }
            },
            b'0'..=b'9' => {
                i = ident_end(source, i);
                trees.push(Tree::Literal);
            }
            _ => {
                let ch = source[i..].chars().next()?;
                if !(ch == '_' || ch.is_alphabetic()) {
                    i += ch.len_utf8();
                    trees.push(Tree::Punct(ch));
                    continue;
                }
                let start = i;
                i = ident_end(source, i);
                let word = &source[start..i];
                match (word, bytes.get(i)) {
                    // `r#type`: a raw identifier, unless a raw string.
                    ("r", Some(b'#')) if !matches!(bytes.get(i + 1), Some(b'"' | b'#')) => {
                        i = ident_end(source, i + 1);
                        trees.push(Tree::Ident(&source[start..i]));
                    }
                    ("r" | "br" | "cr", Some(b'"' | b'#')) => {
                        i = raw_string(bytes, i)?;
                        trees.push(Tree::Literal);
                    }
                    ("b" | "c", Some(b'"')) => {
                        i = string(bytes, i + 1)?;
                        trees.push(Tree::Literal);
                    }
                    ("b", Some(b'\'')) => {
                        i = char_literal(source, i + 1)?;
                        trees.push(Tree::Literal);
                    }
                    _ => trees.push(Tree::Ident(word)),
                }
            }
        }
    }
    open.is_empty().then_some(trees)
}

/// Where the identifier (or number) starting at `from` ends.
fn ident_end(source: &str, from: usize) -> usize {
    source[from..]
        .char_indices()
        .find(|(_, ch)| !(*ch == '_' || ch.is_alphanumeric()))
        .map_or(source.len(), |(at, _)| from + at)
}

/// Where the block comment starting at `from` ends; they nest.
fn block_comment(bytes: &[u8], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = from;
    loop {
        match (bytes.get(i)?, bytes.get(i + 1)) {
            (b'/', Some(b'*')) => {
                depth += 1;
                i += 2;
            }
            (b'*', Some(b'/')) => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => i += 1,
        }
    }
}

/// Where the string whose text starts at `from` ends, after its `"`.
fn string(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        match bytes.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// Where the raw string whose `#`s or `"` start at `from` ends; `None` when
/// no `"` follows the `#`s, or it is left open.
fn raw_string(bytes: &[u8], from: usize) -> Option<usize> {
    let hashes = bytes[from..].iter().take_while(|b| **b == b'#').count();
    let text = from + hashes;
    if bytes.get(text) != Some(&b'"') {
        return None;
    }
    let mut i = text + 1;
    loop {
        if bytes.get(i)? == &b'"'
            && bytes[i + 1..]
                .iter()
                .take(hashes)
                .filter(|b| **b == b'#')
                .count()
                == hashes
        {
            return Some(i + 1 + hashes);
        }
        i += 1;
    }
}

/// Where the character literal whose text starts at `from`, after its
/// `'`, ends; `None` when the `'` opens a lifetime or a label instead.
fn char_literal(source: &str, from: usize) -> Option<usize> {
    let rest = &source[from..];
    if let Some(escaped) = rest.strip_prefix('\\') {
        // `'\n'`, `'\''`, `'\u{1F600}'`.
        let ch = escaped.chars().next()?;
        let after = 1 + ch.len_utf8();
        return rest[after..].find('\'').map(|end| from + after + end + 1);
    }
    let ch = rest.chars().next()?;
    rest[ch.len_utf8()..]
        .starts_with('\'')
        .then(|| from + ch.len_utf8() + 1)
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
    fn literals_and_comments_hide_what_they_hold() {
        use Delimiter::*;
        use Tree::*;
        let trees = lex(concat!(
            r##"a("}", "\"{", r"{\", r#"}"{"#, br#"]"#, b"[", c"(", b'{', '}', '\'', '\u{7B}', "##,
            "/* { /* nested } */ ( */ // } (\n",
            "'a: loop {} fn f<'b>(x: &'b str) {} r#type 1.0e5 é_1 ≠)",
        ))
        .unwrap();
        let mut expected: Vec<Tree> = (0..11).flat_map(|_| [Literal, Punct(',')]).collect();
        expected.extend([
            Punct('\''),
            Ident("a"),
            Punct(':'),
            Ident("loop"),
            Group(Brace, vec![]),
            Ident("fn"),
            Ident("f"),
            Punct('<'),
            Punct('\''),
            Ident("b"),
            Punct('>'),
            Group(
                Parenthesis,
                vec![
                    Ident("x"),
                    Punct(':'),
                    Punct('&'),
                    Punct('\''),
                    Ident("b"),
                    Ident("str"),
                ],
            ),
            Group(Brace, vec![]),
            Ident("r#type"),
            Literal,
            Punct('.'),
            Literal,
            Ident("é_1"),
            Punct('≠'),
        ]);
        assert_eq!(trees, vec![Ident("a"), Group(Parenthesis, expected)]);
        for open in [
            "(",
            "a { b ]",
            "\"open",
            "r#\"open\"",
            "/* open",
            "b'\\u{7B}",
        ] {
            assert_eq!(lex(open), None, "{open}");
        }
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
