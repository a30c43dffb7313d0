//! `MaskinportenClaims` as an Actix extractor.

use actix_web::{dev::Payload, web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::{self, FutureExt, LocalBoxFuture, Shared};

use crate::{bearer, ErrorKind, Maskinporten, MaskinportenClaims, MaskinportenError};

type Outcome = Shared<LocalBoxFuture<'static, Result<MaskinportenClaims, MaskinportenError>>>;

/// The validation of this request, shared by every extractor in it.
#[derive(Clone)]
struct RequestValidation(Outcome);

impl MaskinportenClaims {
    /// Validates the request's token once; later calls within the same request,
    /// even while the first is still under way, share its outcome.
    pub(crate) fn extract_from(req: &HttpRequest) -> Outcome {
        if let Some(RequestValidation(outcome)) = req.extensions().get::<RequestValidation>() {
            return outcome.clone();
        }
        // The future owns a handle and the token, not the request: a request
        // that held a future holding the request would never be freed.
        let validation: LocalBoxFuture<'static, _> = match start(req) {
            Ok((maskinporten, token)) => {
                async move { maskinporten.validate(&token).await }.boxed_local()
            }
            Err(error) => future::ready(Err(error)).boxed_local(),
        };
        let outcome = validation.shared();
        req.extensions_mut()
            .insert(RequestValidation(outcome.clone()));
        outcome
    }
}

fn start(req: &HttpRequest) -> Result<(Maskinporten, String), MaskinportenError> {
    let maskinporten = registered(req)?;
    match bearer::bearer_token(req.headers(), maskinporten.max_token_length()) {
        Ok(token) => Ok((maskinporten.clone(), token.to_owned())),
        Err(error) => Err(error.rendered_with(maskinporten.rendering())),
    }
}

fn registered(req: &HttpRequest) -> Result<&Maskinporten, MaskinportenError> {
    if let Some(maskinporten) = req.app_data::<Maskinporten>() {
        return Ok(maskinporten);
    }
    if let Some(maskinporten) = req.app_data::<web::Data<Maskinporten>>() {
        return Ok(maskinporten.get_ref());
    }
    tracing::error!(
        path = req.path(),
        "no Maskinporten handle is registered: build one at start-up and add it with \
         `App::new().app_data(maskinporten.clone())` (or as web::Data<Maskinporten>)"
    );
    Err(MaskinportenError::new(
        ErrorKind::Misconfigured,
        "the service is not configured to validate Maskinporten tokens",
    ))
}

impl FromRequest for MaskinportenClaims {
    type Error = MaskinportenError;
    type Future = Outcome;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        MaskinportenClaims::extract_from(req)
    }
}
