//! Unit tests of the parsing and validation rules (the HTTP replay of the
//! captured Texas answers lives in `tests/it/texas_compat.rs`).

use std::time::Duration;

use serde_json::json;

use super::server::{parse_form, parse_json, validate, IdentityProvider};
use super::{keys::unix_now, TokenBuilder, DEFAULT_ISSUER, DEFAULT_KID};

fn token() -> TokenBuilder {
    TokenBuilder::new(DEFAULT_ISSUER)
}

fn check(t: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    validate(t, DEFAULT_ISSUER)
}

#[test]
fn json_errors_match_texas() {
    let e = parse_json(br#"{"identity_provider": "maskinporten"}"#).unwrap_err();
    assert_eq!(
        e,
        "Failed to deserialize the JSON body into the target type: missing field `token` at line 1 column 37"
    );
    let e = parse_json(br#"{"identity_provider": "nope", "token": "x"}"#).unwrap_err();
    assert_eq!(
        e,
        "Failed to deserialize the JSON body into the target type: identity_provider: unknown variant `nope`, expected one of `azuread`, `entra_id`, `tokenx`, `maskinporten`, `idporten` at line 1 column 28"
    );
    let e = parse_json(b"{not json").unwrap_err();
    assert_eq!(
        e,
        "Failed to parse the request body as JSON: key must be a string at line 1 column 2"
    );
    let e = parse_json(b"").unwrap_err();
    assert!(e.starts_with("Failed to parse the request body as JSON: EOF while parsing"));
    let e = parse_json(br#"{"token": 5, "identity_provider": "maskinporten"}"#).unwrap_err();
    assert_eq!(
        e,
        "Failed to deserialize the JSON body into the target type: token: invalid type: integer `5`, expected a string at line 1 column 11"
    );
    let e = parse_json(br#"{"token": "a", "token": "b"}"#).unwrap_err();
    assert!(e.contains("duplicate field `token`"), "{e}");
    let e = parse_json(br#"{"token": "a", "identity_provider": "maskinporten"} x"#).unwrap_err();
    assert!(
        e.starts_with("Failed to parse the request body as JSON: trailing characters"),
        "{e}"
    );
    let e = parse_json(b"5").unwrap_err();
    assert!(
        e.contains("invalid type: integer `5`, expected struct IntrospectRequest"),
        "{e}"
    );
}

#[test]
fn json_accepts_unknown_fields_and_arrays() {
    let r = parse_json(br#"{"extra": {"a": [1]}, "token": "t", "identity_provider": "tokenx"}"#)
        .unwrap();
    assert_eq!(r.token, "t");
    assert_eq!(r.identity_provider, IdentityProvider::TokenX);
    let r = parse_json(br#"["t", "maskinporten"]"#).unwrap();
    assert_eq!(r.identity_provider, IdentityProvider::Maskinporten);
}

#[test]
fn form_errors_match_texas() {
    let body = br#"{"identity_provider": "maskinporten", "token": "a.b.c"}"#;
    assert_eq!(
        parse_form(body).unwrap_err(),
        "Failed to deserialize form body: missing field `token`"
    );
    assert_eq!(
        parse_form(b"identity_provider=nope&token=x").unwrap_err(),
        "Failed to deserialize form body: unknown variant `nope`, expected one of `azuread`, `entra_id`, `tokenx`, `maskinporten`, `idporten`"
    );
    let r = parse_form(b"identity_provider=maskinporten&token=a.b.c").unwrap();
    assert_eq!(r.token, "a.b.c");
}

#[test]
fn valid_token_yields_its_claims() {
    let t = token().scope("nav:a/b").scope("nav:c/d").sign();
    let claims = check(&t).unwrap();
    assert_eq!(claims["scope"], "nav:a/b nav:c/d");
    assert_eq!(claims["iss"], DEFAULT_ISSUER);
    assert_eq!(claims["client_amr"], "private_key_jwt");
    assert_eq!(claims["token_type"], "Bearer");
    assert_eq!(
        claims["consumer"],
        json!({"authority": "iso6523-actorid-upis", "ID": "0192:991825827"})
    );
    assert!(claims.get("supplier").is_none());
    for c in ["client_id", "jti", "exp", "iat"] {
        assert!(claims.contains_key(c), "{c}");
    }
}

#[test]
fn broken_tokens_get_texas_errors() {
    let now = unix_now();
    let cases: Vec<(TokenBuilder, &str)> = vec![
        (token().exp(now - 3600), "invalid token: ExpiredSignature"),
        (token().iat(now + 3600), "invalid token: ImmatureSignature"),
        (token().nbf(now + 3600), "invalid token: ImmatureSignature"),
        (token().issuer("https://maskinporten.no/"), "invalid token: InvalidIssuer"),
        (token().without("iss"), "invalid token: Missing required claim: iss"),
        (token().without("exp"), "invalid token: Missing required claim: exp"),
        (token().without("iat"), "invalid token: Missing required claim: iat"),
        (
            token().without("iss").without("exp"),
            "invalid token: Missing required claim: iss",
        ),
        (token().without_kid(), "missing key id from token header"),
        (
            token().kid("nope"),
            "token can not be validated with this identity provider",
        ),
        (
            token().signed_by_other_key(),
            "token can not be validated with this identity provider",
        ),
        (
            token().signed_by_other_key().kid(DEFAULT_KID),
            "invalid token: InvalidSignature",
        ),
        (token().hs256(b"secret"), "invalid token: InvalidAlgorithm"),
        (token().tampered(), "invalid token: InvalidSignature"),
        (
            token().unsigned(),
            "invalid token header: JSON error: unknown variant `none`, expected one of `HS256`, `HS384`, `HS512`, `ES256`, `ES384`, `RS256`, `RS384`, `RS512`, `PS256`, `PS384`, `PS512`, `EdDSA` at line 1 column 14",
        ),
    ];
    for (builder, expected) in cases {
        let claims = builder.claims().clone();
        assert_eq!(check(&builder.sign()).unwrap_err(), expected, "{claims:?}");
    }
    assert_eq!(
        check("not-a-jwt").unwrap_err(),
        "invalid token header: InvalidToken"
    );
    assert_eq!(check("").unwrap_err(), "invalid token header: InvalidToken");
    let bearer = format!("Bearer {}", token().sign());
    assert_eq!(
        check(&bearer).unwrap_err(),
        "invalid token header: Base64 error: Invalid symbol 32, offset 6."
    );
}

#[test]
fn leeway_is_sixty_seconds() {
    let now = unix_now();
    assert!(check(&token().exp(now - 30).sign()).is_ok());
    assert!(check(&token().expired(Duration::from_secs(30)).sign()).is_ok());
    assert!(check(&token().iat(now + 30).sign()).is_ok());
    assert!(check(&token().nbf(now + 30).sign()).is_ok());
    assert!(check(&token().exp(now - 90).sign()).is_err());
}

#[test]
fn aud_is_not_validated() {
    assert!(check(&token().claim("aud", json!("unspecified")).sign()).is_ok());
    assert!(check(&token().claim("aud", json!(["a", "b"])).sign()).is_ok());
}

#[test]
fn builder_setters() {
    let b = token()
        .scopes(["a:b/cd", "a:b/ef"])
        .raw_scope("x\ty")
        .supplier("123456789")
        .consumer_id("0192:1:2")
        .client_id("cid")
        .jti("j")
        .claim("pid", json!("12345678901"))
        .without("token_type");
    let c = b.claims();
    assert_eq!(c["scope"], "x\ty");
    assert_eq!(c["supplier"]["ID"], "0192:123456789");
    assert_eq!(c["consumer"]["ID"], "0192:1:2");
    assert_eq!(c["client_id"], "cid");
    assert_eq!(c["jti"], "j");
    assert_eq!(c["pid"], "12345678901");
    assert!(c.get("token_type").is_none());
    let claims = check(&b.sign()).unwrap();
    assert_eq!(claims["scope"], "x\ty");

    let tampered = token()
        .scope("a:b/cd")
        .tampered_claim("scope", json!("a:b/cd admin"));
    assert_eq!(
        check(&tampered.sign()).unwrap_err(),
        "invalid token: InvalidSignature"
    );
}

#[test]
fn handles_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<super::LocalTexas>();
    assert_send_sync::<super::LocalTexasBuilder>();
    assert_send_sync::<TokenBuilder>();
}
