//! Which tokens a handle takes at all: those that carry a scope this API
//! exposes, as the handle was told.
//!
//! Maskinporten issues a token for the scopes its client asked for, and any
//! API that trusts Maskinporten would find it valid: a token an organisation
//! got for another API (and that API, which received it) could be replayed
//! here. So a handle refuses, before any guard, a token that holds none of
//! the scopes its builder was given in
//! [`exposed_scopes`](crate::MaskinportenBuilder::exposed_scopes) (on NAIS,
//! `exposed_scopes!()`, the manifest's list), unless the builder said
//! [`accept_any_scope`](crate::MaskinportenBuilder::accept_any_scope). One of
//! the two must be said: a handle never guesses what its API exposes, and
//! nothing outside the handle (a scope named elsewhere in the program, a list
//! built at run time) widens what it takes.

use crate::{MaskinportenClaims, MaskinportenError};

/// What a handle takes.
pub(crate) enum Exposure {
    /// Tokens holding one of these (`exposed_scopes`).
    Listed(Box<[Box<str>]>),
    /// Any token (`accept_any_scope`).
    Any,
}

impl Exposure {
    /// Refuses a token that holds none of the exposed scopes: Maskinporten
    /// issued it for another API. The refusal names no scope: a token valid
    /// for another API must not let its holder list this API's scopes.
    pub(crate) fn check(&self, claims: &MaskinportenClaims) -> Result<(), MaskinportenError> {
        match self {
            Exposure::Any => Ok(()),
            Exposure::Listed(scopes) if scopes.iter().any(|scope| claims.has_scope(scope)) => {
                Ok(())
            }
            Exposure::Listed(_) => {
                tracing::debug!(
                    "token refused: it holds none of the scopes the application exposes"
                );
                Err(MaskinportenError::not_exposed())
            }
        }
    }
}
