//! Bad input from callers: every shape of `Authorization` header a client,
//! a proxy or an attacker can send, written byte by byte on a raw TCP
//! connection (reqwest refuses to send some of them), and scope claims
//! crafted to look like the required scope. Nothing malformed reaches the
//! introspection endpoint, and nothing is ever a false grant.

use actix_web::{get, web, HttpResponse, Responder};
use maskinporten_actix::{require_scope, testing::LocalTexas};
use maskinporten_tests::{
    assert_no_stray_panics, client, read_token, watch_panics, TestApi, READ, WRITE,
};
use reqwest::StatusCode;
use serde_json::json;

#[get("/one")]
#[require_scope("nav:helse/sykepenger/afp.read")]
async fn read_only() -> impl Responder {
    HttpResponse::Ok().body("one")
}

#[get("/all")]
#[require_scope("nav:helse/sykepenger/afp.read", "nav:helse/sykepenger/afp.write")]
async fn read_and_write() -> impl Responder {
    HttpResponse::Ok().body("all")
}

#[get("/any")]
#[require_scope(any("nav:helse/sykepenger/afp.read", "nav:helse/sykepenger/afp.write"))]
async fn read_or_write() -> impl Responder {
    HttpResponse::Ok().body("any")
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(read_only)
        .service(read_and_write)
        .service(read_or_write);
}

/// What a row must answer.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// 200 from the handler.
    Pass,
    /// 401, bare `Bearer` challenge: no bearer credentials.
    NoCredentials,
    /// 400 `invalid_request` with this description.
    InvalidRequest(&'static str),
    /// 401 `invalid_token` with this description.
    InvalidToken(&'static str),
    /// 403 `insufficient_scope` for READ.
    InsufficientScope,
    /// A status from actix's HTTP/1 parser, before any handler or the guard
    /// runs: no challenge, nothing of ours in the body.
    Http(u16),
}

const NEEDS_A_TOKEN: &str = "the Bearer scheme needs a token";
const TWO_HEADERS: &str = "more than one Authorization header";
const NOT_VISIBLE_ASCII: &str =
    "the Authorization header contains characters outside visible ASCII";
const TWO_CREDENTIALS: &str = "the Authorization header carries more than one credential";
const TOO_LARGE: &str = "the access token is too large";
const MALFORMED: &str = "the access token is malformed";
const NOT_ACTIVE: &str = "the access token is not active";
const LACKS_SCOPE: &str = "the access token lacks a scope this resource requires";

impl Expect {
    fn status(self) -> u16 {
        match self {
            Expect::Pass => 200,
            Expect::NoCredentials | Expect::InvalidToken(_) => 401,
            Expect::InvalidRequest(_) => 400,
            Expect::InsufficientScope => 403,
            Expect::Http(status) => status,
        }
    }

    /// The exact `WWW-Authenticate` value, and the exact body.
    fn challenge_and_body(self) -> Option<(String, String)> {
        let (code, description) = match self {
            Expect::Pass | Expect::Http(_) => return None,
            Expect::NoCredentials => return Some((
                "Bearer".into(),
                r#"{"error":"missing_token","error_description":"no bearer token in the request"}"#
                    .into(),
            )),
            Expect::InvalidRequest(description) => ("invalid_request", description),
            Expect::InvalidToken(description) => ("invalid_token", description),
            Expect::InsufficientScope => ("insufficient_scope", LACKS_SCOPE),
        };
        let mut challenge = format!(r#"Bearer error="{code}", error_description="{description}""#);
        if code == "insufficient_scope" {
            challenge.push_str(&format!(r#", scope="{READ}""#));
        }
        let body = if code == "insufficient_scope" {
            format!(r#"{{"error":"{code}","error_description":"{description}","scope":"{READ}"}}"#)
        } else {
            format!(r#"{{"error":"{code}","error_description":"{description}"}}"#)
        };
        Some((challenge, body))
    }
}

/// One request: a name, its header lines (besides the request line and
/// `Host`), the answer it must get, and how many introspections it may cause
/// (the handle has no cache, so each one that reaches the network costs one).
struct Row {
    name: &'static str,
    headers: Vec<Vec<u8>>,
    expect: Expect,
    introspections: u64,
}

fn row(name: &'static str, headers: Vec<Vec<u8>>, expect: Expect, introspections: u64) -> Row {
    Row {
        name,
        headers,
        expect,
        introspections,
    }
}

/// `Authorization: <value>`.
fn auth(value: impl AsRef<[u8]>) -> Vec<Vec<u8>> {
    vec![[b"Authorization: ".as_slice(), value.as_ref()].concat()]
}

fn bearer(token: &str) -> Vec<Vec<u8>> {
    auth(format!("Bearer {token}"))
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn rows(texas: &LocalTexas) -> Vec<Row> {
    use Expect::*;
    let t = read_token(texas);
    let tb = t.as_bytes();
    let a = |n: usize| "a".repeat(n);
    vec![
        // ----- no bearer credentials: the bare challenge, no network
        row("no Authorization header", vec![], NoCredentials, 0),
        row(
            "empty value",
            vec![b"Authorization:".to_vec()],
            NoCredentials,
            0,
        ),
        row("only spaces", auth("     "), NoCredentials, 0),
        row("Basic", auth("Basic dXNlcjpwYXNz"), NoCredentials, 0),
        row(
            "Digest",
            auth(r#"Digest username="a", response="b""#),
            NoCredentials,
            0,
        ),
        row(
            "Bearer glued to the token",
            auth(format!("Bearer{t}")),
            NoCredentials,
            0,
        ),
        row(
            "Bearer with a colon",
            auth(format!("Bearer: {t}")),
            NoCredentials,
            0,
        ),
        row(
            "Bearer with a comma",
            auth(format!("Bearer,{t}")),
            NoCredentials,
            0,
        ),
        row(
            "Basic first, Bearer second",
            auth(format!("Basic eHl6, Bearer {t}")),
            NoCredentials,
            0,
        ),
        // Only Authorization carries credentials for this resource.
        row(
            "Proxy-Authorization only",
            vec![format!("Proxy-Authorization: Bearer {t}").into_bytes()],
            NoCredentials,
            0,
        ),
        // ----- accepted spellings: reach the endpoint and pass
        row("Bearer", bearer(&t), Pass, 1),
        row("bearer", auth(format!("bearer {t}")), Pass, 1),
        row("BEARER", auth(format!("BEARER {t}")), Pass, 1),
        row("bEaReR", auth(format!("bEaReR {t}")), Pass, 1),
        // RFC 6750: `"Bearer" 1*SP b64token`.
        row("several spaces", auth(format!("Bearer      {t}")), Pass, 1),
        // Leading and trailing whitespace is not part of a field value (RFC
        // 9110 §5.5): the parser strips it, tabs included.
        row(
            "surrounding spaces",
            auth(format!("    Bearer {t}    ")),
            Pass,
            1,
        ),
        row("trailing tab", auth(format!("Bearer {t}\t")), Pass, 1),
        row("leading tab", auth(format!("\tBearer {t}")), Pass, 1),
        row(
            "lower-case field name",
            vec![format!("authorization: Bearer {t}").into_bytes()],
            Pass,
            1,
        ),
        row(
            "upper-case field name",
            vec![format!("AUTHORIZATION: Bearer {t}").into_bytes()],
            Pass,
            1,
        ),
        row(
            "no space after the colon",
            vec![format!("Authorization:Bearer {t}").into_bytes()],
            Pass,
            1,
        ),
        // ----- malformed requests: 400, no network
        row(
            "Bearer alone",
            auth("Bearer"),
            InvalidRequest(NEEDS_A_TOKEN),
            0,
        ),
        row(
            "Bearer and spaces",
            auth("Bearer     "),
            InvalidRequest(NEEDS_A_TOKEN),
            0,
        ),
        row(
            "lower-case bearer alone",
            auth("bearer"),
            InvalidRequest(NEEDS_A_TOKEN),
            0,
        ),
        row(
            "two headers, same token",
            [bearer(&t), bearer(&t)].concat(),
            InvalidRequest(TWO_HEADERS),
            0,
        ),
        row(
            "two headers, one empty",
            [bearer(&t), vec![b"Authorization:".to_vec()]].concat(),
            InvalidRequest(TWO_HEADERS),
            0,
        ),
        row(
            "two headers, Basic and Bearer",
            [auth("Basic eHl6"), bearer(&t)].concat(),
            InvalidRequest(TWO_HEADERS),
            0,
        ),
        row(
            "comma list of two bearer credentials",
            auth(format!("Bearer {t}, Bearer {t}")),
            InvalidRequest(TWO_CREDENTIALS),
            0,
        ),
        row(
            "comma list, Bearer then Basic",
            auth(format!("Bearer {t}, Basic eHl6")),
            InvalidRequest(TWO_CREDENTIALS),
            0,
        ),
        row(
            "token followed by an auth-param",
            auth(format!(r#"Bearer {t} realm="x""#)),
            InvalidRequest(TWO_CREDENTIALS),
            0,
        ),
        row(
            "two tokens",
            auth(format!("Bearer {t} {t}")),
            InvalidRequest(TWO_CREDENTIALS),
            0,
        ),
        row(
            "tab after Bearer",
            auth(format!("Bearer\t{t}")),
            InvalidRequest(NOT_VISIBLE_ASCII),
            0,
        ),
        row(
            "tab inside the token",
            auth(cat(&[b"Bearer ", &tb[..10], b"\t", &tb[10..]])),
            InvalidRequest(NOT_VISIBLE_ASCII),
            0,
        ),
        row(
            "UTF-8 ø in the token",
            auth("Bearer tøken"),
            InvalidRequest(NOT_VISIBLE_ASCII),
            0,
        ),
        row(
            "no-break space after Bearer",
            auth(format!("Bearer\u{a0}{t}")),
            InvalidRequest(NOT_VISIBLE_ASCII),
            0,
        ),
        row(
            "ideographic space after Bearer",
            auth(format!("Bearer\u{3000}{t}")),
            InvalidRequest(NOT_VISIBLE_ASCII),
            0,
        ),
        row(
            "non-UTF-8 byte after the token",
            auth(cat(&[b"Bearer ", tb, b"\xff"])),
            InvalidRequest(NOT_VISIBLE_ASCII),
            0,
        ),
        row(
            "Latin-1 é",
            auth(b"Bearer caf\xe9"),
            InvalidRequest(NOT_VISIBLE_ASCII),
            0,
        ),
        row(
            "UTF-8 BOM before Bearer",
            auth(cat(&[b"\xef\xbb\xbfBearer ", tb])),
            InvalidRequest(NOT_VISIBLE_ASCII),
            0,
        ),
        row(
            "overlong UTF-8 space",
            auth(cat(&[b"Bearer\xc0\xa0", tb])),
            InvalidRequest(NOT_VISIBLE_ASCII),
            0,
        ),
        // ----- outside RFC 6750's b64token: 401 malformed, no network
        row(
            "comma in the token",
            auth("Bearer a,b"),
            InvalidToken(MALFORMED),
            0,
        ),
        row(
            "quoted token",
            auth(format!("Bearer \"{t}\"")),
            InvalidToken(MALFORMED),
            0,
        ),
        row(
            "semicolon after the token",
            auth(format!("Bearer {t};")),
            InvalidToken(MALFORMED),
            0,
        ),
        row("dollar", auth("Bearer abc$def"), InvalidToken(MALFORMED), 0),
        row(
            "percent-encoded",
            auth("Bearer abc%3Ddef"),
            InvalidToken(MALFORMED),
            0,
        ),
        row(
            "at sign",
            auth("Bearer user@example"),
            InvalidToken(MALFORMED),
            0,
        ),
        row(
            "backslash",
            auth(r"Bearer abc\def"),
            InvalidToken(MALFORMED),
            0,
        ),
        row(
            "JSON",
            auth(r#"Bearer {"active":true}"#),
            InvalidToken(MALFORMED),
            0,
        ),
        row(
            "only padding",
            auth("Bearer ==="),
            InvalidToken(MALFORMED),
            0,
        ),
        row(
            "padding inside",
            auth("Bearer ab=cd"),
            InvalidToken(MALFORMED),
            0,
        ),
        row(
            "padding first",
            auth(format!("Bearer ={t}")),
            InvalidToken(MALFORMED),
            0,
        ),
        // ----- size: the guard's limit is 8 KiB (DEFAULT_MAX_TOKEN_LENGTH);
        // 8 KiB of `a` is no compact JWS, refused without the network
        row(
            "token of exactly 8 KiB",
            auth(format!("Bearer {}", a(8192))),
            InvalidToken(NOT_ACTIVE),
            0,
        ),
        row(
            "token of 8 KiB + 1",
            auth(format!("Bearer {}", a(8193))),
            InvalidToken(TOO_LARGE),
            0,
        ),
        // actix reads request heads of up to 128 KiB (its h1 decoder's
        // MAX_BUFFER_SIZE is 131 072 bytes): a 64 KiB token reaches the guard,
        // which refuses it by size, before the network.
        row(
            "token of 64 KiB",
            auth(format!("Bearer {}", a(64 * 1024))),
            InvalidToken(TOO_LARGE),
            0,
        ),
        // Beyond that, actix answers 431 itself and closes the connection;
        // neither the guard nor the endpoint sees the request.
        row(
            "token of 256 KiB",
            auth(format!("Bearer {}", a(256 * 1024))),
            Http(431),
            0,
        ),
        // ----- b64token-shaped but not a usable token. What the sidecar
        // would refuse anyway (not a compact JWS, not RS256, no kid, expired
        // beyond the leeway, another issuer) is refused without asking it;
        // the signature is the endpoint's to judge.
        row("not a JWT", auth("Bearer abc"), InvalidToken(NOT_ACTIVE), 0),
        row(
            "every b64token character",
            auth("Bearer aZ09-._~+/=="),
            InvalidToken(NOT_ACTIVE),
            0,
        ),
        row(
            "valid JWT with = padding",
            auth(format!("Bearer {t}==")),
            InvalidToken(NOT_ACTIVE),
            0,
        ),
        row(
            "expired two hours ago",
            bearer(
                &texas
                    .token()
                    .scope(READ)
                    .expired(std::time::Duration::from_secs(7200))
                    .sign(),
            ),
            InvalidToken(NOT_ACTIVE),
            0,
        ),
        row(
            "another issuer",
            bearer(
                &texas
                    .token()
                    .scope(READ)
                    .issuer("https://maskinporten.no/")
                    .sign(),
            ),
            InvalidToken(NOT_ACTIVE),
            0,
        ),
        row(
            "alg none",
            bearer(&texas.token().scope(READ).unsigned().sign()),
            InvalidToken(NOT_ACTIVE),
            0,
        ),
        row(
            "HS256",
            bearer(&texas.token().scope(READ).hs256(b"secret").sign()),
            InvalidToken(NOT_ACTIVE),
            0,
        ),
        row(
            "signed by another key",
            bearer(&texas.token().scope(READ).signed_by_other_key().sign()),
            InvalidToken(NOT_ACTIVE),
            1,
        ),
        row(
            "scope widened after signing",
            bearer(
                &texas
                    .token()
                    .scope(WRITE)
                    .tampered_claim("scope", json!(READ))
                    .sign(),
            ),
            InvalidToken(NOT_ACTIVE),
            1,
        ),
        row(
            "no kid",
            bearer(&texas.token().scope(READ).without_kid().sign()),
            InvalidToken(NOT_ACTIVE),
            0,
        ),
        // ----- a valid token without the scope
        row(
            "valid, other scope",
            bearer(&texas.token().scope(WRITE).sign()),
            InsufficientScope,
            1,
        ),
        // ----- not HTTP: actix's parser answers 400 before any handler runs
        row(
            "DEL byte",
            auth(cat(&[b"Bearer ", tb, b"\x7f"])),
            Http(400),
            0,
        ),
        row(
            "NUL byte",
            auth(cat(&[b"Bearer ", &tb[..5], b"\0", &tb[5..]])),
            Http(400),
            0,
        ),
        row(
            "bare CR",
            auth(cat(&[b"Bearer ", &tb[..5], b"\r", &tb[5..]])),
            Http(400),
            0,
        ),
        row(
            "vertical tab",
            auth(cat(&[b"Bearer\x0b", tb])),
            Http(400),
            0,
        ),
        // Line folding is obsolete (RFC 9112 §5.2); a server may reject it.
        row(
            "folded onto a second line",
            vec![b"Authorization: Bearer".to_vec(), cat(&[b" ", tb])],
            Http(400),
            0,
        ),
        row(
            "space before the colon",
            vec![cat(&[b"Authorization : Bearer ", tb])],
            Http(400),
            0,
        ),
    ]
}

#[actix_web::test]
async fn every_authorization_header_gets_its_exact_answer() {
    watch_panics();
    let texas = LocalTexas::start();
    let mp = texas
        .maskinporten_builder()
        .exposed_scopes(maskinporten_tests::EXPOSED)
        .disable_cache()
        .build()
        .unwrap();
    let api = TestApi::start(Some(mp), routes);
    let rows = rows(&texas);
    assert!(rows.len() >= 40);
    let valid = read_token(&texas);
    let mut reaching = 0;
    for row in &rows {
        let before = texas.introspections();
        let response = api.raw_get("/one", &row.headers).await;
        let name = row.name;
        assert_eq!(
            response.status,
            row.expect.status(),
            "{name}: status, {}",
            response.text()
        );
        let challenge = response.header("www-authenticate");
        match row.expect.challenge_and_body() {
            Some((expected_challenge, expected_body)) => {
                assert_eq!(
                    challenge.as_deref(),
                    Some(&*expected_challenge),
                    "{name}: challenge"
                );
                assert_eq!(response.text(), expected_body, "{name}: body");
                assert_eq!(
                    response.header("cache-control").as_deref(),
                    Some("no-store"),
                    "{name}"
                );
            }
            None => {
                assert_eq!(challenge, None, "{name}: challenge");
                if let Expect::Pass = row.expect {
                    assert_eq!(response.text(), "one", "{name}: body");
                }
            }
        }
        assert_eq!(
            texas.introspections() - before,
            row.introspections,
            "{name}: introspections"
        );
        reaching += row.introspections;
        // Nothing of a token comes back, whatever the answer.
        for fragment in [&valid[..], &valid[valid.len() - 40..]] {
            assert!(
                !response.text().contains(fragment),
                "{name}: token in the body"
            );
            for (header, value) in &response.headers {
                assert!(
                    !String::from_utf8_lossy(value).contains(fragment),
                    "{name}: token in {header}"
                );
            }
        }
    }
    assert_eq!(texas.introspections(), reaching);
    eprintln!(
        "{} header rows, {reaching} of them reached the endpoint",
        rows.len()
    );
    assert_no_stray_panics();
}

/// A scope claim and whether it grants each route: `/one` needs READ, `/all`
/// needs READ and WRITE, `/any` needs one of them.
struct ScopeCase {
    scope: String,
    one: bool,
    all: bool,
    any: bool,
}

fn denied(scope: impl Into<String>) -> ScopeCase {
    ScopeCase {
        scope: scope.into(),
        one: false,
        all: false,
        any: false,
    }
}

fn grants(scope: impl Into<String>, one: bool, all: bool, any: bool) -> ScopeCase {
    ScopeCase {
        scope: scope.into(),
        one,
        all,
        any,
    }
}

/// Claims that look like READ or WRITE, or hold them in a form that is not
/// a whole, exact scope: none grants anything. Each is built from both
/// required scopes, so that no route can be satisfied by accident.
fn lookalikes() -> Vec<ScopeCase> {
    let mut cases = Vec::new();
    for s in [READ, WRITE] {
        let (head, last) = s.split_at(s.len() - 1);
        let variants = [
            // prefixes and suffixes
            head.to_owned(),
            s.trim_end_matches(".read")
                .trim_end_matches(".write")
                .to_owned(),
            format!("{s}x"),
            format!("{s}.x"),
            format!("{s}/"),
            format!("{s}:"),
            format!("x{s}"),
            format!(":{s}"),
            // case
            s.to_uppercase(),
            s.replacen("nav", "NAV", 1),
            s.replacen("nav", "Nav", 1),
            s.replacen("afp", "AFP", 1),
            // unicode look-alikes
            s.replacen('a', "\u{430}", 1),  // Cyrillic а
            s.replacen('e', "\u{435}", 1),  // Cyrillic е
            s.replacen('p', "\u{440}", 1),  // Cyrillic р
            s.replacen("nav", "ｎａｖ", 1), // fullwidth
            s.replacen(':', "\u{ff1a}", 1), // fullwidth colon
            s.replacen('/', "\u{ff0f}", 1), // fullwidth solidus
            s.replacen('/', "\u{2215}", 1), // division slash
            s.replacen('.', "\u{ff0e}", 1), // fullwidth full stop
            s.replacen('.', "\u{2024}", 1), // one dot leader
            format!("{head}{}", last.to_uppercase()),
            format!("{s}\u{301}"),           // combining acute accent
            s.replacen('.', ".\u{200b}", 1), // zero-width space
            format!("\u{feff}{s}"),          // byte order mark
            format!("{s}\u{200d}"),          // zero-width joiner
            s.replacen("sykepenger", "syke\u{ad}penger", 1), // soft hyphen
            format!("{s}\0"),
            // the scope embedded in another string
            format!("\"{s}\""),
            format!("[{s}]"),
            format!("scope={s}"),
            format!("{s}={s}"),
            format!("{s}{s}"),
            String::from(s).replace("afp.", "afp.x"),
        ];
        cases.extend(variants.into_iter().map(denied));
    }
    // READ and WRITE joined by something other than SP: RFC 6749 §3.3
    // separates scopes with U+0020 alone, so a tab, LF, CR or FF is part of a
    // (malformed) scope and never a separator.
    for separator in [
        "\t", "\n", "\r", "\x0c", "\r\n", ",", ";", "|", "+", "%20", "&", "\u{a0}", "\u{1680}",
        "\u{2002}", "\u{2003}", "\u{2009}", "\u{200a}", "\u{200b}", "\u{2028}", "\u{2029}",
        "\u{202f}", "\u{205f}", "\u{3000}", "\u{85}", "\u{180e}", "\u{feff}", "\x0b",
    ] {
        cases.push(denied(format!("{READ}{separator}{WRITE}")));
    }
    // empty
    for empty in ["", " ", "\t", "   \n  ", "   "] {
        cases.push(denied(empty));
    }
    cases
}

/// Controls: the whole, exact scopes do grant, so the denials above are the
/// guard's judgement and not a broken test.
fn exact() -> Vec<ScopeCase> {
    let upper_write = WRITE.to_uppercase();
    vec![
        grants(READ, true, false, true),
        grants(WRITE, false, false, true),
        grants(format!("{READ} {WRITE}"), true, true, true),
        grants(format!("{WRITE} {READ}"), true, true, true),
        // a tab glued to a scope spoils that scope only; SP still separates
        grants(format!("{READ} \t{WRITE}"), true, false, true),
        grants(format!("  {READ}  "), true, false, true),
        // duplicates add nothing
        grants(format!("{READ} {READ}"), true, false, true),
        grants(format!("{WRITE} {WRITE}"), false, false, true),
        // a look-alike beside a real scope counts for nothing
        grants(format!("{READ} {upper_write}"), true, false, true),
        grants(
            format!("{} {WRITE}", READ.replacen('a', "\u{430}", 1)),
            false,
            false,
            true,
        ),
        grants(format!("{READ},{WRITE} {WRITE}"), false, false, true),
        // "A, B" is the scopes `A,` and `B`: B is whole and exact, A is not.
        grants(format!("{READ}, {WRITE}"), false, false, true),
    ]
}

#[actix_web::test]
async fn scope_tricks_are_never_a_grant() {
    watch_panics();
    let texas = LocalTexas::start();
    let mp = maskinporten_tests::handle(&texas);
    let api = TestApi::start(Some(mp), routes);
    let client = client();
    let cases: Vec<ScopeCase> = lookalikes().into_iter().chain(exact()).collect();
    for case in &cases {
        let token = texas.token().raw_scope(&case.scope).sign();
        for (path, granted) in [("/one", case.one), ("/all", case.all), ("/any", case.any)] {
            let response = client
                .get(api.url(path))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            let expected = if granted {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(response.status(), expected, "{path} {:?}", case.scope);
            if !granted {
                let challenge = response.headers()["www-authenticate"].to_str().unwrap();
                let scope = if path == "/one" {
                    READ.to_owned()
                } else {
                    format!("{READ} {WRITE}")
                };
                assert!(
                    challenge.starts_with(r#"Bearer error="insufficient_scope""#)
                        && challenge.ends_with(&format!(r#"scope="{scope}""#)),
                    "{path} {:?}: {challenge}",
                    case.scope
                );
            }
        }
    }
    eprintln!("{} scope claims, each on 3 routes", cases.len());
    assert_no_stray_panics();
}

/// Claims that are not a `scope` string: no grant either.
#[actix_web::test]
async fn scopes_outside_a_scope_string_are_never_a_grant() {
    watch_panics();
    let texas = LocalTexas::start();
    let mp = maskinporten_tests::handle(&texas);
    let api = TestApi::start(Some(mp), routes);
    let client = client();
    let cases = [
        // `scp` is another issuer's claim; the guard reads `scope` only.
        (
            texas
                .token()
                .without("scope")
                .claim("scp", json!([READ, WRITE])),
            403,
        ),
        (
            texas
                .token()
                .without("scope")
                .claim("scp", json!(format!("{READ} {WRITE}"))),
            403,
        ),
        (
            texas
                .token()
                .without("scope")
                .claim("scopes", json!([READ, WRITE])),
            403,
        ),
        (texas.token().claim("scope", json!(null)), 403),
        // A `scope` that is not a string is no claim a Maskinporten token
        // has: the token is unusable, refused (401) as local validation
        // refuses it, never a grant.
        (texas.token().claim("scope", json!([READ, WRITE])), 401),
        (
            texas
                .token()
                .claim("scope", json!({ READ: true, WRITE: true })),
            401,
        ),
        (texas.token().claim("scope", json!(true)), 401),
    ];
    for (builder, status) in cases {
        let token = builder.sign();
        for path in ["/one", "/all", "/any"] {
            let response = client
                .get(api.url(path))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status().as_u16(),
                status,
                "{path} {:?}",
                builder.claims()
            );
        }
    }
    assert_no_stray_panics();
}
