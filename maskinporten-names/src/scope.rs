//! The NAIS grammar for scope names: [`validate`] and its errors.

use std::fmt;

/// A scope that satisfies the grammar, for messages that show what valid
/// looks like.
pub const EXAMPLE: &str = "nav:helse/sykepenger/afp.read";

/// The prefix NAIS puts before every scope an application exposes.
const PREFIX: &str = "nav";

/// Checks that `scope` is a Maskinporten scope NAIS would let an application
/// expose.
///
/// The check is exact: it accepts what the NAIS patterns (see the crate docs)
/// accept and nothing else. The error says what is wrong in one sentence,
/// without repeating the scope.
///
/// ```
/// use maskinporten_names::validate;
///
/// assert!(validate("nav:helse:afp.read").is_ok());
/// assert_eq!(
///     validate("nva:helse/afp").unwrap_err().to_string(),
///     "the prefix must be `nav`, found `nva`"
/// );
/// ```
pub fn validate(scope: &str) -> Result<(), ScopeError> {
    check_characters(scope)?;
    let rest = check_prefix(scope)?;
    let (separator, name) = check_product(rest)?;
    check_name(separator, name)
}

/// Why a string is not a valid scope.
///
/// `Display` gives one sentence for a person, such as
/// "the prefix must be `nav`, found `nva`"; [`ScopeError::kind`] gives the
/// category for code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeError {
    kind: ScopeErrorKind,
    message: String,
}

impl ScopeError {
    /// What kind of mistake the scope holds.
    pub fn kind(&self) -> ScopeErrorKind {
        self.kind
    }

    fn new(kind: ScopeErrorKind, message: impl Into<String>) -> Self {
        ScopeError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScopeError {}

/// The categories of [`ScopeError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScopeErrorKind {
    /// The scope is the empty string.
    Empty,
    /// The scope holds a space, tab, newline or other whitespace.
    Whitespace,
    /// The scope holds an upper-case letter; scopes are lower case.
    UpperCase,
    /// The scope holds a character the grammar has no place for, such as `_`.
    Character,
    /// The scope does not start with `nav:`.
    Prefix,
    /// The product (between `nav:` and the first separator) is missing, holds
    /// æ, ø or å, or is not followed by a separator and a name.
    Product,
    /// Two separators in a row, or one at the end: a segment is empty.
    EmptySegment,
    /// A separator where the name pattern does not allow it: `/` after a `:`
    /// or `.`, or `:` after a `.`.
    MisplacedSeparator,
    /// The name, or its last `:` segment, is a single character.
    NameTooShort,
}

/// Letters and digits of a name; the product allows only the ASCII ones.
fn is_word(c: char) -> bool {
    matches!(c, 'a'..='z' | '0'..='9' | 'æ' | 'ø' | 'å')
}

fn is_separator(c: char) -> bool {
    matches!(c, '/' | ':' | '.')
}

/// Rejects characters no part of the grammar takes, so the structural checks
/// below only see words and separators.
fn check_characters(scope: &str) -> Result<(), ScopeError> {
    if scope.is_empty() {
        return Err(ScopeError::new(ScopeErrorKind::Empty, "the scope is empty"));
    }
    if scope.chars().any(char::is_whitespace) {
        let message = if scope.trim() != scope {
            "the scope has leading or trailing whitespace"
        } else {
            "the scope contains whitespace"
        };
        return Err(ScopeError::new(ScopeErrorKind::Whitespace, message));
    }
    // Upper case first: `Helse` deserves "use lower case", not "`H` is not allowed".
    if let Some(c) = scope
        .chars()
        .find(|&c| c.is_ascii_uppercase() || matches!(c, 'Æ' | 'Ø' | 'Å'))
    {
        return Err(ScopeError::new(
            ScopeErrorKind::UpperCase,
            format!("upper-case `{c}` is not allowed; NAIS scope names are lower case"),
        ));
    }
    if let Some(c) = scope.chars().find(|&c| !is_word(c) && !is_separator(c)) {
        return Err(ScopeError::new(
            ScopeErrorKind::Character,
            format!(
                "`{}` is not allowed; a scope may hold only a-z, 0-9, æ, ø, å \
                 and the separators `/`, `:` and `.`",
                c.escape_debug()
            ),
        ));
    }
    Ok(())
}

/// Checks `nav:` and returns what follows it.
fn check_prefix(scope: &str) -> Result<&str, ScopeError> {
    if let Some(rest) = scope.strip_prefix("nav:") {
        return Ok(rest);
    }
    let message = match scope.strip_prefix(PREFIX).and_then(|s| s.chars().next()) {
        None if scope == PREFIX => "missing `:` after the prefix `nav`".to_owned(),
        // `nav/helse/afp` or `nav.helse`: the user wrote the prefix but the
        // wrong separator after it.
        Some(c) if is_separator(c) => format!("expected `:` after the prefix `nav`, found `{c}`"),
        _ => match scope.split_once(':') {
            Some(("", _)) => "the prefix must be `nav`, found nothing before `:`".to_owned(),
            Some((prefix, _)) => format!("the prefix must be `nav`, found `{prefix}`"),
            None => "the scope must start with the prefix `nav:`".to_owned(),
        },
    };
    Err(ScopeError::new(ScopeErrorKind::Prefix, message))
}

/// Checks the product after `nav:` and returns the separator and the name.
///
/// The product cannot hold a separator, so the first separator ends it: the
/// product/separator/name split is unique.
fn check_product(rest: &str) -> Result<(char, &str), ScopeError> {
    let end = rest.find(is_separator).unwrap_or(rest.len());
    let product = &rest[..end];
    let Some(separator) = rest[end..].chars().next() else {
        let message = if product.is_empty() {
            "nothing follows `nav:`; expected a product, a separator and a name".to_owned()
        } else {
            format!("the product `{product}` must be followed by `/`, `:` or `.` and a name")
        };
        return Err(ScopeError::new(ScopeErrorKind::Product, message));
    };
    if product.is_empty() {
        return Err(ScopeError::new(
            ScopeErrorKind::Product,
            format!("`nav:` is followed directly by `{separator}`; a product must come first"),
        ));
    }
    if let Some(c) = product.chars().find(|c| !c.is_ascii_alphanumeric()) {
        return Err(ScopeError::new(
            ScopeErrorKind::Product,
            format!(
                "`{c}` is not allowed in the product `{product}`, which takes only a-z and 0-9"
            ),
        ));
    }
    Ok((separator, &rest[end + 1..]))
}

/// Checks the name against its pattern, segment by segment.
///
/// Split at the first `.` and then at each `:`, the pattern reads:
/// - the first `:` segment is words joined by single `/`s, possibly with a `/`
///   at its end when a `:` follows (`([a-zæøå0-9]+\/?)+` before `\:`);
/// - later `:` segments are words; the last one holds two characters or more,
///   because `(\:[a-zæøå0-9]+)*` and the following `[a-zæøå0-9]+` each take one;
/// - without `:`, the part before the first `.` ends in a word and has two
///   characters or more, as `([a-zæøå0-9]+\/?)+` and `[a-zæøå0-9]+` each take one;
/// - each `.` segment is one word.
fn check_name(separator: char, name: &str) -> Result<(), ScopeError> {
    let (main, suffixes) = match name.split_once('.') {
        Some((main, suffixes)) => (main, Some(suffixes)),
        None => (name, None),
    };
    let mut segments = main.split(':');
    let first = segments.next().unwrap_or_default();
    let colon_segments: Vec<&str> = segments.collect();

    // What comes right after the product's separator.
    match first.chars().next() {
        Some(c) if is_word(c) => {}
        Some(c) => return Err(empty_segment(separator, c)),
        None => {
            return Err(match name.chars().next() {
                Some(c) => empty_segment(separator, c),
                None => trailing_separator(separator),
            })
        }
    }
    if first.contains("//") {
        return Err(empty_segment('/', '/'));
    }

    if colon_segments.is_empty() {
        if first.ends_with('/') {
            return Err(match suffixes {
                Some(_) => empty_segment('/', '.'),
                None => trailing_separator('/'),
            });
        }
        if first.chars().count() < 2 {
            return Err(too_short(
                format!("the name `{first}`"),
                suffixes.map(|s| format!(".{s}")),
            ));
        }
    } else {
        let last = colon_segments.len() - 1;
        for (i, segment) in colon_segments.iter().enumerate() {
            match segment.chars().next() {
                Some(c) if is_word(c) => {}
                Some(c) => return Err(empty_segment(':', c)),
                None if i < last => return Err(empty_segment(':', ':')),
                None if suffixes.is_some() => return Err(empty_segment(':', '.')),
                None => return Err(trailing_separator(':')),
            }
            if segment.contains('/') {
                return Err(misplaced('/', ':'));
            }
        }
        let segment = colon_segments[last];
        if segment.chars().count() < 2 {
            return Err(too_short(
                format!("`{segment}` after the last `:`"),
                suffixes.map(|s| format!(".{s}")),
            ));
        }
    }

    let Some(suffixes) = suffixes else {
        return Ok(());
    };
    let suffixes: Vec<&str> = suffixes.split('.').collect();
    let last = suffixes.len() - 1;
    for (i, suffix) in suffixes.iter().enumerate() {
        match suffix.chars().next() {
            Some(c) if is_word(c) => {}
            Some(c) => return Err(empty_segment('.', c)),
            None if i < last => return Err(empty_segment('.', '.')),
            None => return Err(trailing_separator('.')),
        }
        if let Some(c) = suffix.chars().find(|&c| c == '/' || c == ':') {
            return Err(misplaced(c, '.'));
        }
    }
    Ok(())
}

fn empty_segment(first: char, second: char) -> ScopeError {
    ScopeError::new(
        ScopeErrorKind::EmptySegment,
        format!("`{first}{second}` leaves an empty segment; a separator must be followed by a letter or digit"),
    )
}

fn trailing_separator(separator: char) -> ScopeError {
    ScopeError::new(
        ScopeErrorKind::EmptySegment,
        format!(
            "the scope ends with `{separator}`; a separator must be followed by a letter or digit"
        ),
    )
}

fn misplaced(separator: char, after: char) -> ScopeError {
    let message = match after {
        ':' => format!(
            "`{separator}` is not allowed after a `:` in the name; \
             `/` may only join the parts before the first `:`"
        ),
        _ => format!(
            "`{separator}` is not allowed after a `.` in the name; \
             a `.` suffix holds only letters and digits"
        ),
    };
    ScopeError::new(ScopeErrorKind::MisplacedSeparator, message)
}

fn too_short(what: String, before: Option<String>) -> ScopeError {
    let before = before.map(|s| format!(" before `{s}`")).unwrap_or_default();
    ScopeError::new(
        ScopeErrorKind::NameTooShort,
        format!("{what}{before} is too short; it needs at least two letters or digits"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_scopes_the_nais_patterns_match() {
        for scope in [
            EXAMPLE,
            "nav:test/ab",
            "nav:a/bb",
            "nav:helse:afp.read",
            "nav:helse.afp",
            "nav:helse/sykepenger/afp.read.x",
            "nav:helse/sykepenger/afp",
            "nav:test/a/b",
            "nav:test/ab/c",
            "nav:test:ab",
            "nav:test.ab",
            "nav:test/a:bc",
            "nav:test/a:b:cd",
            "nav:test/a/b:cd.e.f",
            // `([a-zæøå0-9]+\/?)+` may end in `/` right before a `:`.
            "nav:test/a/:bc",
            "nav:helse/blåbær",
            "nav:helse/æø",
            "nav:helse/øl.å",
            "nav:0/00",
            "nav:p1/n2.v3",
        ] {
            assert_eq!(validate(scope), Ok(()), "{scope}");
        }
    }

    #[test]
    fn rejects_with_a_message_that_names_the_mistake() {
        use ScopeErrorKind::*;
        let cases: &[(&str, ScopeErrorKind, &str)] = &[
            ("", Empty, "the scope is empty"),
            (
                " nav:test/ab",
                Whitespace,
                "the scope has leading or trailing whitespace",
            ),
            (
                "nav:test/ab\n",
                Whitespace,
                "the scope has leading or trailing whitespace",
            ),
            ("nav:test/a b", Whitespace, "the scope contains whitespace"),
            ("nav:test/a\tb", Whitespace, "the scope contains whitespace"),
            (
                "nav:Helse/afp",
                UpperCase,
                "upper-case `H` is not allowed; NAIS scope names are lower case",
            ),
            (
                "nav:helse/BLÅBÆR",
                UpperCase,
                "upper-case `B` is not allowed; NAIS scope names are lower case",
            ),
            (
                "nav:helse/Ærlig",
                UpperCase,
                "upper-case `Æ` is not allowed; NAIS scope names are lower case",
            ),
            (
                "nav:helse/afp_read",
                Character,
                "`_` is not allowed; a scope may hold only a-z, 0-9, æ, ø, å \
                 and the separators `/`, `:` and `.`",
            ),
            (
                "nav:helse/café",
                Character,
                "`é` is not allowed; a scope may hold only a-z, 0-9, æ, ø, å \
                 and the separators `/`, `:` and `.`",
            ),
            (
                "nav:helse/afp-read",
                Character,
                "`-` is not allowed; a scope may hold only a-z, 0-9, æ, ø, å \
                 and the separators `/`, `:` and `.`",
            ),
            (
                "nav:helse/\u{0}x",
                Character,
                "`\\0` is not allowed; a scope may hold only a-z, 0-9, æ, ø, å \
                 and the separators `/`, `:` and `.`",
            ),
            ("nva:helse/afp", Prefix, "the prefix must be `nav`, found `nva`"),
            (
                "navx:helse/afp",
                Prefix,
                "the prefix must be `nav`, found `navx`",
            ),
            (
                ":helse/afp",
                Prefix,
                "the prefix must be `nav`, found nothing before `:`",
            ),
            ("nav", Prefix, "missing `:` after the prefix `nav`"),
            (
                "nav/helse/afp",
                Prefix,
                "expected `:` after the prefix `nav`, found `/`",
            ),
            (
                "helse/afp",
                Prefix,
                "the scope must start with the prefix `nav:`",
            ),
            (
                "navhelse/afp",
                Prefix,
                "the scope must start with the prefix `nav:`",
            ),
            (
                "nav:",
                Product,
                "nothing follows `nav:`; expected a product, a separator and a name",
            ),
            (
                "nav:helse",
                Product,
                "the product `helse` must be followed by `/`, `:` or `.` and a name",
            ),
            (
                "nav:/afp",
                Product,
                "`nav:` is followed directly by `/`; a product must come first",
            ),
            (
                "nav::afp",
                Product,
                "`nav:` is followed directly by `:`; a product must come first",
            ),
            (
                "nav:hælse/afp",
                Product,
                "`æ` is not allowed in the product `hælse`, which takes only a-z and 0-9",
            ),
            (
                "nav:test/a",
                NameTooShort,
                "the name `a` is too short; it needs at least two letters or digits",
            ),
            (
                "nav:helse.x",
                NameTooShort,
                "the name `x` is too short; it needs at least two letters or digits",
            ),
            (
                "nav:helse/x.read",
                NameTooShort,
                "the name `x` before `.read` is too short; it needs at least two letters or digits",
            ),
            (
                "nav:test/a:b",
                NameTooShort,
                "`b` after the last `:` is too short; it needs at least two letters or digits",
            ),
            (
                "nav:test/ab:c.d",
                NameTooShort,
                "`c` after the last `:` before `.d` is too short; it needs at least two letters or digits",
            ),
            (
                "nav:helse/",
                EmptySegment,
                "the scope ends with `/`; a separator must be followed by a letter or digit",
            ),
            (
                "nav:helse/afp/",
                EmptySegment,
                "the scope ends with `/`; a separator must be followed by a letter or digit",
            ),
            (
                "nav:helse/afp:",
                EmptySegment,
                "the scope ends with `:`; a separator must be followed by a letter or digit",
            ),
            (
                "nav:helse/afp.",
                EmptySegment,
                "the scope ends with `.`; a separator must be followed by a letter or digit",
            ),
            (
                "nav:helse//afp",
                EmptySegment,
                "`//` leaves an empty segment; a separator must be followed by a letter or digit",
            ),
            (
                "nav:helse/afp//read",
                EmptySegment,
                "`//` leaves an empty segment; a separator must be followed by a letter or digit",
            ),
            (
                "nav:helse/.afp",
                EmptySegment,
                "`/.` leaves an empty segment; a separator must be followed by a letter or digit",
            ),
            (
                "nav:helse/:afp",
                EmptySegment,
                "`/:` leaves an empty segment; a separator must be followed by a letter or digit",
            ),
            (
                "nav:helse/afp/.read",
                EmptySegment,
                "`/.` leaves an empty segment; a separator must be followed by a letter or digit",
            ),
            (
                "nav:helse/afp::read",
                EmptySegment,
                "`::` leaves an empty segment; a separator must be followed by a letter or digit",
            ),
            (
                "nav:helse/afp:.read",
                EmptySegment,
                "`:.` leaves an empty segment; a separator must be followed by a letter or digit",
            ),
            (
                "nav:helse/afp:/read",
                EmptySegment,
                "`:/` leaves an empty segment; a separator must be followed by a letter or digit",
            ),
            (
                "nav:helse/afp..read",
                EmptySegment,
                "`..` leaves an empty segment; a separator must be followed by a letter or digit",
            ),
            (
                "nav:helse/afp./read",
                EmptySegment,
                "`./` leaves an empty segment; a separator must be followed by a letter or digit",
            ),
            (
                "nav:helse/afp:read/x",
                MisplacedSeparator,
                "`/` is not allowed after a `:` in the name; \
                 `/` may only join the parts before the first `:`",
            ),
            (
                "nav:helse/afp.read/x",
                MisplacedSeparator,
                "`/` is not allowed after a `.` in the name; \
                 a `.` suffix holds only letters and digits",
            ),
            (
                "nav:helse/afp.read:x",
                MisplacedSeparator,
                "`:` is not allowed after a `.` in the name; \
                 a `.` suffix holds only letters and digits",
            ),
        ];
        for (scope, kind, message) in cases {
            let err = validate(scope).expect_err(scope);
            assert_eq!(
                (err.kind(), err.to_string().as_str()),
                (*kind, *message),
                "{scope:?}"
            );
        }
    }

    /// The NAIS patterns as a tiny regex engine: a node maps the set of
    /// positions where it may start to the set where it may end, which is
    /// exactly what a backtracking matcher explores.
    enum Node {
        Class(fn(char) -> bool),
        Opt(Box<Node>),
        Plus(Vec<Node>),
        Star(Vec<Node>),
    }

    fn step(node: &Node, text: &[char], from: &[bool]) -> Vec<bool> {
        let mut to = vec![false; text.len() + 1];
        match node {
            Node::Class(class) => {
                for i in 0..text.len() {
                    to[i + 1] = from[i] && class(text[i]);
                }
            }
            Node::Opt(inner) => {
                let once = step(inner, text, from);
                for i in 0..to.len() {
                    to[i] = from[i] || once[i];
                }
            }
            Node::Plus(seq) | Node::Star(seq) => {
                let mut reached = if matches!(node, Node::Star(_)) {
                    from.to_vec()
                } else {
                    vec![false; to.len()]
                };
                let mut frontier = from.to_vec();
                loop {
                    frontier = seq.iter().fold(frontier, |at, n| step(n, text, &at));
                    let mut grew = false;
                    for i in 0..to.len() {
                        if frontier[i] && !reached[i] {
                            reached[i] = true;
                            grew = true;
                        }
                    }
                    if !grew {
                        break;
                    }
                    frontier = reached.clone();
                }
                to = reached;
            }
        }
        to
    }

    fn full_match(pattern: &[Node], text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let mut start = vec![false; text.len() + 1];
        start[0] = true;
        pattern.iter().fold(start, |at, n| step(n, &text, &at))[text.len()]
    }

    fn word() -> Node {
        Node::Class(is_word)
    }

    fn literal_slash(c: char) -> bool {
        c == '/'
    }

    /// `^([a-zæøå0-9]+\/?)+(\:[a-zæøå0-9]+)*[a-zæøå0-9]+(\.[a-zæøå0-9]+)*$`
    fn name_pattern() -> Vec<Node> {
        vec![
            Node::Plus(vec![
                Node::Plus(vec![word()]),
                Node::Opt(Box::new(Node::Class(literal_slash))),
            ]),
            Node::Star(vec![Node::Class(|c| c == ':'), Node::Plus(vec![word()])]),
            Node::Plus(vec![word()]),
            Node::Star(vec![Node::Class(|c| c == '.'), Node::Plus(vec![word()])]),
        ]
    }

    /// Tries every split into `nav` `:` product separator name, as the NAIS
    /// definition states it, with no knowledge of how `validate` works.
    fn nais_accepts(scope: &str, name: &[Node]) -> bool {
        let product = [Node::Plus(vec![Node::Class(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit()
        })])];
        let Some(subscope) = scope.strip_prefix("nav:") else {
            return false;
        };
        subscope.char_indices().any(|(i, c)| {
            is_separator(c)
                && full_match(&product, &subscope[..i])
                && full_match(name, &subscope[i + 1..])
        })
    }

    #[test]
    fn the_engine_reads_the_pattern_like_the_facts_do() {
        let name = name_pattern();
        assert!(full_match(&name, "ab"));
        assert!(full_match(&name, "sykepenger/afp.read"));
        assert!(!full_match(&name, "a"));
        assert!(!full_match(&name, "x"));
        assert!(full_match(&name, "a/:bc"));
        assert!(!full_match(&name, "a:b/cd"));
    }

    /// Every string over a small alphabet, up to a length that reaches each
    /// corner of the pattern, gets the same verdict from both.
    #[test]
    fn agrees_with_the_nais_patterns_on_every_short_string() {
        let name = name_pattern();
        // One of each class: ASCII letter, æøå, digit, and the separators.
        let alphabet = ['a', 'å', '1', '/', ':', '.'];
        let mut strings = vec![String::new()];
        let mut checked = 0;
        for _ in 0..7 {
            let mut longer = Vec::new();
            for s in &strings {
                for c in alphabet {
                    let mut t = s.clone();
                    t.push(c);
                    longer.push(t);
                }
            }
            for s in &longer {
                let scope = format!("nav:{s}");
                assert_eq!(
                    validate(&scope).is_ok(),
                    nais_accepts(&scope, &name),
                    "{scope}: {:?}",
                    validate(&scope)
                );
                checked += 1;
            }
            strings = longer;
        }
        assert!(checked > 300_000);
    }

    #[test]
    fn rejects_what_the_patterns_reject_outside_the_alphabet_above() {
        let name = name_pattern();
        for scope in [
            "nav",
            "na:test/ab",
            "nav :test/ab",
            "NAV:test/ab",
            "xnav:test/ab",
            "nav:test/a_b",
            "nav:test/Ab",
            "nav:test/ab ",
        ] {
            assert!(!nais_accepts(scope, &name), "{scope}");
            assert!(validate(scope).is_err(), "{scope}");
        }
    }
}
