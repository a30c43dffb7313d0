//! The claims of a validated Maskinporten token: the public accessors
//! ([`MaskinportenClaims`]) over the claim set the cache holds ([`set`]),
//! built by the payload reader ([`payload`]), with the organisations a
//! token names ([`organization`]).

mod organization;
mod payload;
mod set;

use std::{
    collections::BTreeSet,
    fmt,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{ErrorKind, MaskinportenError, Rendering};

use organization::Details;
pub use organization::{Organization, SystemUser};
pub(crate) use payload::ClaimSetBuilder;
pub(crate) use set::ClaimSet;
use set::{CLIENT_ID, CONSUMER, ISS, JTI, SUPPLIER};

/// The claims of a validated Maskinporten token, and the extractor that
/// provides them.
///
/// As a handler argument it reads `Authorization: Bearer <token>`, has the
/// [`Maskinporten`](crate::Maskinporten) handle registered nearest the
/// handler validate it (the resource's, else an enclosing scope's, else the
/// `App`'s; `#[require_scope]` and `#[require_consumer]` consult the same
/// one), and rejects the request with a [`MaskinportenError`] when it
/// cannot.
/// The outcome is kept in the request's extensions, so any number of these
/// extractors and `#[require_scope]` in one request validate once.
///
/// ```
/// use actix_web::{get, HttpResponse, Responder};
/// use maskinporten_actix::MaskinportenClaims;
///
/// #[get("/whoami")]
/// async fn whoami(claims: MaskinportenClaims) -> impl Responder {
///     let orgno = claims.consumer().and_then(|c| c.orgno()).unwrap_or("unknown");
///     HttpResponse::Ok().body(format!("called by {orgno}"))
/// }
/// ```
///
/// Cloning is cheap. `Debug` shows who called and with which scopes; the token
/// itself is never kept.
#[derive(Clone)]
pub struct MaskinportenClaims {
    claims: Arc<ClaimSet>,
    rendering: Arc<Rendering>,
}

impl MaskinportenClaims {
    pub(crate) fn new(claims: Arc<ClaimSet>, rendering: Arc<Rendering>) -> Self {
        MaskinportenClaims { claims, rendering }
    }

    /// The scopes granted to the token: the `scope` claim split on spaces
    /// (U+0020, the only separator RFC 6749 §3.3 allows).
    pub fn scopes(&self) -> BTreeSet<&str> {
        self.scope_iter().collect()
    }

    fn scope_iter(&self) -> impl Iterator<Item = &str> {
        // Only U+0020 separates scopes: a tab, line feed or form feed is part
        // of a (malformed) scope and never makes two scopes out of one.
        self.claims
            .scope()
            .split(' ')
            .filter(|scope| !scope.is_empty())
    }

    /// Whether the token holds exactly this scope (whole scope, case-sensitive:
    /// `afp.read` is not `afp.readwrite`).
    pub fn has_scope(&self, scope: &str) -> bool {
        let wanted = scope.as_bytes();
        // No piece is empty or holds a space.
        if wanted.is_empty() || wanted.contains(&b' ') {
            return false;
        }
        self.holds_piece(wanted)
    }

    /// Whether a piece of the `scope` claim is exactly `wanted`, which is
    /// neither empty nor holds a space (a valid scope name never does):
    /// compared at the start of each piece, skipping to the next space on a
    /// mismatch, without the split iterator. Every guarded request asks
    /// this, with names checked when the guard was built.
    fn holds_piece(&self, wanted: &[u8]) -> bool {
        debug_assert!(!wanted.is_empty() && !wanted.contains(&b' '));
        let mut rest = self.claims.scope().as_bytes();
        loop {
            if rest.starts_with(wanted) && rest.get(wanted.len()).is_none_or(|&b| b == b' ') {
                return true;
            }
            match rest.iter().position(|&b| b == b' ') {
                Some(space) => rest = &rest[space + 1..],
                None => return false,
            }
        }
    }

    /// The raw `scope` claim.
    pub fn scope_claim(&self) -> &str {
        self.claims.scope()
    }

    /// Rejects with 403 `insufficient_scope` unless the token holds every one
    /// of `scopes`. Each scope must be a valid NAIS scope name; an invalid one
    /// is a bug in the application and answers 500.
    ///
    /// For scopes known when the code is written, prefer `#[require_scope]`,
    /// which checks the names when the code compiles.
    pub fn require_all(&self, scopes: &[&str]) -> Result<(), MaskinportenError> {
        self.require(scopes, false)
    }

    /// Rejects with 403 `insufficient_scope` unless the token holds at least
    /// one of `scopes`. See [`require_all`](Self::require_all).
    pub fn require_any(&self, scopes: &[&str]) -> Result<(), MaskinportenError> {
        self.require(scopes, true)
    }

    fn require(&self, scopes: &[&str], any: bool) -> Result<(), MaskinportenError> {
        if scopes.is_empty() {
            tracing::error!("a handler required an empty list of Maskinporten scopes");
            return Err(empty_requirement().rendered_with(&self.rendering));
        }
        for scope in scopes {
            if let Err(error) = maskinporten_names::validate(scope) {
                tracing::error!(%error, "a handler required an invalid Maskinporten scope");
                return Err(MaskinportenError::new(
                    ErrorKind::Misconfigured,
                    "the service required an invalid scope",
                )
                .rendered_with(&self.rendering));
            }
        }
        self.check(scopes, any)
    }

    /// The scope check behind `#[require_scope]` and `RequireScope`: the
    /// names were validated when the macro expanded or the list was built.
    /// An empty requirement refuses: a guard never fails open.
    pub(crate) fn check<S: AsRef<str>>(
        &self,
        scopes: &[S],
        any: bool,
    ) -> Result<(), MaskinportenError> {
        if scopes.is_empty() {
            return Err(empty_requirement().rendered_with(&self.rendering));
        }
        // Valid names (see above) hold no space: no need to look for one.
        let granted = |scope: &S| {
            let wanted = scope.as_ref().as_bytes();
            !wanted.is_empty() && self.holds_piece(wanted)
        };
        let allowed = if any {
            scopes.iter().any(granted)
        } else {
            scopes.iter().all(granted)
        };
        if allowed {
            return Ok(());
        }
        let description = if any {
            crate::error::SCOPE_NONE_OF
        } else {
            crate::error::SCOPE_LACKING
        };
        let required: Vec<&str> = scopes.iter().map(AsRef::as_ref).collect();
        Err(
            MaskinportenError::insufficient_scope(required.join(" ").into(), description)
                .rendered_with(&self.rendering),
        )
    }

    /// `error` as this handle renders it (realm, rejection handler).
    pub(crate) fn render(&self, error: MaskinportenError) -> MaskinportenError {
        error.rendered_with(&self.rendering)
    }

    /// The `consumer` claim, as issued: the organisation whose Maskinporten
    /// client got the token (for a delegated token, the one whose data it
    /// is).
    ///
    /// For an Altinn system-user token this is the *vendor* of the system,
    /// not the organisation the system user acts for: to decide who may see
    /// what, use [`acting_for`](Self::acting_for), which is what
    /// `#[require_consumer]` and [`RequireConsumer`](crate::RequireConsumer)
    /// judge.
    pub fn consumer(&self) -> Option<Organization<'_>> {
        self.claims.organization(CONSUMER)
    }

    /// The organisation the token acts for, whose data it is: for an Altinn
    /// system-user token (see [`is_system_user`](Self::is_system_user)) the
    /// system user's organisation (`systemuser_org`), otherwise the
    /// [`consumer`](Self::consumer).
    ///
    /// `authorization_details` is read strictly: where it is present but not
    /// an array of objects each with a string `type`, holds more than one
    /// `urn:altinn:systemuser` entry, or its system-user entry names no
    /// organisation of authority `iso6523-actorid-upis`, the token acts for
    /// nobody known: `None`, never the vendor in `consumer`, and the
    /// consumer allow-lists refuse it. Entries of other types (a consent,
    /// say) leave the token acting for its `consumer`. This is the
    /// organisation the consumer allow-lists judge; compare it with your own
    /// allow-lists too.
    ///
    /// ```
    /// # fn f(claims: maskinporten_actix::MaskinportenClaims) {
    /// let orgno = claims.acting_for().and_then(|o| o.orgno()).unwrap_or("unknown");
    /// if claims.is_system_user() {
    ///     // `consumer()` is the vendor of the system the customer uses.
    ///     let vendor = claims.consumer().and_then(|o| o.orgno()).unwrap_or("unknown");
    ///     println!("system user of {orgno}, through a system of {vendor}");
    /// } else {
    ///     println!("called for {orgno}");
    /// }
    /// # }
    /// ```
    pub fn acting_for(&self) -> Option<Organization<'_>> {
        match self.claims.details() {
            Details::None => self.consumer(),
            Details::SystemUser(_, organization) => Some(organization),
            Details::Unreadable(_) => None,
        }
    }

    /// [`acting_for`](Self::acting_for) and
    /// [`is_system_user`](Self::is_system_user) from one look at the
    /// claims, for the consumer guards; `Err` says why
    /// `authorization_details` cannot be read.
    pub(crate) fn acting_for_system_user(
        &self,
    ) -> Result<(Option<Organization<'_>>, bool), &'static str> {
        match self.claims.details() {
            Details::None => Ok((self.consumer(), false)),
            Details::SystemUser(_, organization) => Ok((Some(organization), true)),
            Details::Unreadable(reason) => Err(reason),
        }
    }

    /// Whether the token was issued for an Altinn system user: it carries an
    /// `authorization_details` entry of type `urn:altinn:systemuser` (see
    /// [`system_user`](Self::system_user)). Its `consumer` is then the
    /// vendor of the system, and [`acting_for`](Self::acting_for) the
    /// customer it acts for.
    ///
    /// Also `true` where `authorization_details` cannot be read (see
    /// [`acting_for`](Self::acting_for)): such a token cannot be shown not
    /// to be one, so code that trusts `consumer` only for other tokens
    /// does not trust it for this one.
    ///
    /// ```
    /// # fn f(claims: maskinporten_actix::MaskinportenClaims) {
    /// let kind = if claims.is_system_user() {
    ///     "system user"
    /// } else if claims.is_delegated() {
    ///     "delegated"
    /// } else {
    ///     "own"
    /// };
    /// println!("a token of kind {kind}");
    /// # }
    /// ```
    pub fn is_system_user(&self) -> bool {
        !matches!(self.claims.details(), Details::None)
    }

    /// The organisation that called on the consumer's behalf, when the token
    /// was delegated (`supplier`). The consumer is then the organisation whose
    /// data it is.
    pub fn supplier(&self) -> Option<Organization<'_>> {
        self.claims.organization(SUPPLIER)
    }

    /// Where the delegation behind a delegated token comes from
    /// (`delegation_source`, an Altinn URL), when the token carries one.
    pub fn delegation_source(&self) -> Option<&str> {
        self.claims
            .other
            .as_ref()?
            .get("delegation_source")?
            .as_str()
    }

    /// Whether a supplier called on the consumer's behalf: the token carries
    /// a `supplier` or a `delegation_source` claim (of any shape, so that a
    /// malformed one still counts as delegated).
    ///
    /// An Altinn system-user token is not delegated in this sense (see
    /// [`is_system_user`](Self::is_system_user)); the delegation options of
    /// the consumer allow-lists treat it as delegated all the same, its
    /// vendor in the place of a supplier.
    pub fn is_delegated(&self) -> bool {
        self.supplier().is_some()
            || self.claims.other.as_ref().is_some_and(|other| {
                other.contains_key("supplier") || other.contains_key("delegation_source")
            })
    }

    /// The Altinn system user the token was issued for: the one
    /// `authorization_details` entry of type `urn:altinn:systemuser`, when
    /// the claim reads strictly (see [`acting_for`](Self::acting_for)).
    ///
    /// The fields are read in every spelling the documentation uses
    /// (`systemuser_org` or `systemuserorg` with `ID` or `id`, and
    /// `authority` `iso6523-actorid-upis`; `systemuser_id` or `systemuserid`
    /// as an array or one string; `system_id`). Entries of other types are
    /// ignored.
    ///
    /// ```
    /// # fn f(claims: maskinporten_actix::MaskinportenClaims) {
    /// if let Some(user) = claims.system_user() {
    ///     let org = user.organization().and_then(|o| o.orgno()).unwrap_or("unknown");
    ///     println!("system user {:?} of {org}", user.ids());
    /// }
    /// # }
    /// ```
    pub fn system_user(&self) -> Option<SystemUser> {
        match self.claims.details() {
            Details::SystemUser(entry, organization) => {
                Some(SystemUser::from_entry(entry, organization))
            }
            Details::None | Details::Unreadable(_) => None,
        }
    }

    /// The Maskinporten client that got the token (`client_id`).
    pub fn client_id(&self) -> Option<&str> {
        self.claims.string(CLIENT_ID)
    }

    /// The issuer (`iss`), e.g. `https://maskinporten.no/`.
    pub fn issuer(&self) -> &str {
        self.claims.string(ISS).unwrap_or_default()
    }

    /// When the token expires (`exp`).
    pub fn expires_at(&self) -> SystemTime {
        unix_time(self.claims.expires_at)
    }

    /// When the token was issued (`iat`).
    pub fn issued_at(&self) -> SystemTime {
        unix_time(self.claims.issued_at)
    }

    /// The token's unique id (`jti`).
    pub fn jwt_id(&self) -> Option<&str> {
        self.claims.string(JTI)
    }

    /// Any claim by name, as the validator returned it (`client_amr`,
    /// `token_type`, `aud`, `authorization_details`, ...).
    pub fn claim(&self, name: &str) -> Option<Value> {
        self.claims.get(name)
    }

    /// All claims, deserialized into the application's own type.
    ///
    /// ```
    /// # fn f(claims: maskinporten_actix::MaskinportenClaims) -> Result<(), serde_json::Error> {
    /// #[derive(serde::Deserialize)]
    /// struct Mine {
    ///     client_amr: String,
    ///     pid: Option<String>,
    /// }
    /// let mine: Mine = claims.deserialize()?;
    /// # Ok(()) }
    /// ```
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(Value::Object(self.claims.to_map()))
    }

    /// All claims as one JSON object.
    pub fn to_json(&self) -> Map<String, Value> {
        self.claims.to_map()
    }
}

/// A requirement of no scopes at all is a programming or configuration error:
/// it answers 500 rather than letting every token in.
fn empty_requirement() -> MaskinportenError {
    MaskinportenError::new(
        ErrorKind::Misconfigured,
        "the service required an empty list of scopes",
    )
}

fn unix_time(seconds: i64) -> SystemTime {
    if seconds >= 0 {
        UNIX_EPOCH + Duration::from_secs(seconds as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs())
    }
}

impl fmt::Debug for MaskinportenClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaskinportenClaims")
            .field("consumer", &self.consumer())
            .field("supplier", &self.supplier())
            .field("client_id", &self.client_id())
            .field("scope", &self.scope_claim())
            .field("exp", &self.claims.expires_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use organization::SYSTEM_USER_TYPE;

    fn claims_of(set: Value) -> MaskinportenClaims {
        let set = ClaimSet::from_claims(set.as_object().unwrap().clone()).unwrap();
        MaskinportenClaims::new(Arc::new(set), Arc::default())
    }

    #[test]
    fn a_system_user_acts_for_its_organisation_never_for_the_vendor() {
        let vendor =
            serde_json::json!({"authority": "iso6523-actorid-upis", "ID": "0192:991825827"});
        let token = |details: Option<Value>| {
            let mut set = serde_json::json!({"iss": "i", "exp": 2, "iat": 1, "consumer": vendor});
            if let Some(details) = details {
                set["authorization_details"] = details;
            }
            claims_of(set)
        };
        fn orgno(claims: &MaskinportenClaims) -> Option<&str> {
            claims.acting_for().and_then(|o| o.orgno())
        }

        let own = token(None);
        assert!(!own.is_system_user());
        assert_eq!(own.acting_for(), own.consumer());
        assert_eq!(orgno(&own), Some("991825827"));

        let customer =
            serde_json::json!({"authority": "iso6523-actorid-upis", "ID": "0192:974760673"});
        // Read strictly: the customer.
        for details in [
            serde_json::json!([{"type": SYSTEM_USER_TYPE, "systemuser_org": customer}]),
            serde_json::json!([{"type": SYSTEM_USER_TYPE, "systemuserorg": {"authority": "iso6523-actorid-upis", "id": "0192:974760673"}}]),
            serde_json::json!([
                {"type": "urn:altinn:resource", "systemuser_org": vendor},
                {"type": SYSTEM_USER_TYPE, "systemuser_org": customer},
            ]),
        ] {
            let claims = token(Some(details.clone()));
            assert!(claims.is_system_user(), "{details}");
            assert_eq!(orgno(&claims), Some("974760673"), "{details}");
            assert_eq!(
                claims.acting_for(),
                claims.system_user().unwrap().organization(),
                "{details}"
            );
            assert!(claims.acting_for_system_user().is_ok(), "{details}");
            assert_eq!(claims.consumer().and_then(|o| o.orgno()), Some("991825827"));
        }

        // Present, but not the Altinn shape: nobody known, never the vendor,
        // and the consumer guards refuse it.
        for details in [
            serde_json::json!({"type": SYSTEM_USER_TYPE, "systemuser_org": customer}),
            serde_json::json!("urn:altinn:systemuser"),
            serde_json::json!([[{"type": SYSTEM_USER_TYPE, "systemuser_org": customer}]]),
            serde_json::json!([{"systemuser_org": customer}]),
            serde_json::json!([{"type": 7, "systemuser_org": customer}]),
            serde_json::json!([{"type": SYSTEM_USER_TYPE, "systemuser_org": customer}, "x"]),
            serde_json::json!([
                {"type": SYSTEM_USER_TYPE, "systemuser_org": customer},
                {"type": SYSTEM_USER_TYPE, "systemuser_org": customer},
            ]),
            serde_json::json!([{"type": SYSTEM_USER_TYPE}]),
            serde_json::json!([{"type": SYSTEM_USER_TYPE, "systemuser_org": "0192:974760673"}]),
            serde_json::json!([{"type": SYSTEM_USER_TYPE, "systemuser_org": {"authority": "iso6523-actorid-upis", "ID": 974760673}}]),
            serde_json::json!([{"type": SYSTEM_USER_TYPE, "systemuserorg": {"id": "0192:974760673"}}]),
            serde_json::json!([{"type": SYSTEM_USER_TYPE, "systemuser_org": {"authority": "iso6523-actorid-upis-x", "ID": "0192:974760673"}}]),
            serde_json::json!(null),
            serde_json::json!({}),
        ] {
            let claims = token(Some(details.clone()));
            assert!(claims.is_system_user(), "{details}");
            assert_eq!(claims.acting_for(), None, "{details}");
            assert!(claims.system_user().is_none(), "{details}");
            assert!(claims.acting_for_system_user().is_err(), "{details}");
            assert_eq!(claims.consumer().and_then(|o| o.orgno()), Some("991825827"));
        }

        // Entries of other types only: judged by the consumer, as without.
        for details in [
            serde_json::json!([{"type": "urn:altinn:resource", "systemuser_org": customer}]),
            serde_json::json!([{"type": "urn:altinn:consent", "id": "x"}]),
            serde_json::json!([]),
        ] {
            let claims = token(Some(details.clone()));
            assert!(!claims.is_system_user(), "{details}");
            assert_eq!(orgno(&claims), Some("991825827"), "{details}");
        }
    }

    #[test]
    fn has_scope_is_a_whole_piece_of_the_claim() {
        let claims = |scope: &str| {
            let set = serde_json::json!({"iss": "i", "exp": 2, "iat": 1, "scope": scope});
            let set = ClaimSet::from_claims(set.as_object().unwrap().clone()).unwrap();
            MaskinportenClaims::new(Arc::new(set), Arc::default())
        };
        let claim_values = [
            "",
            " ",
            "a",
            "a b",
            " a  b ",
            "ab",
            "a:b/c",
            "a:b/c.read a:b/c.write",
            "a:b/c.readwrite",
            "x a:b/c.read",
            "a\tb",
            "æ ø",
            "a:b/c.rea",
        ];
        let wanted = [
            "",
            "a",
            "b",
            "ab",
            "a:b/c.read",
            "a:b/c.write",
            "a\tb",
            "ø",
            " ",
            "a b",
        ];
        for claim in claim_values {
            let claims = claims(claim);
            for scope in wanted {
                let by_pieces = claims.scope_iter().any(|granted| granted == scope);
                assert_eq!(
                    claims.has_scope(scope),
                    by_pieces,
                    "{claim:?} has {scope:?}"
                );
            }
        }
    }
}
