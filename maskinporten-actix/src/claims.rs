//! The claims of a validated Maskinporten token.

use std::{
    borrow::Cow,
    collections::BTreeSet,
    fmt,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{
    de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor},
    Deserialize, Deserializer,
};
use serde_json::{Map, Value};

use crate::error::{ErrorKind, MaskinportenError, Rendering};

/// The ISO 6523 code of Norwegian organisation numbers (`0192:<orgno>`).
const NORWEGIAN_ORGNO: &str = "0192";

/// An organisation named in a token: the `consumer` that called, the
/// `supplier` that called on its behalf, or the organisation an Altinn
/// system user acts for.
///
/// ```text
/// {"authority": "iso6523-actorid-upis", "ID": "0192:991825827"}
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Organization<'a> {
    authority: &'a str,
    id: &'a str,
}

impl<'a> Organization<'a> {
    /// The identifier scheme, `iso6523-actorid-upis` for Maskinporten.
    pub fn authority(&self) -> &'a str {
        self.authority
    }

    /// The identifier as issued, e.g. `0192:991825827`.
    pub fn id(&self) -> &'a str {
        self.id
    }

    /// The Norwegian organisation number (nine digits), when the ID is of the
    /// form `0192:<orgno>`. Further colon-separated parts are tolerated.
    pub fn orgno(&self) -> Option<&'a str> {
        // The second colon-separated part, found without a split iterator:
        // handlers ask this on every request. Nine digits followed by the
        // end or a colon are exactly a second part of nine digits.
        let rest = self.id.strip_prefix(NORWEGIAN_ORGNO)?.strip_prefix(':')?;
        let orgno = rest.get(..9)?;
        let ends = matches!(rest.as_bytes().get(9), None | Some(b':'));
        (ends && orgno.bytes().all(|b| b.is_ascii_digit())).then_some(orgno)
    }

    fn to_value(self) -> Value {
        let mut object = Map::with_capacity(2);
        object.insert("authority".into(), Value::String(self.authority.to_owned()));
        object.insert("ID".into(), Value::String(self.id.to_owned()));
        Value::Object(object)
    }
}

impl fmt::Debug for Organization<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id)
    }
}

/// The string claims kept typed, in [`ClaimSet::strings`] order. The first
/// four must be strings when present; the last two stay in the other claims
/// verbatim when they are not.
const STRING_CLAIMS: [&str; 6] = [
    "iss",
    "scope",
    "client_id",
    "jti",
    "client_amr",
    "token_type",
];
const ISS: usize = 0;
const SCOPE: usize = 1;
const CLIENT_ID: usize = 2;
const JTI: usize = 3;
const STRICT_STRINGS: usize = 4;
/// The organisation claims kept typed, in [`ClaimSet::organizations`] order.
const ORGANIZATION_CLAIMS: [&str; 2] = ["consumer", "supplier"];
const CONSUMER: usize = 0;
const SUPPLIER: usize = 1;

/// What a token's `authorization_details` says of an Altinn system user.
enum Details<'a> {
    /// No such claim, or no entry of the system-user type: the token acts
    /// for its `consumer`.
    None,
    /// The one system-user entry, and the organisation it acts for.
    SystemUser(&'a Map<String, Value>, Organization<'a>),
    /// A claim that cannot be read as the Altinn shape: it acts for nobody
    /// known, and the consumer guards refuse it. Why, for the log.
    Unreadable(&'static str),
}

/// Where one string lies in [`ClaimSet::text`].
#[derive(Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
}

/// The claims of an active token, as the validator returned them.
///
/// Laid out for the introspection cache, which holds one per token: every
/// typed string lives in one buffer, so an entry is two allocations (this
/// struct and its text) unless the token carries claims beyond the usual.
pub(crate) struct ClaimSet {
    text: Box<str>,
    strings: [Option<Span>; 6],
    /// `authority` and `ID` of each organisation.
    organizations: [Option<[Span; 2]>; 2],
    expires_at: i64,
    issued_at: i64,
    /// Every other claim, verbatim (also an organisation claim that is not
    /// of the expected shape).
    other: Option<Box<Map<String, Value>>>,
}

/// Why an answer of the validator is not a usable claim set.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct MalformedClaims {
    pub(crate) claim: &'static str,
    pub(crate) problem: &'static str,
}

impl ClaimSet {
    /// Builds the claim set from the claims of an active answer (without `active`).
    pub(crate) fn from_claims(claims: Map<String, Value>) -> Result<Self, MalformedClaims> {
        let mut builder = ClaimSetBuilder::default();
        for (name, value) in claims {
            builder.claim(name.into(), value);
        }
        builder.build()
    }

    /// The token's `exp`, in Unix seconds.
    pub(crate) fn expires_at_unix(&self) -> i64 {
        self.expires_at
    }

    /// About how many bytes this claim set holds on the heap, for the
    /// cache's weight bound: the struct, its text, and the other claims.
    pub(crate) fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.text.len()
            + self.other.as_deref().map_or(0, |other| {
                std::mem::size_of::<Map<String, Value>>() + map_bytes(other)
            })
    }

    fn slice(&self, span: Span) -> &str {
        slice(&self.text, span)
    }

    fn string(&self, index: usize) -> Option<&str> {
        self.strings[index].map(|span| self.slice(span))
    }

    fn organization(&self, index: usize) -> Option<Organization<'_>> {
        self.organizations[index].map(|[authority, id]| Organization {
            authority: self.slice(authority),
            id: self.slice(id),
        })
    }

    pub(crate) fn scope(&self) -> &str {
        self.string(SCOPE).unwrap_or_default()
    }

    /// What `authorization_details` says of an Altinn system user, read in
    /// place and strictly: the consumer guards ask this on every request,
    /// and a token without other claims answers at once.
    fn details(&self) -> Details<'_> {
        let Some(details) = self
            .other
            .as_ref()
            .and_then(|other| other.get("authorization_details"))
        else {
            return Details::None;
        };
        let Value::Array(entries) = details else {
            return Details::Unreadable("authorization_details is not an array");
        };
        let mut system_user = None;
        for entry in entries {
            let Some(entry) = entry.as_object() else {
                return Details::Unreadable("an authorization_details entry is not an object");
            };
            match entry.get("type").and_then(Value::as_str) {
                None => {
                    return Details::Unreadable("an authorization_details entry has no string type")
                }
                Some(SYSTEM_USER_TYPE) if system_user.is_some() => {
                    return Details::Unreadable(
                        "authorization_details holds more than one system-user entry",
                    )
                }
                Some(SYSTEM_USER_TYPE) => system_user = Some(entry),
                Some(_) => {}
            }
        }
        match system_user {
            None => Details::None,
            Some(entry) => match entry_organization(entry) {
                Some(organization) => Details::SystemUser(entry, organization),
                None => Details::Unreadable(
                    "the system-user entry names no iso6523-actorid-upis organisation",
                ),
            },
        }
    }

    fn get(&self, name: &str) -> Option<Value> {
        if let Some(i) = string_claim(name) {
            if let Some(value) = self.string(i) {
                return Some(Value::String(value.to_owned()));
            }
        }
        if let Some(i) = ORGANIZATION_CLAIMS.iter().position(|&claim| claim == name) {
            if let Some(organization) = self.organization(i) {
                return Some(organization.to_value());
            }
        }
        match name {
            "exp" => Some(Value::from(self.expires_at)),
            "iat" => Some(Value::from(self.issued_at)),
            _ => self.other.as_ref()?.get(name).cloned(),
        }
    }

    pub(crate) fn to_map(&self) -> Map<String, Value> {
        let mut map = self.other.as_deref().cloned().unwrap_or_default();
        for name in STRING_CLAIMS
            .iter()
            .chain(&ORGANIZATION_CLAIMS)
            .chain(&["exp", "iat"])
        {
            if let Some(value) = self.get(name) {
                map.insert((*name).to_owned(), value);
            }
        }
        map
    }
}

/// The text a span of a claim set's buffer holds.
fn slice(text: &str, span: Span) -> &str {
    let start = span.start as usize;
    &text[start..start + span.len as usize]
}

/// About the heap bytes of a JSON map: keys, values, and a node per entry.
fn map_bytes(map: &Map<String, Value>) -> usize {
    map.iter()
        .map(|(key, value)| NODE_BYTES + key.len() + value_bytes(value))
        .sum()
}

/// A map or vector slot's share of bookkeeping, beside the value itself.
const NODE_BYTES: usize = 64;

fn value_bytes(value: &Value) -> usize {
    std::mem::size_of::<Value>()
        + match value {
            Value::String(s) => s.len(),
            Value::Array(items) => items.iter().map(value_bytes).sum(),
            Value::Object(map) => map_bytes(map),
            Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        }
}

/// A claim set as its claims come, one by one: from an answer's map
/// ([`ClaimSet::from_claims`]), or straight from a token's JSON payload as it
/// is read (its `Deserialize`), which local validation does for every new
/// token without a map in between. A claim named twice counts once, as the
/// last one, as in a map; but a payload that names one of the claims the
/// sidecar validates (`iss`, `exp`, `nbf`, `sub`, `aud`) twice is refused,
/// as the sidecar refuses it.
pub(crate) struct ClaimSetBuilder {
    text: String,
    strings: [Pending; 6],
    organizations: [Option<Value>; 2],
    expires_at: Option<Value>,
    issued_at: Option<Value>,
    other: Map<String, Value>,
    /// The validated claims seen so far in a payload, one bit each
    /// ([`VALIDATED_CLAIMS`] order), and the first one seen twice.
    seen: u8,
    twice: Option<&'static str>,
}

/// The claims the sidecar reads with a derived deserializer, which refuses
/// a payload that names one of them twice ("duplicate field").
const VALIDATED_CLAIMS: [&str; 5] = ["iss", "exp", "nbf", "sub", "aud"];

/// A typed string claim as read: its text already in the set's buffer, or
/// a value of another type, judged when the set is built.
#[derive(Default)]
enum Pending {
    #[default]
    Absent,
    Text(Span),
    Value(Value),
}

impl Default for ClaimSetBuilder {
    fn default() -> Self {
        ClaimSetBuilder {
            text: String::with_capacity(256),
            strings: Default::default(),
            organizations: Default::default(),
            expires_at: None,
            issued_at: None,
            other: Map::new(),
            seen: 0,
            twice: None,
        }
    }
}

/// Appends `s` to a claim set's text, and says where it lies.
fn push(text: &mut String, s: &str) -> Span {
    let span = Span {
        start: text.len() as u32,
        len: s.len() as u32,
    };
    text.push_str(s);
    span
}

/// Where a claim kept as a typed string goes in [`ClaimSet::strings`].
fn string_claim(name: &str) -> Option<usize> {
    STRING_CLAIMS.iter().position(|&claim| claim == name)
}

impl ClaimSetBuilder {
    /// Notes a name as read from a payload, to refuse a validated claim
    /// named twice.
    fn note(&mut self, name: &str) {
        if let Some(i) = VALIDATED_CLAIMS.iter().position(|&claim| claim == name) {
            let bit = 1 << i;
            if self.seen & bit != 0 && self.twice.is_none() {
                self.twice = Some(VALIDATED_CLAIMS[i]);
            }
            self.seen |= bit;
        }
    }

    /// Takes one claim.
    fn claim(&mut self, name: Cow<'_, str>, value: Value) {
        match string_claim(&name) {
            Some(i) => {
                self.strings[i] = match value {
                    Value::String(text) => Pending::Text(push(&mut self.text, &text)),
                    value => Pending::Value(value),
                }
            }
            None => self.other_claim(name, value),
        }
    }

    /// Takes a claim that is not kept as a typed string.
    fn other_claim(&mut self, name: Cow<'_, str>, value: Value) {
        match &*name {
            "exp" => self.expires_at = Some(value),
            "iat" => self.issued_at = Some(value),
            "consumer" => self.organizations[CONSUMER] = Some(value),
            "supplier" => self.organizations[SUPPLIER] = Some(value),
            _ => {
                self.other.insert(name.into_owned(), value);
            }
        }
    }

    /// A NumericDate claim in whole seconds, read before the set is built,
    /// as the sidecar reads it (see [`seconds`]): `Ok(None)` when absent,
    /// `Err(())` when not a number it takes.
    pub(crate) fn seconds(&self, name: &str) -> Result<Option<i64>, ()> {
        let value = match name {
            "exp" => self.expires_at.as_ref(),
            "iat" => self.issued_at.as_ref(),
            _ => self.other.get(name),
        };
        value
            .map(|value| seconds(name, value).ok_or(()))
            .transpose()
    }

    /// The `iss` claim, read before the set is built, when it is a string.
    pub(crate) fn issuer(&self) -> Option<&str> {
        match self.strings[ISS] {
            Pending::Text(span) => Some(slice(&self.text, span)),
            _ => None,
        }
    }

    /// The claim set, or why its claims are unusable: `exp` and `iat` must
    /// be numbers, `iss` a string, the other typed strings strings (or
    /// absent, or `null`).
    pub(crate) fn build(mut self) -> Result<ClaimSet, MalformedClaims> {
        if let Some(claim) = self.twice {
            return Err(MalformedClaims {
                claim,
                problem: "is named twice",
            });
        }
        let expires_at = take_seconds(self.expires_at, "exp")?;
        let issued_at = take_seconds(self.issued_at, "iat")?;
        let mut strings = [None; 6];
        for (i, (claim, pending)) in STRING_CLAIMS.into_iter().zip(self.strings).enumerate() {
            strings[i] = match pending {
                Pending::Text(span) => Some(span),
                Pending::Absent | Pending::Value(Value::Null) => None,
                // A lenient claim of another type stays, verbatim.
                Pending::Value(value) if i >= STRICT_STRINGS => {
                    self.other.insert(claim.to_owned(), value);
                    None
                }
                Pending::Value(_) => {
                    return Err(MalformedClaims {
                        claim,
                        problem: "is not a string",
                    })
                }
            };
        }
        if strings[ISS].is_none() {
            return Err(MalformedClaims {
                claim: "iss",
                problem: "is missing",
            });
        }
        let mut organizations = [None; 2];
        for (i, (claim, value)) in ORGANIZATION_CLAIMS
            .into_iter()
            .zip(self.organizations)
            .enumerate()
        {
            let Some(value) = value else { continue };
            let parts = value.as_object().and_then(|object| {
                Some((
                    object.get("authority")?.as_str()?,
                    object.get("ID")?.as_str()?,
                ))
            });
            match parts {
                Some((authority, id)) => {
                    organizations[i] =
                        Some([push(&mut self.text, authority), push(&mut self.text, id)]);
                }
                // Not of the expected shape: kept verbatim with the others.
                None => {
                    self.other.insert(claim.to_owned(), value);
                }
            }
        }
        Ok(ClaimSet {
            text: self.text.into_boxed_str(),
            strings,
            organizations,
            expires_at,
            issued_at,
            other: (!self.other.is_empty()).then(|| Box::new(self.other)),
        })
    }
}

/// Reads a JSON object into a builder as it is parsed: the typed strings
/// go straight into the set's text, and only the other claims become
/// `Value`s. Not an object is an error.
impl<'de> Deserialize<'de> for ClaimSetBuilder {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = ClaimSetBuilder;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut builder = ClaimSetBuilder::default();
                while let Some(Name(name)) = access.next_key()? {
                    builder.note(&name);
                    match string_claim(&name) {
                        Some(i) => {
                            builder.strings[i] =
                                access.next_value_seed(StringClaim(&mut builder.text))?;
                        }
                        None => builder.other_claim(name, access.next_value()?),
                    }
                }
                Ok(builder)
            }
        }
        deserializer.deserialize_map(Object)
    }
}

/// A claim's name, borrowed from the input when it has no escapes.
struct Name<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> Visitor<'de> for Text {
            type Value = Name<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a claim name")
            }

            fn visit_borrowed_str<E: de::Error>(self, name: &'de str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Borrowed(name)))
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(name.to_owned())))
            }
        }
        deserializer.deserialize_str(Text)
    }
}

/// The value of a typed string claim: a string goes into the set's text
/// without a `String` of its own; any other value is kept as a `Value`,
/// exactly as `Value` reads it.
struct StringClaim<'a>(&'a mut String);

impl<'de> DeserializeSeed<'de> for StringClaim<'_> {
    type Value = Pending;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Pending, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StringClaim<'_> {
    type Value = Pending;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Pending, E> {
        Ok(Pending::Text(push(self.0, text)))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Pending, E> {
        Ok(Pending::Value(Value::Bool(value)))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Pending, E> {
        Ok(Pending::Value(Value::from(value)))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Pending, E> {
        Ok(Pending::Value(Value::from(value)))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Pending, E> {
        Ok(Pending::Value(Value::from(value)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Pending, E> {
        Ok(Pending::Value(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Pending, A::Error> {
        Value::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Pending::Value)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Pending, A::Error> {
        Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(Pending::Value)
    }
}

/// A NumericDate in whole seconds, as the sidecar reads the claim `name`:
/// `iat` only as a whole number of seconds from 0 up; `exp`, `nbf` and the
/// others as a whole number from 0 up, or one with a fraction below
/// 2^64, rounded. A time past what an `i64` holds is the latest it holds.
fn seconds(name: &str, value: &Value) -> Option<i64> {
    let Value::Number(number) = value else {
        return None;
    };
    let whole = number.as_u64();
    let seconds = match name {
        "iat" => whole?,
        _ => match whole {
            Some(whole) => whole,
            None => number
                .as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0 && *f < u64::MAX as f64)
                .map(|f| f.round() as u64)?,
        },
    };
    Some(i64::try_from(seconds).unwrap_or(i64::MAX))
}

/// A NumericDate in whole seconds as the claim set keeps it: any number,
/// whole seconds compared. The sidecar's answer is read so; local
/// validation has checked the token's times the sidecar's way (see
/// [`seconds`]) before its set is built.
fn lenient_seconds(value: &Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
}

fn take_seconds(value: Option<Value>, claim: &'static str) -> Result<i64, MalformedClaims> {
    let value = value.ok_or(MalformedClaims {
        claim,
        problem: "is missing",
    })?;
    lenient_seconds(&value).ok_or(MalformedClaims {
        claim,
        problem: "is not a number",
    })
}

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

/// The `authorization_details` type of an Altinn system user.
const SYSTEM_USER_TYPE: &str = "urn:altinn:systemuser";

/// An Altinn system user, from an `authorization_details` entry of type
/// `urn:altinn:systemuser`; see [`MaskinportenClaims::system_user`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemUser {
    /// `authority` and `ID` of the system user's organisation.
    organization: Option<(String, String)>,
    ids: Vec<String>,
    system_id: Option<String>,
}

/// The first of `names` that `entry` has, in the order given.
fn entry_field<'a>(entry: &'a Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    names.iter().find_map(|name| entry.get(*name))
}

/// The authority of the organisations Maskinporten names.
const ORGANIZATION_AUTHORITY: &str = "iso6523-actorid-upis";

/// The system user's organisation in a system-user entry (`systemuser_org`
/// or `systemuserorg`, with `ID` or `id`, of authority
/// `iso6523-actorid-upis`), borrowed from the entry; `None` when it is not
/// there in that shape.
fn entry_organization(entry: &Map<String, Value>) -> Option<Organization<'_>> {
    let org = entry_field(entry, &["systemuser_org", "systemuserorg"])?.as_object()?;
    let id = org.get("ID").or_else(|| org.get("id"))?.as_str()?;
    let authority = org.get("authority")?.as_str()?;
    (authority == ORGANIZATION_AUTHORITY).then_some(Organization { authority, id })
}

impl SystemUser {
    fn from_entry(entry: &Map<String, Value>, organization: Organization<'_>) -> SystemUser {
        let field = |names: &[&str]| entry_field(entry, names);
        let organization = Some((
            organization.authority.to_owned(),
            organization.id.to_owned(),
        ));
        let ids = match field(&["systemuser_id", "systemuserid"]) {
            Some(Value::String(id)) => vec![id.clone()],
            Some(Value::Array(ids)) => ids
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        let system_id = field(&["system_id", "systemid"])
            .and_then(Value::as_str)
            .map(str::to_owned);
        SystemUser {
            organization,
            ids,
            system_id,
        }
    }

    /// The organisation that owns the system user (`systemuser_org`).
    pub fn organization(&self) -> Option<Organization<'_>> {
        self.organization
            .as_ref()
            .map(|(authority, id)| Organization { authority, id })
    }

    /// The system user's id(s) (`systemuser_id`), usually one UUID.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// The system the user belongs to (`system_id`), e.g.
    /// `991825827_smartcloud`.
    pub fn system_id(&self) -> Option<&str> {
        self.system_id.as_deref()
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

    fn org(id: &str) -> Organization<'_> {
        Organization {
            authority: "iso6523-actorid-upis",
            id,
        }
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
    fn orgno_is_the_second_part_when_it_is_nine_digits() {
        // What the split on colons says, against every ID built from these
        // pieces.
        fn reference(id: &str) -> Option<&str> {
            let mut parts = id.split(':');
            (parts.next() == Some(NORWEGIAN_ORGNO))
                .then(|| parts.next())
                .flatten()
                .filter(|p| p.len() == 9 && p.bytes().all(|b| b.is_ascii_digit()))
        }
        let pieces = [
            "",
            ":",
            "0192",
            "0192:",
            "00192",
            "991825827",
            "9918258270",
            "99182582",
            "99182582a",
            "æøå",
            "١٢٣",
            " ",
            "::",
            "0192:991825827",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let id = format!("{a}{b}{c}");
                    assert_eq!(org(&id).orgno(), reference(&id), "{id:?}");
                }
            }
        }
    }

    #[test]
    fn a_payload_read_as_it_is_parsed_makes_the_set_its_map_makes() {
        let base = r#""iss":"i","exp":2,"iat":1"#;
        let org = r#"{"authority":"iso6523-actorid-upis","ID":"0192:991825827"}"#;
        let payloads = [
            format!("{{{base}}}"),
            format!(r#"{{{base},"scope":"a b","client_id":"c","jti":"j","consumer":{org}}}"#),
            // Named twice: the last one counts, whatever the first was.
            format!(r#"{{{base},"scope":"a","scope":"b"}}"#),
            format!(r#"{{{base},"scope":7,"scope":"b"}}"#),
            format!(r#"{{{base},"scope":"b","scope":7}}"#),
            // Escaped names and values are the names and values they spell.
            format!(r#"{{{base},"\u0073cope":"a\u0020b","j\u0074i":"3"}}"#),
            format!(r#"{{{base},"sc\"ope":"a","jti":"\"\n"}}"#),
            // Typed strings of other types: refused, or kept verbatim.
            format!(r#"{{{base},"jti":null,"client_id":null}}"#),
            format!(r#"{{{base},"jti":[1,{{"a":null}}]}}"#),
            format!(r#"{{{base},"client_amr":["a",1.5,true],"token_type":{{"t":-1}}}}"#),
            format!(r#"{{{base},"token_type":null}}"#),
            r#"{"iss":7,"exp":2,"iat":1}"#.to_owned(),
            r#"{"iss":null,"exp":2,"iat":1}"#.to_owned(),
            r#"{"iss":"i","exp":1e3,"iat":18446744073709551615}"#.to_owned(),
            // Organisations of other shapes stay with the other claims.
            format!(r#"{{{base},"consumer":{{"ID":"0192:1"}},"supplier":{org}}}"#),
            format!(r#"{{{base},"consumer":"0192:991825827","supplier":null}}"#),
            format!(r#"{{{base},"consumer":{{"authority":"a","ID":"b","x":1}}}}"#),
        ];
        for payload in payloads {
            let streamed = serde_json::from_str::<ClaimSetBuilder>(&payload)
                .unwrap_or_else(|e| panic!("{payload}: {e}"))
                .build()
                .map(|set| set.to_map());
            let map: Map<String, Value> = serde_json::from_str(&payload).unwrap();
            let mapped = ClaimSet::from_claims(map).map(|set| set.to_map());
            assert_eq!(streamed, mapped, "{payload}");
        }
        // A claim the sidecar validates, named twice: refused, as the
        // sidecar refuses it, whichever value comes last.
        for (payload, claim) in [
            (format!(r#"{{"iss":"x",{base}}}"#), "iss"),
            (format!(r#"{{{base},"iss":"i"}}"#), "iss"),
            (format!(r#"{{{base},"exp":"soon"}}"#), "exp"),
            (format!(r#"{{{base},"e\u0078p":3}}"#), "exp"),
            (format!(r#"{{{base},"aud":"a","aud":["b"]}}"#), "aud"),
            (format!(r#"{{{base},"sub":"a","sub":"a"}}"#), "sub"),
            (format!(r#"{{{base},"nbf":1,"nbf":1}}"#), "nbf"),
        ] {
            let streamed = serde_json::from_str::<ClaimSetBuilder>(&payload)
                .unwrap()
                .build()
                .map(|set| set.to_map());
            assert_eq!(
                streamed.err(),
                Some(MalformedClaims {
                    claim,
                    problem: "is named twice"
                }),
                "{payload}"
            );
        }
        for not_an_object in ["[]", "\"x\"", "1", "null", "{\"a\":}", "{} {}"] {
            assert!(
                serde_json::from_str::<ClaimSetBuilder>(not_an_object).is_err(),
                "{not_an_object}"
            );
        }
    }

    #[test]
    fn times_are_read_as_the_sidecar_reads_them() {
        let read = |name: &str, value: &str| {
            let payload = format!(r#"{{"{name}":{value}}}"#);
            serde_json::from_str::<ClaimSetBuilder>(&payload)
                .unwrap()
                .seconds(name)
        };
        let max = i64::MAX;
        for name in ["exp", "nbf"] {
            assert_eq!(read(name, "1796519694.5"), Ok(Some(1796519695)));
            assert_eq!(read(name, "1796519694.4"), Ok(Some(1796519694)));
            assert_eq!(read(name, "9223372036854775807"), Ok(Some(max)));
            assert_eq!(read(name, "18446744073709551615"), Ok(Some(max)));
            assert_eq!(read(name, "1e300"), Err(()));
            assert_eq!(read(name, "-1"), Err(()));
            assert_eq!(read(name, "\"1796519694\""), Err(()));
        }
        assert_eq!(read("iat", "1700000000"), Ok(Some(1700000000)));
        assert_eq!(read("iat", "1700000000.5"), Err(()));
        assert_eq!(read("iat", "1700000000.0"), Err(()));
        assert_eq!(read("iat", "-1"), Err(()));
        assert_eq!(read("iat", "18446744073709551615"), Ok(Some(max)));
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
