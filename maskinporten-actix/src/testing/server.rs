//! The HTTP side of the local endpoint: request parsing and token validation
//! that answer exactly as Texas does.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt as _;
use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::{Algorithm, Validation};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::keys::{keys, unix_now};

/// Path of the introspection endpoint, as on Texas.
pub(crate) const INTROSPECT_PATH: &str = "/api/v1/introspect";
/// Path of the JWKS document.
pub(crate) const JWKS_PATH: &str = "/jwks";
/// Path of the authorization server metadata (RFC 8414), as on Maskinporten.
pub(crate) const WELL_KNOWN_PATH: &str = "/.well-known/oauth-authorization-server";

/// Texas' leeway on `exp`, `nbf` and `iat`, in seconds.
const LEEWAY_SECS: u64 = 60;
/// Largest request body read (axum's default limit, which Texas keeps).
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// State shared by the server's workers and the [`LocalTexas`](super::LocalTexas) handle.
pub(crate) struct Shared {
    pub(crate) issuer: String,
    pub(crate) base_url: String,
    pub(crate) introspections: AtomicU64,
    pub(crate) latency_nanos: AtomicU64,
    /// Texas serialises introspections per provider (a write lock around
    /// validation): so does this endpoint.
    pub(crate) maskinporten: futures_util::lock::Mutex<()>,
    /// The kids `/jwks` publishes and the introspection trusts.
    pub(crate) published: std::sync::RwLock<Vec<&'static str>>,
    /// GETs of `/jwks`, whatever their answer.
    pub(crate) jwks_fetches: AtomicU64,
    pub(crate) jwks_fault: std::sync::Mutex<super::JwksFault>,
}

impl Shared {
    pub(crate) fn latency(&self) -> Duration {
        Duration::from_nanos(self.latency_nanos.load(Ordering::Relaxed))
    }

    pub(crate) fn set_latency(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.latency_nanos.store(nanos, Ordering::Relaxed);
    }

    pub(crate) fn published(&self) -> Vec<&'static str> {
        self.published
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn jwks_fault(&self) -> super::JwksFault {
        self.jwks_fault
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Registers the endpoint's routes.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(INTROSPECT_PATH)
            .route(web::post().to(introspect))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource(JWKS_PATH)
            .route(web::get().to(jwks))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource(WELL_KNOWN_PATH)
            .route(web::get().to(well_known))
            .default_service(web::to(method_not_allowed)),
    );
}

async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed().finish()
}

async fn jwks(shared: web::Data<Shared>) -> HttpResponse {
    use super::JwksFault;
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let document = keys().jwks_of(&shared.published());
    match shared.jwks_fault() {
        JwksFault::None => json_response(StatusCode::OK, &document),
        JwksFault::Status(status) => HttpResponse::build(
            StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
        )
        .body("the JWKS is not available"),
        JwksFault::Delay(delay) => {
            actix_web::rt::time::sleep(delay).await;
            json_response(StatusCode::OK, &document)
        }
        JwksFault::Garbage => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .body("<html>{\"keys\": [garbage"),
        JwksFault::EmptyKeySet => json_response(StatusCode::OK, &json!({ "keys": [] })),
        JwksFault::Oversized => {
            // The keys, padded far beyond any real key set.
            let mut padded = document;
            padded["padding"] = Value::String("x".repeat(4 * 1024 * 1024));
            json_response(StatusCode::OK, &padded)
        }
    }
}

async fn well_known(shared: web::Data<Shared>) -> HttpResponse {
    json_response(
        StatusCode::OK,
        &json!({
            "issuer": shared.issuer,
            "jwks_uri": format!("{}{JWKS_PATH}", shared.base_url),
            "introspection_endpoint": format!("{}{INTROSPECT_PATH}", shared.base_url),
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        }),
    )
}

fn json_response(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(body.to_string())
}

fn invalid_request(description: String) -> HttpResponse {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"error": "invalid_request", "error_description": description}),
    )
}

fn inactive(error: String) -> HttpResponse {
    json_response(StatusCode::OK, &json!({"active": false, "error": error}))
}

async fn introspect(
    req: HttpRequest,
    mut payload: web::Payload,
    shared: web::Data<Shared>,
) -> HttpResponse {
    shared.introspections.fetch_add(1, Ordering::SeqCst);

    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        match chunk {
            Ok(chunk) if body.len() + chunk.len() <= BODY_LIMIT => body.extend_from_slice(&chunk),
            Ok(_) => {
                return answer_later(
                    &shared,
                    invalid_request(
                        "Failed to buffer the request body: length limit exceeded".into(),
                    ),
                )
                .await
            }
            Err(e) => {
                return answer_later(
                    &shared,
                    invalid_request(format!("Failed to buffer the request body: {e}")),
                )
                .await
            }
        }
    }

    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let parsed = match content_type {
        Some(ct) if ct.starts_with("application/json") => parse_json(&body),
        Some(ct) if ct.starts_with("application/x-www-form-urlencoded") => parse_form(&body),
        None => parse_form(&body),
        Some(other) => Err(format!(
            "unsupported media type: {other}: expected one of `application/json`, \
             `application/x-www-form-urlencoded`"
        )),
    };
    let request = match parsed {
        Ok(request) => request,
        Err(description) => return answer_later(&shared, invalid_request(description)).await,
    };

    if request.identity_provider != IdentityProvider::Maskinporten {
        let error = format!(
            "identity provider '{}' is not enabled",
            request.identity_provider
        );
        return answer_later(&shared, inactive(error)).await;
    }

    // Held until the answer is built: one validation at a time, as in Texas.
    let _serialised = shared.maskinporten.lock().await;
    let latency = shared.latency();
    if !latency.is_zero() {
        actix_web::rt::time::sleep(latency).await;
    }
    match validate_with(&request.token, &shared.issuer, &shared.published()) {
        Ok(mut claims) => {
            claims.insert("active".into(), Value::Bool(true));
            json_response(StatusCode::OK, &Value::Object(claims))
        }
        Err(error) => {
            tracing::debug!(%error, "local texas: token not active");
            inactive(error)
        }
    }
}

/// Answers after the configured latency (for answers given outside the
/// serialised validation section).
async fn answer_later(shared: &Shared, response: HttpResponse) -> HttpResponse {
    let latency = shared.latency();
    if !latency.is_zero() {
        actix_web::rt::time::sleep(latency).await;
    }
    response
}

// ----- request parsing -------------------------------------------------------

/// The identity providers Texas knows, in the order its error messages list them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub(crate) enum IdentityProvider {
    #[serde(rename = "azuread")]
    AzureAd,
    #[serde(rename = "entra_id")]
    EntraId,
    #[serde(rename = "tokenx")]
    TokenX,
    #[serde(rename = "maskinporten")]
    Maskinporten,
    #[serde(rename = "idporten")]
    IdPorten,
}

impl fmt::Display for IdentityProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdentityProvider::AzureAd => "azuread",
            IdentityProvider::EntraId => "entra_id",
            IdentityProvider::TokenX => "tokenx",
            IdentityProvider::Maskinporten => "maskinporten",
            IdentityProvider::IdPorten => "idporten",
        })
    }
}

/// Texas' introspection request. Field order matters: with both fields
/// missing, serde reports the first declared (`token`).
#[derive(Debug)]
pub(crate) struct IntrospectRequest {
    pub(crate) token: String,
    pub(crate) identity_provider: IdentityProvider,
}

/// Texas reads JSON bodies with axum's `Json`, which deserialises through
/// `serde_path_to_error`: an error inside a field's value is prefixed with the
/// field's path (`identity_provider: unknown variant ...`), errors at the top
/// level are not. Syntax and EOF errors are "Failed to parse the request body
/// as JSON", data errors "Failed to deserialize the JSON body into the target
/// type".
pub(crate) fn parse_json(body: &[u8]) -> Result<IntrospectRequest, String> {
    let path = Cell::new(None);
    let mut de = serde_json::Deserializer::from_slice(body);
    let result = RequestSeed { path: &path }
        .deserialize(&mut de)
        .and_then(|request| de.end().map(|()| request));
    result.map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => {
                "Failed to deserialize the JSON body into the target type"
            }
            _ => "Failed to parse the request body as JSON",
        };
        match path.take() {
            Some(path) => format!("{what}: {path}: {e}"),
            None => format!("{what}: {e}"),
        }
    })
}

/// Texas reads form bodies (and bodies without a content type) with axum's
/// `Form` (serde_urlencoded, no path prefix).
pub(crate) fn parse_form(body: &[u8]) -> Result<IntrospectRequest, String> {
    let text = String::from_utf8_lossy(body);
    match web::Query::<FormRequest>::from_query(&text) {
        Ok(web::Query(FormRequest(request))) => Ok(request),
        Err(actix_web::error::QueryPayloadError::Deserialize(e)) => {
            Err(format!("Failed to deserialize form body: {e}"))
        }
        Err(e) => Err(format!("Failed to deserialize form body: {e}")),
    }
}

/// [`IntrospectRequest`] for serde_urlencoded (no path tracking needed).
struct FormRequest(IntrospectRequest);

impl<'de> Deserialize<'de> for FormRequest {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let path = Cell::new(None);
        RequestSeed { path: &path }.deserialize(d).map(FormRequest)
    }
}

/// Deserialises an [`IntrospectRequest`] like `#[derive(Deserialize)]` would
/// (unknown fields ignored, duplicates and missing fields reported in serde's
/// words), recording in `path` the top-level field whose value failed.
struct RequestSeed<'a> {
    path: &'a Cell<Option<String>>,
}

const STRUCT_NAME: &str = "IntrospectRequest";
const FIELDS: &[&str] = &["token", "identity_provider"];

impl<'de> DeserializeSeed<'de> for RequestSeed<'_> {
    type Value = IntrospectRequest;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_struct(STRUCT_NAME, FIELDS, self)
    }
}

impl RequestSeed<'_> {
    fn at<E>(&self, segment: String) -> impl FnOnce(E) -> E + '_ {
        move |e| {
            self.path.set(Some(segment));
            e
        }
    }
}

impl<'de> Visitor<'de> for RequestSeed<'_> {
    type Value = IntrospectRequest;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "struct {STRUCT_NAME}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut token: Option<String> = None;
        let mut provider: Option<IdentityProvider> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "token" => {
                    if token.is_some() {
                        return Err(de::Error::duplicate_field("token"));
                    }
                    token = Some(map.next_value().map_err(self.at(key))?);
                }
                "identity_provider" => {
                    if provider.is_some() {
                        return Err(de::Error::duplicate_field("identity_provider"));
                    }
                    provider = Some(map.next_value().map_err(self.at(key))?);
                }
                _ => {
                    map.next_value::<IgnoredAny>().map_err(self.at(key))?;
                }
            }
        }
        let token = token.ok_or_else(|| de::Error::missing_field("token"))?;
        let identity_provider =
            provider.ok_or_else(|| de::Error::missing_field("identity_provider"))?;
        Ok(IntrospectRequest {
            token,
            identity_provider,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let expected = &"struct IntrospectRequest with 2 elements";
        let token: String = seq
            .next_element()
            .map_err(self.at("[0]".into()))?
            .ok_or_else(|| de::Error::invalid_length(0, expected))?;
        let identity_provider: IdentityProvider = seq
            .next_element()
            .map_err(self.at("[1]".into()))?
            .ok_or_else(|| de::Error::invalid_length(1, expected))?;
        Ok(IntrospectRequest {
            token,
            identity_provider,
        })
    }
}

// ----- validation --------------------------------------------------------------

/// Validates a Maskinporten token as Texas does, returning its claims or
/// Texas' error text.
///
/// Order: header (`invalid token header: ...`), `kid` present, `kid` in the
/// JWKS, then jsonwebtoken's checks (algorithm RS256, signature, payload
/// JSON), required `iss` then `exp`, `exp`/`nbf` with 60 s leeway, `iss`
/// equality, and finally `iat` present and not in the future. `aud` is not
/// validated for Maskinporten.
#[cfg(test)]
pub(crate) fn validate(token: &str, issuer: &str) -> Result<Map<String, Value>, String> {
    validate_with(token, issuer, &[super::DEFAULT_KID])
}

/// [`validate`] against the keys with the `published` kids.
pub(crate) fn validate_with(
    token: &str,
    issuer: &str,
    published: &[&str],
) -> Result<Map<String, Value>, String> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| format!("invalid token header: {e}"))?;
    let kid = header
        .kid
        .ok_or_else(|| "missing key id from token header".to_owned())?;
    let key = keys()
        .lookup_in(&kid, published)
        .ok_or_else(|| "token can not be validated with this identity provider".to_owned())?;

    // Texas asks for the spec claims {iss, exp} in one (randomly ordered)
    // set; check them one at a time so that the answer is deterministic.
    let mut presence = base_validation();
    presence.set_required_spec_claims(&["iss"]);
    let claims = jsonwebtoken::decode::<Map<String, Value>>(token, key, &presence)
        .map_err(invalid_token)?
        .claims;

    let mut full = base_validation();
    full.set_required_spec_claims(&["exp"]);
    full.validate_exp = true;
    full.validate_nbf = true;
    full.set_issuer(&[issuer]);
    jsonwebtoken::decode::<IgnoredAny>(token, key, &full).map_err(invalid_token)?;

    // jsonwebtoken does not look at `iat`; Texas checks it by hand.
    let iat = claims
        .get("iat")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid_token(ErrorKind::MissingRequiredClaim("iat".into()).into()))?;
    let now = u64::try_from(unix_now()).unwrap_or(0);
    if iat > now.saturating_add(LEEWAY_SECS) {
        return Err(invalid_token(ErrorKind::ImmatureSignature.into()));
    }
    Ok(claims)
}

/// RS256 only, 60 s leeway, nothing required or checked yet, `aud` ignored.
fn base_validation() -> Validation {
    let mut v = Validation::new(Algorithm::RS256);
    v.leeway = LEEWAY_SECS;
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v
}

fn invalid_token(e: JwtError) -> String {
    format!("invalid token: {e}")
}
