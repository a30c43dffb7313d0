//! Items a crate needs once, however many macro calls would emit them.
//!
//! Some of what the macros emit has the same effect once as once per call:
//! the items that make cargo track the manifests and the variables that
//! name them (one mention of each in the crate is what cargo needs). Repeated for every handler, they cost the compiler a share of
//! every check of the crate. The compiler process that runs the macros
//! compiles one crate and keeps every expansion it asked for, so the first
//! call emits them and the others leave them out. A process that serves
//! several crates (an editor's proc-macro server) tells them apart by the
//! crate's directory and name.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

/// A bound for a process that lives for days; past it, items are emitted
/// again, which only costs.
const CAPACITY: usize = 4096;

/// Whether the items that `key` names are the first of their kind in the
/// crate being compiled. Outside a macro call (this crate's own tests),
/// always.
pub(crate) fn first_in_crate(key: impl FnOnce() -> String) -> bool {
    static EMITTED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    if !proc_macro::is_available() {
        return true;
    }
    let krate = |name| std::env::var(name).unwrap_or_default();
    let key = format!(
        "{}\n{}\n{}",
        krate("CARGO_MANIFEST_DIR"),
        krate("CARGO_CRATE_NAME"),
        key()
    );
    let mut emitted = EMITTED.lock().unwrap_or_else(PoisonError::into_inner);
    let emitted = emitted.get_or_insert_with(HashSet::new);
    if emitted.len() >= CAPACITY {
        emitted.clear();
    }
    emitted.insert(key)
}
