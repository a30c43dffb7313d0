//! Property tests of the network-free parsers, the CI-sized stand-in for the
//! cargo-fuzz targets in `fuzz/` (which need a nightly compiler for
//! libFuzzer's instrumentation): the `Authorization` parser, the scope
//! grammar and the introspection-answer decoder never panic, and agree with
//! reference implementations written from the contract
//! (`fuzz/src/reference.rs`, shared with the fuzz targets); a token's
//! claims read as its payload is parsed make the claim set its JSON map
//! makes.
//!
//! Cases per property: `PROPTEST_CASES` (default 4096). A failure prints the
//! minimal input and is saved under `tests/proptest-regressions/`.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use maskinporten_actix::{
    __private::{
        fuzzing::read_jws,
        internals::{claims_allow, decode_introspection, parse_authorization, Decoded},
    },
    scope::validate,
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// The reference implementations, shared with the cargo-fuzz targets.
#[path = "../../fuzz/src/reference.rs"]
mod reference;
use reference::POOL;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4096);
    ProptestConfig {
        cases,
        max_shrink_iters: 10_000,
        ..ProptestConfig::default()
    }
}

// ----- the Authorization header ---------------------------------------------

/// Header values: raw bytes, and values built from the pieces that matter
/// (schemes, spaces, tabs, b64token and non-b64token characters, non-ASCII).
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    let scheme = prop_oneof![
        4 => Just("Bearer"),
        1 => Just("bearer"),
        1 => Just("BEARER"),
        1 => Just("bEaReR"),
        1 => Just("Basic"),
        1 => Just("Bearerx"),
        1 => Just(""),
    ];
    let spaces = "[ ]{0,3}";
    // Mostly b64token characters, now and then one that is not.
    let token =
        proptest::string::string_regex("[A-Za-z0-9._~+/=-]{0,20}([,;\"$ \t=][A-Za-z0-9=]{0,4})?")
            .unwrap();
    let structured = (
        spaces,
        scheme,
        spaces,
        token,
        spaces,
        proptest::option::weighted(0.15, any::<u8>()),
    )
        .prop_map(|(lead, scheme, gap, token, trail, extra)| {
            let mut value = format!("{lead}{scheme}{gap}{token}{trail}").into_bytes();
            if let Some(byte) = extra {
                let at = usize::from(byte) % (value.len() + 1);
                value.insert(at, byte);
            }
            value
        });
    prop_oneof![
        3 => structured,
        1 => proptest::collection::vec(any::<u8>(), 0..48),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_header_parser_never_panics_and_matches_rfc_6750(
        value in header_value(),
        max in 0usize..32,
    ) {
        let parsed = parse_authorization(&value, max);
        if let Ok(token) = parsed {
            prop_assert!(!token.is_empty());
            prop_assert!(token.len() <= max);
            prop_assert!(!token.contains(' '));
            let body = token.trim_end_matches('=');
            prop_assert!(!body.is_empty());
            prop_assert!(body.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)));
        }
        prop_assert_eq!(parsed.map(str::to_owned), reference::parse_authorization(&value, max));
    }
}

// ----- the scope grammar ----------------------------------------------------

/// Strings close to scopes: mostly `nav:` and then letters, digits, æøå and
/// separators, with now and then a character the grammar refuses.
fn scope_like() -> impl Strategy<Value = String> {
    let shaped = "nav:[ab0]{1,3}[/:.][ab0æø/:.]{0,12}";
    let near = "(nav:|nav|NAV:|:)?[ab0æø/:.]{0,14}[Åa_ \u{a0}.]?[ab9å/:.]{0,4}";
    prop_oneof![
        6 => proptest::string::string_regex(shaped).unwrap(),
        2 => proptest::string::string_regex(near).unwrap(),
        1 => any::<String>(),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_scope_grammar_never_panics_and_matches_the_nais_patterns(scope in scope_like()) {
        let result = validate(&scope);
        prop_assert_eq!(result.is_ok(), reference::scope_is_valid(&scope), "{:?}: {:?}", scope, result);
        if let Err(error) = result {
            prop_assert!(!error.to_string().is_empty());
        }
    }

    /// The generator above hits valid scopes too (not only rejections):
    /// build valid ones from the patterns' parts and check they pass.
    #[test]
    fn scopes_built_from_the_patterns_are_valid(
        product in "[a-z0-9]{1,6}",
        separator in "[/:.]",
        words in proptest::collection::vec("[a-zæøå0-9]{2,5}", 1..4),
        colon in proptest::option::of("[a-zæøå0-9]{2,4}"),
        suffixes in proptest::collection::vec("[a-zæøå0-9]{1,4}", 0..3),
    ) {
        let mut scope = format!("nav:{product}{separator}{}", words.join("/"));
        if let Some(colon) = colon {
            scope.push(':');
            scope.push_str(&colon);
        }
        for suffix in suffixes {
            scope.push('.');
            scope.push_str(&suffix);
        }
        prop_assert!(reference::scope_is_valid(&scope), "{}", scope);
        prop_assert!(validate(&scope).is_ok(), "{}: {:?}", scope, validate(&scope));
    }
}

// ----- the introspection answer ---------------------------------------------

/// A JSON value of any shape, shallow.
fn any_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,8}".prop_map(Value::from),
        Just(json!([true])),
        Just(json!({"active": true})),
    ]
}

/// A claim that is either absent, of the right kind, or of any other shape.
fn claim(right: impl Strategy<Value = Value>) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        1 => Just(None),
        6 => right.prop_map(Some),
        1 => any_json().prop_map(Some),
    ]
}

/// A scope claim: scopes from the pool joined by whitespace, or not.
fn scope_claim() -> impl Strategy<Value = String> {
    let scope = proptest::sample::select(POOL.to_vec());
    let separator =
        proptest::sample::select(vec![" ", "  ", "\t", "\n", ",", "\u{a0}", "\u{3000}"]);
    proptest::collection::vec((scope, separator), 0..4).prop_map(|parts| {
        parts
            .into_iter()
            .map(|(scope, separator)| format!("{scope}{separator}"))
            .collect()
    })
}

/// Introspection answers: mostly Texas-shaped objects with each field right
/// or wrong, sometimes cut or with a byte changed, sometimes raw bytes.
fn answer() -> impl Strategy<Value = Vec<u8>> {
    let object = (
        claim(proptest::bool::weighted(0.7).prop_map(Value::from)),
        claim(Just(Value::from("https://test.maskinporten.no/"))),
        claim((0i64..5_000_000_000).prop_map(Value::from)),
        claim((0i64..5_000_000_000).prop_map(Value::from)),
        claim(scope_claim().prop_map(Value::from)),
        claim(".{0,6}".prop_map(Value::from)),
    )
        .prop_map(|(active, iss, exp, iat, scope, jti)| {
            let mut map = Map::new();
            for (name, value) in [
                ("active", active),
                ("iss", iss),
                ("exp", exp),
                ("iat", iat),
                ("scope", scope),
                ("jti", jti),
            ] {
                if let Some(value) = value {
                    map.insert(name.into(), value);
                }
            }
            serde_json::to_vec(&Value::Object(map)).unwrap()
        })
        .boxed();
    let damaged = (object.clone(), any::<usize>(), any::<u8>(), any::<bool>()).prop_map(
        |(mut bytes, at, byte, cut)| {
            let at = at % (bytes.len() + 1);
            if cut {
                bytes.truncate(at);
            } else if at < bytes.len() {
                bytes[at] = byte;
            }
            bytes
        },
    );
    // The same objects with one claim named again at the end: a decoder
    // that kept the last value would take `"active": false, ...,
    // "active": true` for an active token.
    let repeated = (
        object.clone(),
        proptest::sample::select(&["active", "scope", "iss", "jti"][..]),
    )
        .prop_map(|(mut bytes, name)| {
            if bytes.len() > 2 && bytes.ends_with(b"}") {
                bytes.pop();
                bytes.extend_from_slice(format!(r#","{name}":true}}"#).as_bytes());
            }
            bytes
        });
    prop_oneof![
        6 => object,
        2 => damaged,
        1 => repeated,
        1 => proptest::collection::vec(any::<u8>(), 0..64),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_answer_decoder_never_panics_and_is_active_only_for_boolean_true(answer in answer()) {
        let decoded = decode_introspection(&answer);
        if decoded == Decoded::Active {
            let value: Value = serde_json::from_slice(&answer).unwrap();
            prop_assert_eq!(&value["active"], &Value::Bool(true));
        }
        prop_assert_eq!(decoded, reference::decode(&answer), "{}", String::from_utf8_lossy(&answer));
    }

    #[test]
    fn the_scope_check_grants_whole_exact_scopes_only(
        answer in answer(),
        required in proptest::sample::subsequence(POOL.to_vec(), 0..3),
        any in any::<bool>(),
    ) {
        let allowed = claims_allow(&answer, &required, any);
        prop_assert_eq!(allowed.is_some(), decode_introspection(&answer) == Decoded::Active);
        prop_assert_eq!(
            allowed,
            reference::allows(&answer, &required, any),
            "{:?} of {}",
            required,
            String::from_utf8_lossy(&answer)
        );
    }
}

// ----- the token's payload ---------------------------------------------------

/// A claim's name as it may be written: the claims the crate keeps typed,
/// some spelled with escapes, and others.
fn claim_name() -> impl Strategy<Value = String> {
    proptest::sample::select(vec![
        r#""iss""#,
        r#""scope""#,
        r#""client_id""#,
        r#""jti""#,
        r#""client_amr""#,
        r#""token_type""#,
        r#""consumer""#,
        r#""supplier""#,
        r#""exp""#,
        r#""iat""#,
        r#""nbf""#,
        r#""aud""#,
        r#""\u0073cope""#,
        r#""i\u0073s""#,
        r#""e\u0078p""#,
        r#""sc\"ope""#,
        r#""""#,
    ])
    .prop_map(str::to_owned)
}

/// A claim's value as written: any JSON, strings with escapes, numbers of
/// every kind, organisations of the expected shape and of others.
fn claim_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any_json().prop_map(|value| value.to_string()),
        proptest::sample::select(vec![
            r#""a\u0020b""#,
            r#""\"\\\n""#,
            "1e3",
            "-0.5",
            "18446744073709551615",
            "1e400",
            r#"{"authority":"iso6523-actorid-upis","ID":"0192:991825827"}"#,
            r#"{"ID":"0192:991825827"}"#,
            r#"{"authority":"a","ID":"b","x":[1]}"#,
            r#"{"authority":1,"ID":"b"}"#,
        ])
        .prop_map(str::to_owned),
    ]
}

/// A JWS with a valid RS256 header and a payload object of the claims
/// above, in any order, a name possibly given more than once.
fn jws_with_claims() -> impl Strategy<Value = String> {
    proptest::collection::vec((claim_name(), claim_value()), 0..12).prop_map(|claims| {
        let body: Vec<String> = claims
            .into_iter()
            .map(|(name, value)| format!("{name}:{value}"))
            .collect();
        let payload = format!("{{{}}}", body.join(","));
        let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
        format!(
            "{}.{}.c2ln",
            b64(r#"{"alg":"RS256","kid":"k1"}"#),
            b64(&payload)
        )
    })
}

proptest! {
    #![proptest_config(config())]

    /// The claims are read into the claim set as the payload is parsed;
    /// what that makes (or why it is refused) is what the payload read as a
    /// JSON map makes: `read_jws` asserts it, with the claims the checks
    /// read.
    #[test]
    fn a_payload_read_as_it_is_parsed_makes_the_claim_set_of_its_map(token in jws_with_claims()) {
        let payload = token.split('.').nth(1).unwrap();
        let object = serde_json::from_slice::<Map<String, Value>>(
            &URL_SAFE_NO_PAD.decode(payload).unwrap(),
        );
        // A number out of range (1e400) is no JSON serde_json reads: refused.
        prop_assert_eq!(read_jws(token.as_bytes()), object.is_ok(), "{}", token);
    }
}
