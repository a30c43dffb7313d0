//! The claims of a validated Maskinporten token.

use std::{
    collections::BTreeSet,
    fmt,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{ErrorKind, MaskinportenError, Rendering};

/// The ISO 6523 code of Norwegian organisation numbers (`0192:<orgno>`).
const NORWEGIAN_ORGNO: &str = "0192";

/// An organisation named in a token: the `consumer` that called, or the
/// `supplier` that called on its behalf.
///
/// ```text
/// {"authority": "iso6523-actorid-upis", "ID": "0192:991825827"}
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Organization {
    authority: Box<str>,
    id: Box<str>,
}

impl Organization {
    /// The identifier scheme, `iso6523-actorid-upis` for Maskinporten.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The identifier as issued, e.g. `0192:991825827`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The Norwegian organisation number (nine digits), when the ID is of the
    /// form `0192:<orgno>`. Further colon-separated parts are tolerated.
    pub fn orgno(&self) -> Option<&str> {
        let mut parts = self.id.split(':');
        if parts.next()? != NORWEGIAN_ORGNO {
            return None;
        }
        let orgno = parts.next()?;
        (orgno.len() == 9 && orgno.bytes().all(|b| b.is_ascii_digit())).then_some(orgno)
    }

    fn from_value(value: &Value) -> Option<Self> {
        let object = value.as_object()?;
        Some(Organization {
            authority: object.get("authority")?.as_str()?.into(),
            id: object.get("ID")?.as_str()?.into(),
        })
    }

    fn to_value(&self) -> Value {
        let mut object = Map::with_capacity(2);
        object.insert(
            "authority".into(),
            Value::String(self.authority.to_string()),
        );
        object.insert("ID".into(), Value::String(self.id.to_string()));
        Value::Object(object)
    }
}

impl fmt::Debug for Organization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.id)
    }
}

/// The claims of an active token, as the validator returned them.
///
/// Kept compact because the introspection cache holds one per token: the
/// claims every Maskinporten token has are typed fields, and only the rest
/// stay a JSON map.
pub(crate) struct ClaimSet {
    issuer: Box<str>,
    scope: Box<str>,
    expires_at: i64,
    issued_at: i64,
    client_id: Option<Box<str>>,
    jwt_id: Option<Box<str>>,
    consumer: Option<Organization>,
    supplier: Option<Organization>,
    /// Every other claim, verbatim (also `consumer`/`supplier` when they are
    /// not of the expected shape).
    other: Map<String, Value>,
}

/// Why an answer of the validator is not a usable claim set.
#[derive(Debug)]
pub(crate) struct MalformedClaims(pub(crate) &'static str);

impl ClaimSet {
    /// Builds the claim set from the claims of an active answer (without `active`).
    pub(crate) fn from_claims(mut claims: Map<String, Value>) -> Result<Self, MalformedClaims> {
        let expires_at =
            take_seconds(&mut claims, "exp")?.ok_or(MalformedClaims("no `exp` claim"))?;
        let issued_at =
            take_seconds(&mut claims, "iat")?.ok_or(MalformedClaims("no `iat` claim"))?;
        let issuer = take_string(&mut claims, "iss")?.ok_or(MalformedClaims("no `iss` claim"))?;
        let scope = take_string(&mut claims, "scope")?.unwrap_or_default();
        let client_id = take_string(&mut claims, "client_id")?;
        let jwt_id = take_string(&mut claims, "jti")?;
        let consumer = take_organization(&mut claims, "consumer");
        let supplier = take_organization(&mut claims, "supplier");
        Ok(ClaimSet {
            issuer,
            scope,
            expires_at,
            issued_at,
            client_id,
            jwt_id,
            consumer,
            supplier,
            other: claims,
        })
    }

    /// The token's `exp`, in Unix seconds.
    pub(crate) fn expires_at_unix(&self) -> i64 {
        self.expires_at
    }

    fn get(&self, name: &str) -> Option<Value> {
        let string = |s: &str| Some(Value::String(s.to_owned()));
        match name {
            "iss" => string(&self.issuer),
            "scope" => string(&self.scope),
            "exp" => Some(Value::from(self.expires_at)),
            "iat" => Some(Value::from(self.issued_at)),
            "client_id" => self.client_id.as_deref().and_then(string),
            "jti" => self.jwt_id.as_deref().and_then(string),
            "consumer" if self.consumer.is_some() => {
                self.consumer.as_ref().map(Organization::to_value)
            }
            "supplier" if self.supplier.is_some() => {
                self.supplier.as_ref().map(Organization::to_value)
            }
            _ => self.other.get(name).cloned(),
        }
    }

    fn to_map(&self) -> Map<String, Value> {
        let mut map = self.other.clone();
        for name in [
            "iss",
            "scope",
            "exp",
            "iat",
            "client_id",
            "jti",
            "consumer",
            "supplier",
        ] {
            if let Some(value) = self.get(name) {
                map.insert(name.to_owned(), value);
            }
        }
        map
    }
}

fn take_string(
    claims: &mut Map<String, Value>,
    name: &'static str,
) -> Result<Option<Box<str>>, MalformedClaims> {
    match claims.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.into_boxed_str())),
        Some(_) => Err(MalformedClaims(match name {
            "iss" => "`iss` is not a string",
            "scope" => "`scope` is not a string",
            "client_id" => "`client_id` is not a string",
            _ => "`jti` is not a string",
        })),
    }
}

fn take_seconds(
    claims: &mut Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, MalformedClaims> {
    match claims.remove(name) {
        None => Ok(None),
        // NumericDate may carry a fraction; whole seconds are what we compare.
        Some(value) => value
            .as_i64()
            .or_else(|| value.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or(MalformedClaims(if name == "exp" {
                "`exp` is not a number"
            } else {
                "`iat` is not a number"
            })),
    }
}

fn take_organization(claims: &mut Map<String, Value>, name: &str) -> Option<Organization> {
    let organization = Organization::from_value(claims.get(name)?)?;
    claims.remove(name);
    Some(organization)
}

/// The claims of a validated Maskinporten token, and the extractor that
/// provides them.
///
/// As a handler argument it reads `Authorization: Bearer <token>`, has the
/// [`Maskinporten`](crate::Maskinporten) handle registered in the app validate
/// it, and rejects the request with a [`MaskinportenError`] when it cannot.
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

    /// The scopes granted to the token: the `scope` claim split on whitespace.
    pub fn scopes(&self) -> BTreeSet<&str> {
        self.scope_iter().collect()
    }

    fn scope_iter(&self) -> impl Iterator<Item = &str> {
        self.claims.scope.split_ascii_whitespace()
    }

    /// Whether the token holds exactly this scope (whole scope, case-sensitive:
    /// `afp.read` is not `afp.readwrite`).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope_iter().any(|granted| granted == scope)
    }

    /// The raw `scope` claim.
    pub fn scope_claim(&self) -> &str {
        &self.claims.scope
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
        for scope in scopes {
            if let Err(error) = maskinporten_scope::validate(scope) {
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

    /// The scope check behind `#[require_scope]`: the names were validated
    /// when the macro expanded.
    pub(crate) fn check(&self, scopes: &[&str], any: bool) -> Result<(), MaskinportenError> {
        let granted = |scope: &&str| self.has_scope(scope);
        let allowed = if any {
            scopes.iter().any(granted)
        } else {
            scopes.iter().all(granted)
        };
        if allowed || scopes.is_empty() {
            return Ok(());
        }
        let description = if any {
            "the access token holds none of the scopes this resource accepts"
        } else {
            "the access token lacks a scope this resource requires"
        };
        Err(
            MaskinportenError::insufficient_scope(scopes.join(" ").into(), description)
                .rendered_with(&self.rendering),
        )
    }

    /// The organisation that called (`consumer`).
    pub fn consumer(&self) -> Option<&Organization> {
        self.claims.consumer.as_ref()
    }

    /// The organisation a supplier called for, when the token was delegated
    /// (`supplier`).
    pub fn supplier(&self) -> Option<&Organization> {
        self.claims.supplier.as_ref()
    }

    /// The Maskinporten client that got the token (`client_id`).
    pub fn client_id(&self) -> Option<&str> {
        self.claims.client_id.as_deref()
    }

    /// The issuer (`iss`), e.g. `https://maskinporten.no/`.
    pub fn issuer(&self) -> &str {
        &self.claims.issuer
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
        self.claims.jwt_id.as_deref()
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
            .field("consumer", &self.claims.consumer)
            .field("supplier", &self.claims.supplier)
            .field("client_id", &self.claims.client_id)
            .field("scope", &self.claims.scope)
            .field("exp", &self.claims.expires_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: &str) -> Organization {
        Organization::from_value(
            &serde_json::json!({"authority": "iso6523-actorid-upis", "ID": id}),
        )
        .unwrap()
    }

    #[test]
    fn orgno_is_parsed_tolerantly() {
        assert_eq!(org("0192:991825827").orgno(), Some("991825827"));
        assert_eq!(org("0192:991825827:extra").orgno(), Some("991825827"));
        assert_eq!(org("0193:991825827").orgno(), None);
        assert_eq!(org("0192:99182582").orgno(), None);
        assert_eq!(org("0192").orgno(), None);
    }

    #[test]
    fn claim_sets_need_exp_iat_and_iss() {
        let base = serde_json::json!({"iss": "i", "exp": 2, "iat": 1, "scope": "a b"});
        let map = |v: Value| v.as_object().unwrap().clone();
        assert!(ClaimSet::from_claims(map(base.clone())).is_ok());
        for name in ["iss", "exp", "iat"] {
            let mut m = map(base.clone());
            m.remove(name);
            assert!(ClaimSet::from_claims(m).is_err(), "{name}");
        }
        let mut m = map(base);
        m.insert("exp".into(), Value::from("soon"));
        assert!(ClaimSet::from_claims(m).is_err());
    }
}
