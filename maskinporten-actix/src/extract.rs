//! `MaskinportenClaims` as an Actix extractor.

use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::{dev::Payload, web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::{self, Either, FutureExt, LocalBoxFuture, Ready, Shared};

use crate::{
    bearer, handle::Cached, observe, ErrorKind, Maskinporten, MaskinportenClaims, MaskinportenError,
};

type Validated = Result<MaskinportenClaims, MaskinportenError>;
/// A guard's decision: `Ok` lets the request through.
pub(crate) type Decided = Result<(), MaskinportenError>;
pub(crate) type InFlight = Shared<LocalBoxFuture<'static, Validated>>;

/// The validation of one request, shared by every extractor in it.
#[derive(Clone)]
pub(crate) enum RequestValidation {
    /// Decided without waiting: from the header alone, or from the cache.
    Done(Validated),
    /// An introspection under way; later extractors wait for the same one.
    InFlight(InFlight),
}

/// The future of [`MaskinportenClaims`]' extraction (its
/// [`FromRequest::Future`]): ready at once on a cache hit or a header-level
/// rejection, so the common path allocates no future; otherwise the
/// request's one validation under way, shared with every other guard and
/// extractor of the request.
///
/// Named here for code that wraps the extractor in its own:
///
/// ```
/// use actix_web::{dev::Payload, FromRequest, HttpRequest};
/// use maskinporten_actix::{dev::ClaimsFuture, MaskinportenClaims};
///
/// fn claims(req: &HttpRequest) -> ClaimsFuture {
///     MaskinportenClaims::from_request(req, &mut Payload::None)
/// }
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct ClaimsFuture(Either<Ready<Validated>, InFlight>);

impl std::future::Future for ClaimsFuture {
    type Output = Result<MaskinportenClaims, MaskinportenError>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        self.get_mut().0.poll_unpin(cx)
    }
}

impl RequestValidation {
    /// The validation as the request's record first sees it.
    fn seen(&self) -> observe::Seen<'_, InFlight> {
        match self {
            RequestValidation::Done(outcome) => observe::Seen::Done(match outcome {
                Ok(claims) => Ok(claims),
                Err(error) => Err(error.kind()),
            }),
            RequestValidation::InFlight(flight) => observe::Seen::InFlight(flight),
        }
    }

    /// The outcome when there is one, or the introspection still under way.
    pub(crate) fn outcome(&self) -> Result<&Validated, &InFlight> {
        match self {
            RequestValidation::Done(outcome) => Ok(outcome),
            RequestValidation::InFlight(flight) => flight.peek().ok_or(flight),
        }
    }
}

impl observe::ActsFor for MaskinportenClaims {
    fn acting_for_orgno(&self) -> Option<&str> {
        self.acting_for()
            .and_then(|organization| organization.orgno())
    }
}

impl observe::Pending for InFlight {
    fn settled(&self, orgno: &mut dyn FnMut(&str)) -> Option<Result<(), ErrorKind>> {
        match self.peek()? {
            Ok(claims) => {
                if let Some(acting_for) = observe::ActsFor::acting_for_orgno(claims) {
                    orgno(acting_for);
                }
                Some(Ok(()))
            }
            Err(error) => Some(Err(error.kind())),
        }
    }
}

/// What a request keeps of its validation, in one extension: the outcome
/// every extractor and guard of the request shares, and the record that
/// settles its metrics and span when the request ends (`None` when neither
/// is on; boxed, so that a request without one moves no more than the
/// validation).
///
/// A validation belongs to the handle that made it: a guard or extractor
/// that resolves to another handle (one registered nearer to it) validates
/// again with that handle, and its validation is kept in `others`. So a
/// request is validated once per handle, and no handle decides for another.
pub(crate) struct Kept {
    handle: HandleId,
    validation: RequestValidation,
    record: Option<Box<observe::Record>>,
    others: Vec<Kept>,
}

impl Kept {
    fn of(&self, handle: HandleId) -> Option<&Kept> {
        if self.handle == handle {
            return Some(self);
        }
        self.others.iter().find(|kept| kept.handle == handle)
    }
}

/// Which handle a validation belongs to: the address of the handle's shared
/// state, which lives as long as the app data that holds it. No handle
/// (the request answers 500) is 0.
type HandleId = usize;

impl MaskinportenClaims {
    /// Validates the request's token once; later calls within the same request,
    /// even while the first is still under way, share its outcome.
    pub(crate) fn validation(req: &HttpRequest) -> RequestValidation {
        Self::with_validation(req, |validation, _| match validation.outcome() {
            Ok(outcome) => RequestValidation::Done(outcome.clone()),
            Err(flight) => RequestValidation::InFlight(flight.clone()),
        })
    }

    /// Runs `f` on the request's one validation and its record, made first
    /// (and then kept in the request's extensions) when no extractor has
    /// asked yet; `f` only borrows them, so a guard that only decides
    /// clones nothing, and notes its decision on the record in hand.
    pub(crate) fn with_validation<O>(
        req: &HttpRequest,
        f: impl FnOnce(&RequestValidation, Option<&observe::Record>) -> O,
    ) -> O {
        let handle = registered(req);
        let id = handle.as_ref().map_or(0, |handle| handle.id());
        let found = handle.as_ref().ok().copied();
        if let Some(kept) = req.extensions().get::<Kept>().and_then(|kept| kept.of(id)) {
            return f(&kept.validation, kept.record.as_deref());
        }
        let start = observe::Start::if_wanted();
        let validation = Self::validate(handle, req, start.as_ref());
        let record = start.and_then(|start| {
            start.record(found.map(Maskinporten::strategy_name), validation.seen())
        });
        // `f` sees the validation before it is stored: one look-up, no clone.
        let out = f(&validation, record.as_deref());
        let kept = Kept {
            handle: id,
            validation,
            record,
            others: Vec::new(),
        };
        let mut extensions = req.extensions_mut();
        match extensions.get_mut::<Kept>() {
            Some(first) => first.others.push(kept),
            None => {
                extensions.insert(kept);
            }
        }
        out
    }

    /// A guard's decision on the request's validation: `decide`'s on the
    /// claims (which notes it on the request's record), or the rejection
    /// the validation itself came to. `Err` holds the introspection still
    /// under way, for [`guard_decision_after`](Self::guard_decision_after).
    /// Every guard form decides here: the attribute and the middleware.
    pub(crate) fn guard_decision(
        req: &HttpRequest,
        decide: impl FnOnce(Option<&observe::Record>, &MaskinportenClaims) -> Decided,
    ) -> Result<Decided, InFlight> {
        Self::with_validation(req, |validation, record| match validation.outcome() {
            Ok(Ok(claims)) => Ok(decide(record, claims)),
            Ok(Err(rejection)) => Ok(Err(rejection.clone())),
            Err(flight) => Err(flight.clone()),
        })
    }

    /// The guard's decision once the introspection under way answers.
    pub(crate) async fn guard_decision_after(
        req: &HttpRequest,
        flight: InFlight,
        decide: impl FnOnce(Option<&observe::Record>, &MaskinportenClaims) -> Decided,
    ) -> Decided {
        let claims = flight.await?;
        Self::with_validation(req, |_, record| decide(record, &claims))
    }

    fn validate(
        handle: Result<&Maskinporten, MaskinportenError>,
        req: &HttpRequest,
        start: Option<&observe::Start>,
    ) -> RequestValidation {
        let maskinporten = match handle {
            Ok(maskinporten) => maskinporten,
            Err(error) => return RequestValidation::Done(Err(error)),
        };
        // A cache hit needs no character checks: a cached token passed them
        // when it was first seen (see `bearer::unchecked_token`).
        let key = match bearer::unchecked_token(req.headers()).map(|t| maskinporten.cached(t)) {
            Some(Cached::Claims(claims)) => return RequestValidation::Done(Ok(claims)),
            Some(Cached::Refused(error)) => return RequestValidation::Done(Err(error)),
            Some(Cached::Missed(key)) => key,
            None => None,
        };
        match bearer::bearer_token(req.headers(), maskinporten.max_token_length()) {
            Err(error) => {
                RequestValidation::Done(Err(error.rendered_with(maskinporten.rendering())))
            }
            Ok(token) => {
                // The future owns a handle and the token, not the request: a
                // request holding a future that holds the request would never
                // be freed. The key was computed from these same bytes:
                // `bearer_token` accepts only what `unchecked_token` reads
                // alike.
                let maskinporten = maskinporten.clone();
                let token = token.to_owned();
                let flight = async move { maskinporten.validate_missed(&token, key).await };
                let flight = match start {
                    Some(start) => start.instrument(flight).boxed_local(),
                    None => flight.boxed_local(),
                };
                RequestValidation::InFlight(flight.shared())
            }
        }
    }

    pub(crate) fn extract_from(req: &HttpRequest) -> ClaimsFuture {
        ClaimsFuture(match Self::validation(req) {
            RequestValidation::Done(outcome) => Either::Left(future::ready(outcome)),
            RequestValidation::InFlight(flight) => Either::Right(flight),
        })
    }
}

const NO_HANDLE: &str = "no Maskinporten handle is registered: build one at start-up and add it \
    with `App::new().app_data(maskinporten.clone())` (or as web::Data<Maskinporten>)";

const TWO_FORMS: &str = "two different Maskinporten handles are registered above one route, one \
    as a plain `Maskinporten` and one as `web::Data<Maskinporten>`: actix-web does not tell which \
    of the two is nearer the route, so neither decides; register every handle in one form";

/// The handle nearest the handler: actix-web looks in the resource's app
/// data, then the enclosing scopes', then the `App`'s, and the first that
/// holds one answers. Both registration forms are looked for; when each
/// finds a handle and the two differ, actix-web gives no way to tell which
/// was registered nearer, and the request is refused (500) rather than
/// judged by a handle that may be the outer, weaker one.
pub(crate) fn registered(req: &HttpRequest) -> Result<&Maskinporten, MaskinportenError> {
    let plain = req.app_data::<Maskinporten>();
    let data = req
        .app_data::<web::Data<Maskinporten>>()
        .map(|data| data.get_ref());
    match (plain, data) {
        (Some(handle), None) | (None, Some(handle)) => Ok(handle),
        (Some(plain), Some(data)) if plain.id() == data.id() => Ok(plain),
        (Some(_), Some(_)) => Err(misconfigured(req, TWO_FORMS, &TWO_FORMS_REPORTED)),
        (None, None) => Err(misconfigured(req, NO_HANDLE, &NO_HANDLE_REPORTED)),
    }
}

static NO_HANDLE_REPORTED: AtomicBool = AtomicBool::new(false);
static TWO_FORMS_REPORTED: AtomicBool = AtomicBool::new(false);

#[cold]
fn misconfigured(req: &HttpRequest, problem: &str, reported: &AtomicBool) -> MaskinportenError {
    tracing::error!(path = req.path(), "{problem}");
    // An application without a tracing subscriber would see only 500s:
    // say it on standard error too, once per process.
    if !reported.swap(true, Ordering::Relaxed) {
        eprintln!(
            "maskinporten-actix: ERROR: {problem} (every guarded request answers 500 until then)"
        );
    }
    MaskinportenError::new(
        ErrorKind::Misconfigured,
        "the service is not configured to validate Maskinporten tokens",
    )
}

impl FromRequest for MaskinportenClaims {
    type Error = MaskinportenError;
    type Future = ClaimsFuture;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        MaskinportenClaims::extract_from(req)
    }
}
