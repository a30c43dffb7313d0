//! Where the attribute sits: at module level, or on an associated function
//! of an `impl` block.
//!
//! A proc macro only sees the item it is attached to, and the expansion (a
//! requirement struct beside the handler) cannot live inside an `impl`. So
//! the source file is read and the handler looked up in it: only when it is
//! found as an associated function, and nowhere as a free function, is it
//! reported as misplaced. Whenever the file cannot be read or parsed, the
//! attribute expands as it always does.

use std::path::Path;

use syn::{ImplItem, Item};

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
    let Ok(source) = std::fs::read_to_string(path) else {
        return false;
    };
    let Ok(file) = syn::parse_file(&source) else {
        return false;
    };
    let mut found = Found::default();
    search(&file.items, attribute, name, &mut found);
    found.in_impl && !found.free
}

#[derive(Default)]
struct Found {
    in_impl: bool,
    free: bool,
}

fn carries(attrs: &[syn::Attribute], attribute: &str) -> bool {
    attrs.iter().any(|attr| {
        attr.path()
            .segments
            .last()
            .is_some_and(|segment| segment.ident == attribute)
    })
}

fn search(items: &[Item], attribute: &str, name: &syn::Ident, found: &mut Found) {
    for item in items {
        match item {
            Item::Fn(f) if f.sig.ident == *name && carries(&f.attrs, attribute) => {
                found.free = true;
            }
            // A handler nested in a function body is a free function too.
            Item::Fn(f) => search_block(&f.block, attribute, name, found),
            Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    search(items, attribute, name, found);
                }
            }
            Item::Impl(i) => {
                for impl_item in &i.items {
                    if let ImplItem::Fn(f) = impl_item {
                        if f.sig.ident == *name && carries(&f.attrs, attribute) {
                            found.in_impl = true;
                        }
                        search_block(&f.block, attribute, name, found);
                    }
                }
            }
            _ => {}
        }
    }
}

fn search_block(block: &syn::Block, attribute: &str, name: &syn::Ident, found: &mut Found) {
    let items: Vec<Item> = block
        .stmts
        .iter()
        .filter_map(|stmt| match stmt {
            syn::Stmt::Item(item) => Some(item.clone()),
            _ => None,
        })
        .collect();
    search(&items, attribute, name, found);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(source: &str) -> bool {
        let dir = std::env::temp_dir().join(format!("maskinporten-macros-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!(
            "{:x}.rs",
            source.len() * 31 + source.bytes().map(usize::from).sum::<usize>()
        ));
        std::fs::write(&path, source).unwrap();
        let name = syn::Ident::new("afp", proc_macro2::Span::call_site());
        let found = in_impl_block_of(&path, "require_scope", &name);
        std::fs::remove_file(&path).unwrap();
        found
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
    fn an_unreadable_file_expands_as_usual() {
        let name = syn::Ident::new("afp", proc_macro2::Span::call_site());
        assert!(!in_impl_block_of(
            Path::new("/nonexistent/file.rs"),
            "require_scope",
            &name
        ));
    }
}
