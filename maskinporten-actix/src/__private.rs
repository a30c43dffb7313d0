//! Items the `#[require_scope]` expansion names. Not a public API: no
//! stability promise, hidden from the docs.

use std::marker::PhantomData;

use actix_web::{dev::Payload, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use crate::MaskinportenClaims;

#[doc(hidden)]
pub use actix_web;

/// How the scopes of a requirement combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// The token must hold every scope.
    All,
    /// The token must hold at least one of the scopes.
    Any,
}

/// The scopes a handler requires; the macro implements it on a unit struct it
/// emits beside the handler, so the requirement costs a static slice.
pub trait ScopeRequirement: 'static {
    /// Scopes, each checked against the NAIS grammar when the macro expanded.
    const SCOPES: &'static [&'static str];
    /// All or any of [`Self::SCOPES`].
    const MATCH: Match;
}

/// The extractor the macro puts in place of a handler's arguments: it
/// authorises the request first (introspection, then the scope check) and only
/// then extracts the handler's own arguments `T`, so no body is read and no
/// other extractor runs for a caller that is not allowed in.
pub struct Guarded<R, T> {
    inner: T,
    requirement: PhantomData<R>,
}

impl<R, T> Guarded<R, T> {
    /// The handler's own arguments.
    #[inline]
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<R, T> FromRequest for Guarded<R, T>
where
    R: ScopeRequirement,
    T: FromRequest + 'static,
{
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let claims = MaskinportenClaims::extract_from(&req).await?;
            claims.check(R::SCOPES, R::MATCH == Match::Any)?;
            let inner = T::from_request(&req, &mut payload)
                .await
                .map_err(Into::into)?;
            Ok(Guarded {
                inner,
                requirement: PhantomData,
            })
        })
    }
}
