//! Which tokens a handle takes at all: those that carry a scope this API
//! exposes.
//!
//! Maskinporten issues a token for the scopes its client asked for, and any
//! API that trusts Maskinporten would find it valid: a token an organisation
//! got for another API (and that API, which received it) could be replayed
//! here. So a handle refuses, before any guard, a token that holds none of
//! the scopes this API exposes:
//!
//! - the list given to
//!   [`exposed_scopes`](crate::MaskinportenBuilder::exposed_scopes) when
//!   there is one (usually `exposed_scopes!()`, read from the NAIS manifest);
//! - otherwise, the scopes this program's guards name: every
//!   `#[require_scope]`, `scopes![..]` and `exposed_scopes!()` literal,
//!   collected when the program is linked, and every [`Scopes`] list built
//!   at run time (`Scopes::new`) from the
//!   moment it is built;
//! - or any scope at all, after the explicit opt-out
//!   [`accept_any_scope`](crate::MaskinportenBuilder::accept_any_scope).
//!
//! [`Scopes`]: crate::Scopes

use std::{
    collections::BTreeSet,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, RwLock,
    },
};

use crate::{ErrorKind, MaskinportenClaims, MaskinportenError};

/// The scopes of one `#[require_scope]`, `scopes![..]` or `exposed_scopes!()`
/// literal list, submitted where the macro expanded and collected when the
/// program is linked.
#[doc(hidden)]
pub struct NamedScopes(pub &'static [&'static str]);

inventory::collect!(NamedScopes);

/// Scopes named by lists built at run time, and how many times the set
/// grew (the generation of [`named`]'s snapshot).
static RUNTIME: RwLock<Vec<Box<str>>> = RwLock::new(Vec::new());
static GENERATION: AtomicU64 = AtomicU64::new(0);
static SNAPSHOT: RwLock<Option<Arc<Named>>> = RwLock::new(None);

/// Notes scopes a list built at run time names. Idempotent.
pub(crate) fn name_at_run_time<'a>(scopes: impl IntoIterator<Item = &'a str>) {
    let known = named();
    let new: Vec<&str> = scopes
        .into_iter()
        .filter(|scope| !known.scopes.contains(*scope))
        .collect();
    if new.is_empty() {
        return;
    }
    let mut runtime = RUNTIME.write().unwrap_or_else(|e| e.into_inner());
    for scope in new {
        if !runtime.iter().any(|held| &**held == scope) {
            runtime.push(scope.into());
        }
    }
    GENERATION.fetch_add(1, Ordering::Release);
}

/// The scopes this program's guards name, at one generation.
pub(crate) struct Named {
    scopes: BTreeSet<Box<str>>,
    /// The `scope` of the challenge: every named scope, space-separated.
    challenge: Arc<str>,
    generation: u64,
}

/// The scopes the program names now.
pub(crate) fn named() -> Arc<Named> {
    let generation = GENERATION.load(Ordering::Acquire);
    if let Some(named) = SNAPSHOT.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        if named.generation == generation {
            return Arc::clone(named);
        }
    }
    let mut scopes: BTreeSet<Box<str>> = inventory::iter::<NamedScopes>
        .into_iter()
        .flat_map(|named| named.0.iter().map(|&scope| Box::from(scope)))
        .collect();
    scopes.extend(
        RUNTIME
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned(),
    );
    let challenge = scopes
        .iter()
        .map(|scope| &**scope)
        .collect::<Vec<_>>()
        .join(" ")
        .into();
    let named = Arc::new(Named {
        scopes,
        challenge,
        generation,
    });
    *SNAPSHOT.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&named));
    named
}

/// The scopes the program names now, for the OpenAPI document.
#[cfg(feature = "openapi")]
pub(crate) fn named_scopes() -> BTreeSet<String> {
    named()
        .scopes
        .iter()
        .map(|scope| scope.to_string())
        .collect()
}

/// The generation of the named set now: it changes only when the set grows.
pub(crate) fn current_generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// Whether a token refused under an older named set (its `scope` claim)
/// is refused under the current one too: its generation if so.
pub(crate) fn still_refused(scope_claim: &str) -> Option<u64> {
    let named = named();
    let holds_named = scope_claim
        .split(' ')
        .any(|scope| !scope.is_empty() && named.scopes.contains(scope));
    (!holds_named && !named.scopes.is_empty()).then_some(named.generation)
}

/// What a handle takes.
pub(crate) enum Exposure {
    /// Tokens holding one of these (`exposed_scopes`).
    Listed {
        scopes: Box<[Box<str>]>,
        challenge: Arc<str>,
    },
    /// Tokens holding one of the scopes this program's guards name.
    Named,
    /// Any token (`accept_any_scope`).
    Any,
}

/// Why a token was refused here.
pub(crate) enum Refused {
    /// It holds none of the exposed scopes; under [`Exposure::Named`], as of
    /// this generation of the named set.
    NotExposed(MaskinportenError, Option<u64>),
    /// The program names no scope, and the handle did not opt out.
    NothingNamed(MaskinportenError),
}

impl Exposure {
    /// Refuses a token that holds none of the exposed scopes: Maskinporten
    /// issued it for another API.
    pub(crate) fn check(&self, claims: &MaskinportenClaims) -> Result<(), Refused> {
        let (challenge, generation) = match self {
            Exposure::Any => return Ok(()),
            Exposure::Listed { scopes, challenge } => {
                if scopes.iter().any(|scope| claims.has_scope(scope)) {
                    return Ok(());
                }
                (Arc::clone(challenge), None)
            }
            Exposure::Named => {
                let named = named();
                if named.scopes.is_empty() {
                    return Err(Refused::NothingNamed(nothing_named()));
                }
                if named.scopes.iter().any(|scope| claims.has_scope(scope)) {
                    return Ok(());
                }
                (Arc::clone(&named.challenge), Some(named.generation))
            }
        };
        tracing::debug!("token refused: it holds none of the scopes the application exposes");
        Err(Refused::NotExposed(
            MaskinportenError::not_exposed(challenge),
            generation,
        ))
    }
}

const NOTHING_NAMED: &str = "no scope is named by any guard of this program, and the handle has \
    neither exposed_scopes(..) nor accept_any_scope(): every token is refused. Guard a handler \
    with #[require_scope] or RequireScope, or set the scopes the API exposes with \
    MaskinportenBuilder::exposed_scopes(exposed_scopes!())";

#[cold]
fn nothing_named() -> MaskinportenError {
    static REPORTED: AtomicBool = AtomicBool::new(false);
    if !REPORTED.swap(true, Ordering::Relaxed) {
        tracing::error!("{NOTHING_NAMED}");
        eprintln!("maskinporten-actix: ERROR: {NOTHING_NAMED}");
    }
    MaskinportenError::new(
        ErrorKind::Misconfigured,
        "the service names no scope it exposes",
    )
}
