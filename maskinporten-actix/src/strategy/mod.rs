//! How a token is checked, behind one interface: [`Strategy::check`] takes
//! a token the handle has not seen (or no longer holds) and gives its claims
//! or its rejection. The handle, the cache, the claims and the rejections do
//! not know which strategy answered.
//!
//! - [`introspection`]: the NAIS sidecar (Texas) judges the token, over
//!   HTTP, with a bound on the introspections in flight.
//! - [`local`]: the token's RS256 signature is checked here against
//!   Maskinporten's key set ([`jwks`]), and its claims as the sidecar checks
//!   them.
//! - [`jws`]: the compact JWS both read, and the checks that need neither a
//!   key nor the network ([`Precheck`]).

pub(crate) mod introspection;
pub(crate) mod jwks;
pub(crate) mod jws;
pub(crate) mod local;

use std::sync::Arc;

use crate::{
    claims::ClaimSet,
    error::{ErrorKind, MaskinportenError},
    stats::Counters,
};

/// How a token is checked: by the sidecar, or here against Maskinporten's
/// JWKS.
pub(crate) enum Strategy {
    Introspection(introspection::Sidecar),
    Local(local::LocalVerifier),
}

impl Strategy {
    /// The claims of a token the strategy finds valid, or its rejection:
    /// `invalid_token` (401) for a token at fault, `validator_unavailable`
    /// (503) when it could not be decided. The checks that need neither a
    /// key nor the network come first, whatever the strategy.
    pub(crate) async fn check(
        &self,
        precheck: &Precheck,
        token: &str,
        counters: &Counters,
    ) -> Result<Arc<ClaimSet>, MaskinportenError> {
        let jws = match precheck.check(token) {
            Ok(jws) => jws,
            Err(jws::Refusal(reason)) => {
                Counters::count(&counters.refused_unasked);
                tracing::debug!(reason, "token refused without asking the validator");
                return Err(not_active());
            }
        };
        match self {
            Strategy::Local(verifier) => verifier.check(jws, counters).await,
            Strategy::Introspection(sidecar) => sidecar.check(token, jws, counters).await,
        }
    }

    /// Whether concurrent first requests with one token should wait for one
    /// check: yes for the sidecar (a round trip, and a permit of a bounded
    /// pool); no for local validation, whose check (a signature verify)
    /// costs less than the cache's single-flight bookkeeping.
    pub(crate) fn shares_checks(&self) -> bool {
        matches!(self, Strategy::Introspection(_))
    }

    /// The strategy's name, for the validation span.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Strategy::Introspection(_) => "introspection",
            Strategy::Local(_) => "local",
        }
    }

    /// What the strategy asks, for the handle's `Debug`: a setting's name
    /// and its URL, without credentials or query.
    pub(crate) fn describe(&self) -> (&'static str, String) {
        match self {
            Strategy::Introspection(sidecar) => (
                "introspection_endpoint",
                crate::http::redacted(sidecar.introspector.endpoint()),
            ),
            Strategy::Local(verifier) => verifier.keys.describe(),
        }
    }
}

/// The checks that need neither a key nor the network: a compact JWS signed
/// RS256 with a `kid`, an `exp` not passed beyond the leeway, and the issuer
/// when it is known. A token that fails them is one the sidecar would refuse.
pub(crate) struct Precheck {
    pub(crate) issuer: Option<Box<str>>,
    pub(crate) leeway_secs: i64,
}

impl Precheck {
    fn check<'t>(&self, token: &'t str) -> Result<jws::CompactJws<'t>, jws::Refusal> {
        jws::precheck(
            token,
            self.issuer.as_deref(),
            self.leeway_secs,
            jws::unix_now(),
        )
    }
}

/// The rejection of a token either strategy found at fault.
fn not_active() -> MaskinportenError {
    MaskinportenError::new(ErrorKind::InvalidToken, "the access token is not active")
}

/// The rejection of a token neither strategy could decide on: not the
/// caller's fault.
fn unavailable() -> MaskinportenError {
    MaskinportenError::new(
        ErrorKind::ValidatorUnavailable,
        "the access token could not be validated right now",
    )
}
