//! The local strategy: the token's RS256 signature checked in-process
//! against Maskinporten's JWKS, and its claims checked as the sidecar
//! checks them.
//!
//! The algorithm is ours, not the token's: the header must say RS256 (read
//! in [`jws`](super::jws)), and the key is always used for RSASSA-PKCS1-v1_5
//! with SHA-256, so a token signed with HS256 and the public key as secret
//! can never verify.

use std::sync::Arc;

use super::{
    jwks::{KeyStore, Missing},
    jws::{self, CompactJws, Refusal},
    not_active, unavailable,
};
use crate::{claims::ClaimSet, error::MaskinportenError, observe, stats::Counters};

/// Why local validation gave no claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The token is not valid: 401.
    Refused(&'static str),
    /// No key could be had to decide: 503.
    Unavailable(&'static str),
}

impl From<Refusal> for Failure {
    fn from(Refusal(reason): Refusal) -> Self {
        Failure::Refused(reason)
    }
}

/// Verifies tokens against the keys of one JWKS.
pub(crate) struct LocalVerifier {
    pub(crate) keys: Arc<KeyStore>,
    pub(crate) leeway_secs: i64,
}

impl LocalVerifier {
    /// The verdict on a token that passed the precheck, counted.
    pub(crate) async fn check(
        &self,
        jws: CompactJws<'_>,
        counters: &Counters,
    ) -> Result<Arc<ClaimSet>, MaskinportenError> {
        match self.verify(jws).await {
            Ok(claims) => {
                observe::verified_locally(observe::Verdict::Active);
                tracing::debug!(active = true, "token verified locally");
                Ok(Arc::new(claims))
            }
            Err(Failure::Refused(reason)) => {
                observe::verified_locally(observe::Verdict::Inactive);
                tracing::debug!(reason, active = false, "token verified locally");
                Err(not_active())
            }
            Err(Failure::Unavailable(reason)) => {
                Counters::count(&counters.validator_failures);
                observe::verified_locally(observe::Verdict::Failed);
                tracing::warn!(reason, "token could not be validated");
                Err(unavailable())
            }
        }
    }

    /// The claims of a token whose signature and claims hold.
    pub(crate) async fn verify(&self, jws: CompactJws<'_>) -> Result<ClaimSet, Failure> {
        check_signature(&self.keys, &jws).await?;
        // The issuer is known once keys are (with discovery, from the same
        // document the JWKS URI came from).
        let issuer = self
            .keys
            .issuer()
            .ok_or(Failure::Unavailable("the issuer is not known yet"))?;
        let now = jws::unix_now();
        jws.precheck_claims(Some(&issuer), self.leeway_secs, now)?;
        let latest = now.saturating_add(self.leeway_secs);
        let iat = jws.seconds("iat")?.ok_or(Refusal("the token has no iat"))?;
        if iat > latest {
            return Err(Failure::Refused("the token is issued in the future"));
        }
        if jws.seconds("nbf")?.is_some_and(|nbf| nbf > latest) {
            return Err(Failure::Refused("the token is not valid yet"));
        }
        jws.claims.build().map_err(|malformed| {
            tracing::debug!(
                claim = malformed.claim,
                problem = malformed.problem,
                "a validly signed token has unusable claims"
            );
            Failure::Refused("the token's claims are unusable")
        })
    }
}

/// Whether the token is signed, RS256, by the JWKS key its `kid` names:
/// the whole of local validation's signature check, and what the
/// introspection strategy checks before it asks the sidecar.
pub(crate) async fn check_signature(
    keys: &Arc<KeyStore>,
    jws: &CompactJws<'_>,
) -> Result<(), Failure> {
    let kid = jws.rs256_kid()?;
    let key = keys.key(kid).await.map_err(|missing| match missing {
        Missing::Unknown => Failure::Refused("the JWKS holds no key with the token's kid"),
        Missing::Unavailable => Failure::Unavailable("no key set could be fetched yet"),
    })?;
    let signature = jws.signature_bytes()?;
    key.parsed
        .verify_sig(jws.signing_input.as_bytes(), &signature)
        .map_err(|_| Refusal("the signature does not verify"))?;
    Ok(())
}
