//! The OpenAPI document's security, derived from the guards (feature
//! `openapi`, for [utoipa](https://docs.rs/utoipa) 6).
//!
//! An API secured with Maskinporten is found and learnt from its OpenAPI
//! document. With [`MaskinportenSecurity`] among the document's modifiers,
//! the guards are the one source of what it says about security:
//!
//! ```
//! use actix_web::{get, HttpResponse, Responder};
//! use maskinporten_actix::{openapi::MaskinportenSecurity, require_scope};
//! use utoipa::OpenApi;
//!
//! #[utoipa::path(get, path = "/afp", responses((status = 200, description = "The AFP data")))]
//! #[get("/afp")]
//! #[require_scope("nav:helse/sykepenger/afp.read")]
//! async fn afp() -> impl Responder {
//!     HttpResponse::Ok().finish()
//! }
//!
//! #[derive(OpenApi)]
//! #[openapi(paths(afp), modifiers(&MaskinportenSecurity))]
//! struct ApiDoc;
//!
//! let document = serde_json::to_value(ApiDoc::openapi()).unwrap();
//! assert_eq!(
//!     document["paths"]["/afp"]["get"]["security"],
//!     serde_json::json!([{ "maskinporten": ["nav:helse/sykepenger/afp.read"] }])
//! );
//! ```
//!
//! What it writes:
//!
//! - `components.securitySchemes.maskinporten`: an `oauth2` scheme with the
//!   client-credentials flow at Maskinporten's token endpoint
//!   (`https://maskinporten.no/token`, or the one of `MASKINPORTEN_ISSUER`
//!   when it is set, as NAIS sets it), listing every scope this program's
//!   `#[require_scope]` attributes name and every scope the document's
//!   operations require. OAuth2 rather than `http` bearer because viewers (Swagger
//!   UI, Redoc, Scalar) show an OAuth2 scheme's scopes, and each
//!   operation's required scopes beside it; a bearer scheme can only say
//!   "a token". The scheme's description says how the token is really had
//!   (Maskinporten's JWT grant with the organisation's own client), since a
//!   viewer's "Authorize" button cannot mint one.
//! - For every operation whose handler carries `#[require_scope]` (matched
//!   by `operationId`, utoipa's default being the handler's name): its
//!   `security`. All of several scopes is one requirement listing them all;
//!   `any(..)` is one requirement per scope (OpenAPI's "or"). Stacked
//!   guards combine (each requirement of one with each of the other).
//! - Operations without a scope guard are left as they are.
//! - Consumer allow-lists are not in OpenAPI's model, and the organisations
//!   on them are left out on purpose: the guard never names them to a caller
//!   it refuses, and a published document should not either. An operation
//!   with `#[require_consumer]` says in its description that only some
//!   organisations may call it.
//!
//! The attributes may stand anywhere among `#[utoipa::path]` and the route
//! attribute (`#[get]`, ...): a guard written above `#[utoipa::path]` moves
//! itself below it, so utoipa still reads the handler's own arguments.
//!
//! Route trees guarded by [`RequireScope`](crate::RequireScope) middleware
//! are documented with one line,
//! [`RequireScope::document`](crate::RequireScope::document), naming the
//! tree's path prefix.
//!
//! An operation is matched to its handler by `operationId`: keep utoipa's
//! default (the handler's name) for guarded handlers. Two guarded handlers
//! of one name in different modules with different rules cannot be told
//! apart; such an operation is left without `security`, and a warning is
//! logged: give them distinct names.

use std::collections::{BTreeMap, BTreeSet};

use utoipa::openapi::{
    path::{Operation, PathItem},
    security::{ClientCredentials, Flow, OAuth2, Scopes, SecurityRequirement, SecurityScheme},
    Components, OpenApi,
};

use crate::__private::{Delegation, GuardedHandler, Match, Rule};

/// The utoipa this crate was built with, for its model types.
pub use utoipa;

/// The name of the security scheme in `components.securitySchemes`.
pub const SCHEME: &str = "maskinporten";

/// Maskinporten's token endpoint when the issuer is not configured.
const TOKEN_URL: &str = "https://maskinporten.no/token";

/// Derives the document's security from the guards; add it as
/// `#[openapi(paths(..), modifiers(&MaskinportenSecurity))]`. See the
/// [module](self) for what it writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct MaskinportenSecurity;

impl utoipa::Modify for MaskinportenSecurity {
    fn modify(&self, openapi: &mut OpenApi) {
        let handlers = handlers();
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                let Some(rules) = operation
                    .operation_id
                    .as_deref()
                    .and_then(|id| rules_of(&handlers, id))
                else {
                    continue;
                };
                let mut security: Option<Alternatives> = None;
                let mut consumers = false;
                for rule in rules {
                    match rule {
                        Rule::Scopes(scopes, match_) => {
                            let required =
                                alternatives(scopes.iter().copied(), match_ == Match::Any);
                            security = Some(match security {
                                None => required,
                                Some(held) => both(&held, &required),
                            });
                        }
                        Rule::Consumers(_, delegation) => {
                            consumers = true;
                            describe_consumers(operation, delegation);
                        }
                    }
                }
                if let Some(security) = security {
                    operation.security = Some(requirements(&security));
                } else if consumers && operation.security.is_none() {
                    // A consumer guard validates the token too: any scope
                    // this API exposes.
                    operation.security =
                        Some(vec![SecurityRequirement::new(SCHEME, Vec::<String>::new())]);
                }
            }
        }
        install_scheme(openapi, &handlers);
    }
}

impl crate::RequireScope {
    /// Documents this guard on the operations of an OpenAPI document whose
    /// path is `prefix` or lies under it (`/afp` covers `/afp` and
    /// `/afp/summary`, not `/afpx`): the one line for a route tree guarded
    /// by this middleware. A requirement the operation already has (from
    /// `#[require_scope]` on its handler) is combined with this one, as the
    /// guards combine.
    ///
    /// ```
    /// use actix_web::{get, HttpResponse, Responder};
    /// use maskinporten_actix::{openapi::MaskinportenSecurity, scopes, RequireScope};
    /// use utoipa::OpenApi;
    ///
    /// #[utoipa::path(get, path = "/afp/summary", responses((status = 200)))]
    /// #[get("/summary")]
    /// async fn summary() -> impl Responder {
    ///     HttpResponse::Ok().finish()
    /// }
    ///
    /// #[derive(OpenApi)]
    /// #[openapi(paths(summary), modifiers(&MaskinportenSecurity))]
    /// struct ApiDoc;
    ///
    /// let guard = RequireScope::all(scopes!["nav:helse/sykepenger/afp.read"]);
    /// // web::scope("/afp").wrap(guard.clone()).service(summary) in the App, and:
    /// let mut document = ApiDoc::openapi();
    /// guard.document(&mut document, "/afp");
    /// let document = serde_json::to_value(document).unwrap();
    /// assert_eq!(
    ///     document["paths"]["/afp/summary"]["get"]["security"],
    ///     serde_json::json!([{ "maskinporten": ["nav:helse/sykepenger/afp.read"] }])
    /// );
    /// ```
    pub fn document(&self, openapi: &mut OpenApi, prefix: &str) {
        let required = alternatives(self.scopes.iter(), self.any);
        for operation in operations_under(openapi, prefix) {
            let held = operation.security.as_deref().map(read_requirements);
            let combined = match held {
                Some(held) if !held.is_empty() => both(&held, &required),
                _ => required.clone(),
            };
            operation.security = Some(requirements(&combined));
        }
        install_scheme(openapi, &handlers());
    }
}

/// Alternatives of scope sets: OpenAPI's security requirements of one
/// scheme ("or" between the sets, "and" within one).
type Alternatives = Vec<BTreeSet<String>>;

fn alternatives<'a>(scopes: impl Iterator<Item = &'a str>, any: bool) -> Alternatives {
    let scopes = scopes.map(str::to_owned);
    if any {
        scopes.map(|scope| BTreeSet::from([scope])).collect()
    } else {
        vec![scopes.collect()]
    }
}

/// What satisfies both: each alternative of one with each of the other.
fn both(one: &Alternatives, other: &Alternatives) -> Alternatives {
    let mut combined: Alternatives = Vec::new();
    for a in one {
        for b in other {
            let union: BTreeSet<String> = a.union(b).cloned().collect();
            if !combined.contains(&union) {
                combined.push(union);
            }
        }
    }
    combined
}

fn requirements(alternatives: &Alternatives) -> Vec<SecurityRequirement> {
    alternatives
        .iter()
        .map(|scopes| SecurityRequirement::new(SCHEME, scopes.iter().cloned()))
        .collect()
}

/// The Maskinporten requirements an operation holds, read back.
fn read_requirements(requirements: &[SecurityRequirement]) -> Alternatives {
    requirements
        .iter()
        .filter_map(|requirement| {
            let value = serde_json::to_value(requirement).ok()?;
            let scopes = value.get(SCHEME)?.as_array()?;
            Some(
                scopes
                    .iter()
                    .filter_map(|scope| scope.as_str().map(str::to_owned))
                    .collect(),
            )
        })
        .collect()
}

/// The operations whose path is `prefix` or lies under it (`/afp` covers
/// `/afp` and `/afp/summary`, not `/afpx`): those of a route tree that a
/// middleware wraps.
pub(crate) fn operations_under<'a>(
    openapi: &'a mut OpenApi,
    prefix: &'a str,
) -> impl Iterator<Item = &'a mut Operation> {
    let prefix = prefix.trim_end_matches('/');
    openapi
        .paths
        .paths
        .iter_mut()
        .filter(move |(path, _)| {
            path.as_str() == prefix
                || prefix.is_empty()
                || path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
        .flat_map(|(_, item)| operations(item))
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
        &mut item.query,
    ]
    .into_iter()
    .flatten()
    .chain(item.additional_operations.values_mut())
}

/// The guarded handlers, by name, then module.
type Handlers = BTreeMap<&'static str, BTreeMap<&'static str, Vec<Rule>>>;

fn handlers() -> Handlers {
    let mut handlers: Handlers = BTreeMap::new();
    for handler in inventory::iter::<GuardedHandler> {
        handlers
            .entry(handler.name)
            .or_default()
            .entry(handler.module)
            .or_default()
            .push(handler.rule);
    }
    handlers
}

/// The rules of the handler whose name is `operation_id`; `None` for an
/// unguarded operation, or when handlers of that name in different modules
/// have different rules.
fn rules_of(handlers: &Handlers, operation_id: &str) -> Option<Vec<Rule>> {
    let modules = handlers.get(operation_id)?;
    let mut rules = modules.values();
    let first = rules.next()?;
    if rules.any(|other| other != first) {
        tracing::warn!(
            operation_id,
            "guarded handlers of this name in different modules have different rules: the \
             OpenAPI document leaves the operation's security unset; give them distinct names"
        );
        return None;
    }
    Some(first.clone())
}

fn describe_consumers(operation: &mut Operation, delegation: Delegation) {
    let mut note = String::from(
        "Only some organisations may call this operation: the organisation a token acts for \
         must be on the API's allow-list (ask the API's owner).",
    );
    match delegation {
        Delegation::Allowed => {}
        Delegation::Refused => {
            note.push_str(" Delegated tokens and Altinn system-user tokens are refused.")
        }
        Delegation::Suppliers(_) => note.push_str(
            " A supplier, or a system user's vendor, calling on an organisation's behalf must be \
             on an allow-list of its own.",
        ),
    }
    operation.description = Some(match operation.description.take() {
        Some(description) if !description.is_empty() => format!("{description}\n\n{note}"),
        _ => note,
    });
}

/// Puts the scheme in `components.securitySchemes`, listing every scope
/// the program's guard attributes name and every scope the document's
/// requirements name.
fn install_scheme(openapi: &mut OpenApi, handlers: &Handlers) {
    let mut scopes: BTreeSet<String> = handlers
        .values()
        .flat_map(BTreeMap::values)
        .flatten()
        .filter_map(|rule| match rule {
            Rule::Scopes(scopes, _) => Some(*scopes),
            Rule::Consumers(..) => None,
        })
        .flatten()
        .map(|scope| (*scope).to_owned())
        .collect();
    for item in openapi.paths.paths.values_mut() {
        for operation in operations(item) {
            if let Some(requirements) = operation.security.as_deref() {
                scopes.extend(read_requirements(requirements).into_iter().flatten());
            }
        }
    }
    let token_url = match std::env::var(crate::env::ISSUER) {
        Ok(issuer) if issuer.trim().starts_with("https://") => {
            format!("{}/token", issuer.trim().trim_end_matches('/'))
        }
        _ => TOKEN_URL.to_owned(),
    };
    let flow = ClientCredentials::new(
        token_url,
        Scopes::from_iter(scopes.into_iter().map(|scope| {
            let description = format!("Maskinporten scope `{scope}`");
            (scope, description)
        })),
    );
    let scheme = SecurityScheme::OAuth2(OAuth2::with_description(
        [Flow::ClientCredentials(flow)],
        "A Maskinporten access token, sent as `Authorization: Bearer <token>`. An \
         organisation gets it from Maskinporten's token endpoint with its own Maskinporten \
         client (the JWT grant, RFC 7523, signed with the client's key or business \
         certificate), for the scopes the operation lists; the API's owner must have given \
         the organisation access to them.",
    ));
    openapi
        .components
        .get_or_insert_with(Components::new)
        .add_security_scheme(SCHEME, scheme);
}
