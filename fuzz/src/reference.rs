//! Reference implementations of the guard's network-free parsers, written
//! from the contract (RFC 6750, the NAIS scope patterns, the introspection
//! protocol) rather than from the guard's code: the fuzz targets in this
//! directory and the property tests in `tests/it/fuzz_props.rs` check the guard
//! against them.

use std::sync::LazyLock;

use maskinporten_actix::{__private::internals::Decoded, ErrorKind};
use serde_json::Value;

/// RFC 6750 §2.1 as a regular expression: `"Bearer" 1*SP b64token`, the
/// scheme in any case, spaces around the whole value tolerated.
static BEARER: LazyLock<regex_lite::Regex> = LazyLock::new(|| {
    regex_lite::Regex::new(r"^ *(?i:bearer) +([A-Za-z0-9\-._~+/]+=*) *$").unwrap()
});

/// The outcome the README's rejection table promises for one
/// `Authorization` value: the token, or the kind of rejection.
pub fn parse_authorization(value: &[u8], max: usize) -> Result<String, ErrorKind> {
    // Anything but visible ASCII and SP: a malformed request.
    if value
        .iter()
        .any(|&b| b != b' ' && !(0x21..=0x7e).contains(&b))
    {
        return Err(ErrorKind::InvalidRequest);
    }
    let value = std::str::from_utf8(value).expect("ASCII");
    if let Some(captures) = BEARER.captures(value) {
        let token = captures[1].to_owned();
        return if token.len() > max {
            Err(ErrorKind::InvalidToken)
        } else {
            Ok(token)
        };
    }
    let words: Vec<&str> = value.split(' ').filter(|w| !w.is_empty()).collect();
    match words.as_slice() {
        // No credentials, or another scheme's.
        [] => Err(ErrorKind::MissingToken),
        [scheme, ..] if !scheme.eq_ignore_ascii_case("bearer") => Err(ErrorKind::MissingToken),
        // `Bearer` without a token, or with more than one credential.
        [_] | [_, _, _, ..] => Err(ErrorKind::InvalidRequest),
        // One credential that is not a b64token (or is, but too long).
        [_, _] => Err(ErrorKind::InvalidToken),
    }
}

/// NAIS' patterns (nais/liberator), composed: `nav:` + product + separator +
/// name. The product holds no separator, so the first separator after
/// `nav:` ends it and the composition matches what the three fields would.
static SCOPE: LazyLock<regex_lite::Regex> = LazyLock::new(|| {
    regex_lite::Regex::new(
        r"^nav:[a-z0-9]+[/:.]([a-zæøå0-9]+\/?)+(\:[a-zæøå0-9]+)*[a-zæøå0-9]+(\.[a-zæøå0-9]+)*$",
    )
    .unwrap()
});

/// Whether NAIS would accept `scope` as an exposed scope.
pub fn scope_is_valid(scope: &str) -> bool {
    SCOPE.is_match(scope)
}

/// What the guard must make of an introspection answer: active only for a
/// JSON object whose `active` is boolean true and whose claims every
/// Maskinporten token has are of the right type (`iss` a string, `exp` and
/// `iat` numbers; `scope`, `jti`, `client_id` strings if present); inactive
/// for boolean false; unusable for boolean true with those of the sidecar's
/// own checks right (`iss`, `exp`, `iat`) and one of the others wrong;
/// anything else is a broken answer, and so is an object that names any key
/// twice.
pub fn decode(answer: &[u8]) -> Decoded {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(answer) else {
        return Decoded::Broken;
    };
    let Ok(TopLevelKeys(keys)) = serde_json::from_slice(answer) else {
        return Decoded::Broken;
    };
    if keys.len() != map.len() {
        return Decoded::Broken;
    }
    let number = |name: &str| {
        map.get(name)
            .is_some_and(|v| v.as_i64().is_some() || v.as_f64().is_some_and(f64::is_finite))
    };
    let string_or_none =
        |name: &str| matches!(map.get(name), None | Some(Value::Null | Value::String(_)));
    match map.get("active") {
        Some(Value::Bool(false)) => Decoded::Inactive,
        Some(Value::Bool(true))
            if number("exp") && number("iat") && map.get("iss").is_some_and(Value::is_string) =>
        {
            if string_or_none("scope") && string_or_none("jti") && string_or_none("client_id") {
                Decoded::Active
            } else {
                Decoded::Unusable
            }
        }
        _ => Decoded::Broken,
    }
}

/// Whether an answer grants `required` (all of them, or one with `any`):
/// `None` unless it is active. Scopes are the `scope` string split on SP
/// (RFC 6749 §3.3), matched whole and exactly; an empty requirement is never
/// met (a guard does not fail open).
pub fn allows(answer: &[u8], required: &[&str], any: bool) -> Option<bool> {
    if decode(answer) != Decoded::Active {
        return None;
    }
    let value: Value = serde_json::from_slice(answer).ok()?;
    let granted: Vec<&str> = value["scope"]
        .as_str()
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    let holds = |scope: &&str| granted.contains(scope);
    Some(
        !required.is_empty()
            && if any {
                required.iter().any(holds)
            } else {
                required.iter().all(holds)
            },
    )
}

/// Scopes to require and to grant: real ones and look-alikes.
pub const POOL: [&str; 6] = [
    "nav:helse/sykepenger/afp.read",
    "nav:helse/sykepenger/afp.write",
    "nav:helse/sykepenger/afp.readwrite",
    "NAV:helse/sykepenger/afp.read",
    "nav:helse/sykepenger/\u{430}fp.read",
    "nav:test/ab",
];

/// Every key of a JSON object, in order, repeats included.
struct TopLevelKeys(Vec<String>);

impl<'de> serde::Deserialize<'de> for TopLevelKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = TopLevelKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<TopLevelKeys, A::Error> {
                let mut keys = Vec::new();
                while let Some((key, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                    keys.push(key);
                }
                Ok(TopLevelKeys(keys))
            }
        }
        deserializer.deserialize_map(Keys)
    }
}
