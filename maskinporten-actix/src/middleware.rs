//! Guards for whole route trees: `.wrap(RequireScope::all(...))` on a
//! `web::scope`, a `web::resource` or the `App`.

use std::{rc::Rc, sync::Arc};

use actix_web::{
    body::{EitherBody, MessageBody},
    dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform},
};
use futures_util::future::{self, Either, LocalBoxFuture, MapOk, Ready, TryFutureExt};

use crate::{
    rules::{Delegation, Match, Orgnos, Rule, Scopes, Shared},
    MaskinportenClaims, MaskinportenError,
};

/// Requires scopes of every request under it: an Actix middleware for
/// `web::scope`, `web::resource` or a whole `App`.
///
/// ```
/// use actix_web::{web, App, HttpResponse};
/// use maskinporten_actix::{scopes, RequireScope};
///
/// let app = App::new().service(
///     web::scope("/afp")
///         .wrap(RequireScope::all(scopes!["nav:helse/sykepenger/afp.read"]))
///         .route("/summary", web::get().to(HttpResponse::Ok))
///         .route("/detail", web::get().to(HttpResponse::Ok)),
/// );
/// ```
///
/// Every request that reaches the middleware is judged, including those no
/// route under it matches: a caller without a token gets 401 for
/// `/afp/anything`, not a 404 that reveals which paths exist. Rejections are
/// those of `#[require_scope]` (401, 403 `insufficient_scope` with the
/// required scopes, 503), rendered by the handle's
/// [`rejection_handler`](crate::MaskinportenBuilder::rejection_handler) when
/// it has one. The token is validated once per request, however many guards
/// and extractors look at it.
///
/// The [`Maskinporten`](crate::Maskinporten) handle that judges is the one
/// registered where the middleware wraps or above: on the `web::scope` or
/// `web::resource` it wraps, else on an enclosing one, else on the `App`.
/// A handle registered further in (on a resource inside the scope it
/// wraps) is not in place yet when actix-web runs the middleware, and is
/// not consulted: an `App`-level guard judges with the `App`'s handle even
/// for a resource with a stricter one. A guard or extractor further in that
/// finds another handle nearer to it validates again with that one: no
/// handle decides for another.
#[derive(Clone)]
pub struct RequireScope {
    pub(crate) scopes: Scopes,
    pub(crate) any: bool,
}

impl RequireScope {
    /// The token must hold every one of `scopes`. For scopes read at run
    /// time, [`Scopes::new`] checks them: `Scopes::new(configured).map(RequireScope::all)`.
    pub fn all(scopes: Scopes) -> RequireScope {
        RequireScope { scopes, any: false }
    }

    /// The token must hold at least one of `scopes`.
    pub fn any(scopes: Scopes) -> RequireScope {
        RequireScope { scopes, any: true }
    }
}

/// Lets only listed consumer organisations in: an Actix middleware for
/// `web::scope`, `web::resource` or a whole `App`.
///
/// ```
/// use actix_web::{web, App, HttpResponse};
/// use maskinporten_actix::{orgnos, scopes, RequireConsumer, RequireScope};
///
/// let app = App::new().service(
///     web::scope("/afp")
///         // The last `.wrap` runs first: the scope, then the consumer.
///         .wrap(RequireConsumer::one_of(orgnos!["991825827", "974760673"]))
///         .wrap(RequireScope::all(scopes!["nav:helse/sykepenger/afp.read"]))
///         .route("/summary", web::get().to(HttpResponse::Ok)),
/// );
/// ```
///
/// The organisation the token acts for, whose data it is
/// ([`MaskinportenClaims::acting_for`]), must be on the list: the `consumer`,
/// or for an Altinn system-user token the system user's organisation
/// (`systemuser_org`), never the vendor in its `consumer`. A token whose
/// `authorization_details` cannot be read as the Altinn shape is refused.
/// It consults the handle [`RequireScope`] does: the one registered where it
/// wraps or above. An organisation that
/// is not on the list gets 403 with `{"error": "access_denied", ...}` and no
/// `WWW-Authenticate` challenge (a new token would not help); the answer
/// never names the organisations that may pass, and the refusal is logged
/// (`tracing`, level WARN) with the organisation numbers, never the token.
/// A token that is not valid gets the same rejections as `#[require_scope]`.
///
/// A delegated token (a `supplier` calls for the consumer) and a
/// system-user token (the vendor of a system calls for its customer) are
/// judged by the organisation they act for;
/// [`refuse_delegated`](Self::refuse_delegated) turns both away,
/// [`suppliers`](Self::suppliers) lets them in only from listed suppliers
/// and vendors.
#[derive(Clone)]
pub struct RequireConsumer {
    consumers: Orgnos,
    delegation: Delegation<Shared>,
}

impl RequireConsumer {
    /// The consumer must be one of `consumers`.
    /// For numbers read at run time, [`Orgnos::new`] checks them:
    /// `Orgnos::new(configured).map(RequireConsumer::one_of)`.
    pub fn one_of(consumers: Orgnos) -> RequireConsumer {
        RequireConsumer {
            consumers,
            delegation: Delegation::Allowed,
        }
    }

    /// Refuses delegated tokens (those with a `supplier` or
    /// `delegation_source`) and Altinn system-user tokens, whoever they act
    /// for: 403 `access_denied`.
    pub fn refuse_delegated(mut self) -> RequireConsumer {
        self.delegation = Delegation::Refused;
        self
    }

    /// Lets a delegated token in only when its supplier is on `suppliers`
    /// too, and a system-user token only when its vendor (its `consumer`)
    /// is; the organisation either acts for must still be on the consumer
    /// list. Tokens a consumer fetched for itself are not affected.
    pub fn suppliers(mut self, suppliers: Orgnos) -> RequireConsumer {
        self.delegation = Delegation::Suppliers(suppliers.list);
        self
    }
}

/// What a guard middleware holds: its one [`Rule`], of the lists its
/// [`Scopes`] or [`Orgnos`] share, for every worker's service.
type SharedRule = Rule<Shared>;

macro_rules! transform {
    ($guard:ty, $rule:expr) => {
        impl<S, B> Transform<S, ServiceRequest> for $guard
        where
            S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>
                + 'static,
            B: MessageBody + 'static,
        {
            type Response = ServiceResponse<EitherBody<B>>;
            type Error = actix_web::Error;
            type Transform = GuardService<S>;
            type InitError = ();
            type Future = Ready<Result<GuardService<S>, ()>>;

            fn new_transform(&self, service: S) -> Self::Future {
                #[allow(clippy::redundant_closure_call)]
                let rule = ($rule)(self);
                future::ok(GuardService {
                    service: Rc::new(service),
                    rule: Arc::new(rule),
                })
            }
        }
    };
}

transform!(RequireScope, |g: &RequireScope| SharedRule::Scopes(
    Shared::clone(&g.scopes.list),
    if g.any { Match::Any } else { Match::All }
));
transform!(
    RequireConsumer,
    |g: &RequireConsumer| SharedRule::Consumers(
        Shared::clone(&g.consumers.list),
        g.delegation.clone()
    )
);

/// The service [`RequireScope`] and [`RequireConsumer`] wrap around the
/// routes under them (their [`Transform::Transform`]): it decides on the
/// request's one validation and calls the wrapped service `S` only for a
/// request that may pass. Named here for code that composes middleware by
/// hand; built only by the two guards.
pub struct GuardService<S> {
    service: Rc<S>,
    rule: Arc<SharedRule>,
}

type Guarded<B> = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>;
/// The wrapped service's own future, its body on the left: what a guard
/// middleware (and the quota) answer with for a request that passes.
pub(crate) type Passed<S, B> = MapOk<
    <S as Service<ServiceRequest>>::Future,
    fn(ServiceResponse<B>) -> ServiceResponse<EitherBody<B>>,
>;

impl<S, B> Service<ServiceRequest> for GuardService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    /// Like the attribute's extractor: the wrapped service's own future on a
    /// cache hit, a ready rejection, a boxed future only while an
    /// introspection runs.
    type Future =
        Either<Either<Passed<S, B>, Ready<Guarded<B>>>, LocalBoxFuture<'static, Guarded<B>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        // Decided on the validation where the request keeps it, as the
        // attribute does: nothing is cloned on a cache hit.
        let decision = MaskinportenClaims::guard_decision(req.request(), |record, claims| {
            self.rule.decide(record, claims)
        });
        match decision {
            Ok(Ok(())) => Either::Left(Either::Left(pass(&self.service, req))),
            Ok(Err(rejection)) => {
                let rejection = self.rule.refine(rejection);
                Either::Left(Either::Right(future::ok(reject(req, rejection))))
            }
            Err(flight) => {
                let service = Rc::clone(&self.service);
                let rule = Arc::clone(&self.rule);
                Either::Right(Box::pin(async move {
                    let decided = MaskinportenClaims::guard_decision_after(
                        req.request(),
                        flight,
                        |record, claims| rule.decide(record, claims),
                    )
                    .await;
                    match decided {
                        Ok(()) => pass(&service, req).await,
                        Err(rejection) => Ok(reject(req, rule.refine(rejection))),
                    }
                }))
            }
        }
    }
}

pub(crate) fn pass<S, B>(service: &Rc<S>, req: ServiceRequest) -> Passed<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let left: fn(ServiceResponse<B>) -> ServiceResponse<EitherBody<B>> =
        ServiceResponse::map_into_left_body;
    service.call(req).map_ok(left)
}

/// The rejection as a response, as actix renders an extractor's error, so
/// that outer middleware (logging, metrics) sees it like the attribute's.
pub(crate) fn reject<B>(
    req: ServiceRequest,
    rejection: MaskinportenError,
) -> ServiceResponse<EitherBody<B>> {
    req.error_response(rejection).map_into_right_body()
}
