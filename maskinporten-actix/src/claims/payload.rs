//! The payload reader: a claim set built as its claims come, from an
//! introspection answer's map or straight from a token's JSON payload, and
//! the times read as the sidecar reads them.

use std::{borrow::Cow, fmt};

use serde::{
    de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor},
    Deserialize, Deserializer,
};
use serde_json::{Map, Value};

use super::set::{
    slice, ClaimSet, MalformedClaims, Span, CONSUMER, ISS, ORGANIZATION_CLAIMS, STRICT_STRINGS,
    STRING_CLAIMS, SUPPLIER,
};

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
pub(super) fn string_claim(name: &str) -> Option<usize> {
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
    pub(super) fn claim(&mut self, name: Cow<'_, str>, value: Value) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
