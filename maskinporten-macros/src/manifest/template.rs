//! The Handlebars templating NAIS manifests use (`{{ ingress }}`,
//! `{{#each consumers}}...{{/each}}`), rendered far enough to read the scopes.
//!
//! Rendering never fails: whatever cannot be filled in (no variables file, a
//! variable the file does not define, a helper not supported here) becomes a
//! *hole*, a marker that parses as plain YAML text and that the checks know
//! cannot be checked. A block whose argument is unknown renders its body
//! once, so the entries it would repeat are still there, with holes.
//!
//! Supported: `{{ a.b }}`, `{{{ a }}}`, `{{this}}`, `{{this.x}}`, `{{@index}}`,
//! `{{@key}}`, `{{@root.a}}`, `{{../a}}`, `{{#each}}`, `{{#if}}`,
//! `{{#unless}}`, `{{#with}}`, `{{else}}`, comments, and standalone block
//! lines as Handlebars removes them.

use yaml_rust2::Yaml;

/// Marks a hole: `OPEN`, its number, `CLOSE`. Characters no manifest uses,
/// that YAML takes as plain text anywhere.
const OPEN: char = '\u{2045}';
const CLOSE: char = '\u{2046}';

/// The rendered text, and what each hole stands for as written.
pub(crate) struct Rendered {
    pub(crate) text: String,
    holes: Vec<String>,
}

impl Rendered {
    /// Whether `value` holds a hole.
    pub(crate) fn is_templated(value: &str) -> bool {
        value.contains(OPEN)
    }

    /// `value` with its holes shown as they were written.
    pub(crate) fn shown(&self, value: &str) -> String {
        if !Self::is_templated(value) {
            return value.to_owned();
        }
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(start) = rest.find(OPEN) {
            out.push_str(&rest[..start]);
            let after = &rest[start + OPEN.len_utf8()..];
            let Some(end) = after.find(CLOSE) else {
                out.push_str(&rest[start..]);
                return out;
            };
            match after[..end]
                .parse::<usize>()
                .ok()
                .and_then(|i| self.holes.get(i))
            {
                Some(raw) => out.push_str(raw),
                None => out.push_str(&rest[start..start + OPEN.len_utf8() + end + 1]),
            }
            rest = &after[end + CLOSE.len_utf8()..];
        }
        out.push_str(rest);
        out
    }
}

/// Renders `source` with `variables`, or without any: then every
/// expression is a hole.
pub(crate) fn render(source: &str, variables: Option<&Yaml>) -> Rendered {
    let nodes = parse(source);
    let mut rendered = Rendered {
        text: String::with_capacity(source.len()),
        holes: Vec::new(),
    };
    let root = Frame {
        this: variables.map_or(Value::Unknown, Value::Known),
        index: None,
        key: None,
        parent: None,
    };
    render_nodes(&nodes, &root, variables, &mut rendered);
    rendered
}

#[derive(Debug, PartialEq)]
enum Node {
    Text(String),
    /// `raw` is the whole tag as written, `path` what it names.
    Expr {
        raw: String,
        path: String,
    },
    Block {
        raw: String,
        helper: String,
        argument: String,
        body: Vec<Node>,
        inverse: Vec<Node>,
    },
}

enum Tag {
    Comment,
    Open { helper: String, argument: String },
    Else,
    Close,
    Expr(String),
}

fn classify(inner: &str) -> Tag {
    let inner = inner.trim_matches('~').trim();
    if inner.starts_with('!') {
        return Tag::Comment;
    }
    if let Some(open) = inner.strip_prefix('#') {
        let open = open.trim();
        let (helper, argument) = open.split_once(char::is_whitespace).unwrap_or((open, ""));
        return Tag::Open {
            helper: helper.to_owned(),
            argument: argument.trim().to_owned(),
        };
    }
    if inner.starts_with('/') {
        return Tag::Close;
    }
    if inner == "else" || inner == "^" {
        return Tag::Else;
    }
    Tag::Expr(inner.to_owned())
}

/// Blocks under construction: the open tag, its body, and its inverse once
/// `{{else}}` was seen.
struct Open {
    raw: String,
    helper: String,
    argument: String,
    body: Vec<Node>,
    inverse: Option<Vec<Node>>,
}

fn parse(source: &str) -> Vec<Node> {
    let mut stack: Vec<Open> = Vec::new();
    let mut top: Vec<Node> = Vec::new();
    fn current<'a>(stack: &'a mut [Open], top: &'a mut Vec<Node>) -> &'a mut Vec<Node> {
        match stack.last_mut() {
            Some(open) => open.inverse.as_mut().unwrap_or(&mut open.body),
            None => top,
        }
    }
    let mut rest = source;
    let mut text = String::new();
    // Whether `rest` starts a line.
    let mut line_begins = true;
    while let Some(start) = rest.find("{{") {
        let triple = rest[start..].starts_with("{{{");
        let (open_len, close) = if triple { (3, "}}}") } else { (2, "}}") };
        let Some(end) = rest[start + open_len..].find(close) else {
            break;
        };
        let inner = &rest[start + open_len..start + open_len + end];
        let raw = &rest[start..start + open_len + end + close.len()];
        let after = &rest[start + raw.len()..];
        let tag = classify(inner);
        let mut before = &rest[..start];
        let mut next = after;
        // A block tag alone on its line takes the line with it.
        if !matches!(tag, Tag::Expr(_)) {
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let at_line_start =
                before[line_start..].trim().is_empty() && (before.contains('\n') || line_begins);
            let line_end = after.find('\n');
            let to_line_end = &after[..line_end.unwrap_or(after.len())];
            if at_line_start && to_line_end.trim().is_empty() {
                before = &before[..line_start];
                next = line_end.map_or("", |i| &after[i + 1..]);
            }
        }
        line_begins = next.len() < after.len();
        text.push_str(before);
        if !text.is_empty() {
            current(&mut stack, &mut top).push(Node::Text(std::mem::take(&mut text)));
        }
        match tag {
            Tag::Comment => {}
            Tag::Expr(path) => current(&mut stack, &mut top).push(Node::Expr {
                raw: raw.to_owned(),
                path,
            }),
            Tag::Open { helper, argument } => stack.push(Open {
                raw: raw.to_owned(),
                helper,
                argument,
                body: Vec::new(),
                inverse: None,
            }),
            Tag::Else => {
                if let Some(open) = stack.last_mut() {
                    open.inverse.get_or_insert_with(Vec::new);
                }
            }
            // A close without an open is dropped: rendering never fails.
            Tag::Close => close_block(&mut stack, &mut top),
        }
        rest = next;
    }
    text.push_str(rest);
    if !text.is_empty() {
        current(&mut stack, &mut top).push(Node::Text(text));
    }
    // Blocks left open close at the end.
    while !stack.is_empty() {
        close_block(&mut stack, &mut top);
    }
    top
}

fn close_block(stack: &mut Vec<Open>, top: &mut Vec<Node>) {
    let Some(open) = stack.pop() else {
        return;
    };
    let block = Node::Block {
        raw: open.raw,
        helper: open.helper,
        argument: open.argument,
        body: open.body,
        inverse: open.inverse.unwrap_or_default(),
    };
    match stack.last_mut() {
        Some(parent) => parent
            .inverse
            .as_mut()
            .unwrap_or(&mut parent.body)
            .push(block),
        None => top.push(block),
    }
}

#[derive(Clone, Copy)]
enum Value<'v> {
    Known(&'v Yaml),
    /// No variables, a variable not defined, or a value not known here.
    Unknown,
}

struct Frame<'f, 'v> {
    this: Value<'v>,
    index: Option<usize>,
    key: Option<&'v Yaml>,
    parent: Option<&'f Frame<'f, 'v>>,
}

fn lookup<'v>(path: &str, frame: &Frame<'_, 'v>, root: Option<&'v Yaml>) -> Value<'v> {
    let path = path.trim();
    // A helper call (`{{ lower x }}`) or a literal: not rendered here.
    if path.contains(char::is_whitespace) || path.starts_with(['"', '\'']) {
        return Value::Unknown;
    }
    match path {
        // Rendered by the caller, which knows the frame's index.
        "@index" => return Value::Unknown,
        "@key" => return frame.key.map_or(Value::Unknown, Value::Known),
        _ => {}
    }
    let mut frame = frame;
    let mut path = path;
    while let Some(rest) = path.strip_prefix("../") {
        match frame.parent {
            Some(parent) => frame = parent,
            None => return Value::Unknown,
        }
        path = rest;
    }
    let (mut value, rest) = if let Some(rest) = path.strip_prefix("@root") {
        (root.map_or(Value::Unknown, Value::Known), rest)
    } else if let Some(rest) = path.strip_prefix("this") {
        (frame.this, rest)
    } else if let Some(rest) = path.strip_prefix('.') {
        (frame.this, rest)
    } else {
        (frame.this, path)
    };
    for segment in rest.split(['.', '/']).filter(|s| !s.is_empty()) {
        value = match value {
            Value::Known(Yaml::Hash(hash)) => hash
                .get(&Yaml::String(segment.to_owned()))
                .map_or(Value::Unknown, Value::Known),
            Value::Known(Yaml::Array(items)) => segment
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get(i))
                .map_or(Value::Unknown, Value::Known),
            _ => Value::Unknown,
        };
    }
    value
}

fn truthy(value: &Yaml) -> bool {
    match value {
        Yaml::Null | Yaml::BadValue | Yaml::Boolean(false) => false,
        Yaml::String(s) => !s.is_empty(),
        Yaml::Integer(i) => *i != 0,
        Yaml::Array(items) => !items.is_empty(),
        _ => true,
    }
}

fn render_nodes(nodes: &[Node], frame: &Frame<'_, '_>, root: Option<&Yaml>, out: &mut Rendered) {
    for node in nodes {
        match node {
            Node::Text(text) => out.text.push_str(text),
            Node::Expr { raw, path } => {
                let index = (path.trim() == "@index").then_some(frame.index).flatten();
                let scalar = match (index, lookup(path, frame, root)) {
                    (Some(index), _) => Some(index.to_string()),
                    (None, Value::Known(value)) => scalar(value),
                    (None, Value::Unknown) => None,
                };
                match scalar {
                    Some(text) => out.text.push_str(&text),
                    None => hole(raw, out),
                }
            }
            Node::Block {
                raw,
                helper,
                argument,
                body,
                inverse,
            } => {
                let value = lookup(argument, frame, root);
                match (helper.as_str(), value) {
                    ("each", Value::Known(Yaml::Array(items))) if !items.is_empty() => {
                        for (i, item) in items.iter().enumerate() {
                            let inner = Frame {
                                this: Value::Known(item),
                                index: Some(i),
                                key: None,
                                parent: Some(frame),
                            };
                            render_nodes(body, &inner, root, out);
                        }
                    }
                    ("each", Value::Known(Yaml::Hash(entries))) if !entries.is_empty() => {
                        for (i, (key, item)) in entries.iter().enumerate() {
                            let inner = Frame {
                                this: Value::Known(item),
                                index: Some(i),
                                key: Some(key),
                                parent: Some(frame),
                            };
                            render_nodes(body, &inner, root, out);
                        }
                    }
                    ("each", Value::Known(_)) => render_nodes(inverse, frame, root, out),
                    ("if", Value::Known(value)) | ("unless", Value::Known(value)) => {
                        let shown = truthy(value) == (helper == "if");
                        render_nodes(if shown { body } else { inverse }, frame, root, out);
                    }
                    ("with", Value::Known(value)) if truthy(value) => {
                        let inner = Frame {
                            this: Value::Known(value),
                            index: None,
                            key: None,
                            parent: Some(frame),
                        };
                        render_nodes(body, &inner, root, out);
                    }
                    ("with", Value::Known(_)) => render_nodes(inverse, frame, root, out),
                    // Not known here: the body once, where whatever it would
                    // fill in is a hole; an inline block is one hole.
                    _ => {
                        if body
                            .iter()
                            .any(|n| matches!(n, Node::Text(t) if t.contains('\n')))
                        {
                            let inner = Frame {
                                this: Value::Unknown,
                                index: None,
                                key: None,
                                parent: Some(frame),
                            };
                            render_nodes(body, &inner, root, out);
                        } else {
                            hole(raw, out);
                        }
                    }
                }
            }
        }
    }
}

fn scalar(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        Yaml::Null => Some(String::new()),
        _ => None,
    }
}

fn hole(raw: &str, out: &mut Rendered) {
    out.text
        .push_str(&format!("{OPEN}{}{CLOSE}", out.holes.len()));
    out.holes.push(raw.to_owned());
}

#[cfg(test)]
mod tests {
    use super::*;
    use yaml_rust2::YamlLoader;

    fn with(source: &str, variables: &str) -> String {
        let variables = YamlLoader::load_from_str(variables).unwrap().remove(0);
        let rendered = render(source, Some(&variables));
        rendered.shown(&rendered.text)
    }

    fn without(source: &str) -> Rendered {
        render(source, None)
    }

    #[test]
    fn variables_and_paths_are_filled_in() {
        assert_eq!(
            with("a: {{ a }}\nb: {{a}}-{{{ b.c }}}\n", "a: x\nb: { c: 3 }"),
            "a: x\nb: x-3\n"
        );
    }

    #[test]
    fn each_repeats_its_body_and_its_standalone_lines_go() {
        let source = "consumers:\n  {{#each consumers}}\n  - orgno: \"{{this.orgno}}\" # {{@index}}\n  {{/each}}\nend: {{ingress}}\n";
        assert_eq!(
            with(
                source,
                "consumers: [{orgno: '991825827'}, {orgno: '974760673'}]\ningress: x"
            ),
            "consumers:\n  - orgno: \"991825827\" # 0\n  - orgno: \"974760673\" # 1\nend: x\n"
        );
        assert_eq!(
            with("l:\n{{#each xs}}\n  - {{this}}\n{{/each}}\n", "xs: [a, b]"),
            "l:\n  - a\n  - b\n"
        );
    }

    #[test]
    fn if_unless_else_and_with() {
        assert_eq!(
            with(
                "{{#if a}}yes{{else}}no{{/if}} {{#unless a}}u{{/unless}}",
                "a: false"
            ),
            "no u"
        );
        assert_eq!(
            with("{{#with a}}{{b}} {{../c}}{{/with}}", "a: {b: 1}\nc: 2"),
            "1 2"
        );
    }

    #[test]
    fn without_variables_every_value_is_a_hole_and_each_body_stays_once() {
        let source = "host: {{ ingress }}\nconsumers:\n  {{#each consumers}}\n  - orgno: \"{{this.orgno}}\"\n  {{/each}}\n";
        let rendered = without(source);
        assert!(Rendered::is_templated(&rendered.text));
        let docs = YamlLoader::load_from_str(&rendered.text).unwrap();
        let orgno = docs[0]["consumers"][0]["orgno"].as_str().unwrap();
        assert!(Rendered::is_templated(orgno));
        assert_eq!(rendered.shown(orgno), "{{this.orgno}}");
        assert_eq!(
            rendered.shown(docs[0]["host"].as_str().unwrap()),
            "{{ ingress }}"
        );
    }

    #[test]
    fn a_variable_the_file_lacks_is_a_hole() {
        assert_eq!(with("a: {{ missing }}", "b: 1"), "a: {{ missing }}");
        let variables = YamlLoader::load_from_str("b: 1").unwrap().remove(0);
        assert!(Rendered::is_templated(
            &render("a: {{ missing }}", Some(&variables)).text
        ));
    }

    #[test]
    fn broken_templates_do_not_fail() {
        for source in [
            "{{#each a}} open",
            "{{/each}} close",
            "{{ unclosed",
            "{{else}}",
            "{{}}",
        ] {
            let _ = without(source);
            let _ = with(source, "a: [1]");
        }
        assert_eq!(with("{{ unclosed", "a: 1"), "{{ unclosed");
    }
}
