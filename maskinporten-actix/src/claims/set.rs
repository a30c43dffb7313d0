//! The claim set: the claims of an active token as the cache holds them,
//! every typed string in one buffer.

use serde_json::{Map, Value};

use super::{
    organization::Organization,
    payload::{string_claim, ClaimSetBuilder},
};

/// The string claims kept typed, in [`ClaimSet::strings`] order. The first
/// four must be strings when present; the last two stay in the other claims
/// verbatim when they are not.
pub(super) const STRING_CLAIMS: [&str; 6] = [
    "iss",
    "scope",
    "client_id",
    "jti",
    "client_amr",
    "token_type",
];
pub(super) const ISS: usize = 0;
pub(super) const SCOPE: usize = 1;
pub(super) const CLIENT_ID: usize = 2;
pub(super) const JTI: usize = 3;
pub(super) const STRICT_STRINGS: usize = 4;
/// The organisation claims kept typed, in [`ClaimSet::organizations`] order.
pub(super) const ORGANIZATION_CLAIMS: [&str; 2] = ["consumer", "supplier"];
pub(super) const CONSUMER: usize = 0;
pub(super) const SUPPLIER: usize = 1;

/// Where one string lies in [`ClaimSet::text`].
#[derive(Clone, Copy)]
pub(super) struct Span {
    pub(super) start: u32,
    pub(super) len: u32,
}

/// The claims of an active token, as the validator returned them.
///
/// Laid out for the introspection cache, which holds one per token: every
/// typed string lives in one buffer, so an entry is two allocations (this
/// struct and its text) unless the token carries claims beyond the usual.
pub(crate) struct ClaimSet {
    pub(super) text: Box<str>,
    pub(super) strings: [Option<Span>; 6],
    /// `authority` and `ID` of each organisation.
    pub(super) organizations: [Option<[Span; 2]>; 2],
    pub(super) expires_at: i64,
    pub(super) issued_at: i64,
    /// Every other claim, verbatim (also an organisation claim that is not
    /// of the expected shape).
    pub(super) other: Option<Box<Map<String, Value>>>,
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

    pub(super) fn string(&self, index: usize) -> Option<&str> {
        self.strings[index].map(|span| self.slice(span))
    }

    pub(super) fn organization(&self, index: usize) -> Option<Organization<'_>> {
        self.organizations[index].map(|[authority, id]| Organization {
            authority: self.slice(authority),
            id: self.slice(id),
        })
    }

    pub(crate) fn scope(&self) -> &str {
        self.string(SCOPE).unwrap_or_default()
    }

    pub(super) fn get(&self, name: &str) -> Option<Value> {
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
pub(super) fn slice(text: &str, span: Span) -> &str {
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
pub(super) const NODE_BYTES: usize = 64;

fn value_bytes(value: &Value) -> usize {
    std::mem::size_of::<Value>()
        + match value {
            Value::String(s) => s.len(),
            Value::Array(items) => items.iter().map(value_bytes).sum(),
            Value::Object(map) => map_bytes(map),
            Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

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
