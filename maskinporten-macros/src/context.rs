//! Where the attribute sits: at module level, or on an associated function
//! of an `impl` block.
//!
//! A proc macro only sees the item it is attached to, and the expansion (a
//! requirement struct beside the handler) cannot live inside an `impl`. So
//! the source file is read and the handler looked up in it: only when it is
//! found as an associated function, and nowhere as a free function, is it
//! reported as misplaced. Whenever the file cannot be read or parsed, the
//! attribute expands as it always does.
//!
//! The file is read and parsed once for all the attributes in it, while it
//! is unchanged ([`crate::cache`]), and what is kept of it is only where
//! the guarded functions are.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use syn::{ImplItem, Item};

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
    // Each file is read and parsed once while it is unchanged, not once per
    // attribute: a file of `n` handlers would otherwise cost `n` parses of
    // a file that grows with `n`. What is kept is the index, not the tree.
    static INDEXES: Cache<PathBuf, Option<Arc<Index>>> = Cache::new();
    let index = INDEXES.get(path.to_owned(), |reader| {
        let source = reader.read(path).ok()?;
        let file = syn::parse_file(&source).ok()?;
        let mut index = Index::default();
        index.items(&file.items);
        Some(Arc::new(index))
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

fn carries(attrs: &[syn::Attribute], attribute: &str) -> bool {
    attrs.iter().any(|attr| {
        attr.path()
            .segments
            .last()
            .is_some_and(|segment| segment.ident == attribute)
    })
}

impl Index {
    fn note(&mut self, attrs: &[syn::Attribute], name: &syn::Ident, in_impl: bool) {
        for (slot, attribute) in ATTRIBUTES.iter().enumerate() {
            if carries(attrs, attribute) {
                let found = &mut self.places.entry(name.to_string()).or_default()[slot];
                match in_impl {
                    true => found.in_impl = true,
                    false => found.free = true,
                }
            }
        }
    }

    fn items(&mut self, items: &[Item]) {
        for item in items {
            self.item(item);
        }
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Fn(f) => {
                self.note(&f.attrs, &f.sig.ident, false);
                // A handler nested in a function body is a free function too.
                self.block(&f.block);
            }
            Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    self.items(items);
                }
            }
            Item::Impl(i) => {
                for impl_item in &i.items {
                    if let ImplItem::Fn(f) = impl_item {
                        self.note(&f.attrs, &f.sig.ident, true);
                        self.block(&f.block);
                    }
                }
            }
            _ => {}
        }
    }

    fn block(&mut self, block: &syn::Block) {
        for stmt in &block.stmts {
            if let syn::Stmt::Item(item) = stmt {
                self.item(item);
            }
        }
    }
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
