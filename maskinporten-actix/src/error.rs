//! Rejections and their HTTP responses (RFC 6750 §3, RFC 9110 §11.6.1).

use std::{fmt, sync::Arc};

use actix_web::{
    http::{
        header::{self, HeaderValue},
        StatusCode,
    },
    HttpResponse, ResponseError,
};

/// Renders every rejection of one [`Maskinporten`](crate::Maskinporten) handle;
/// set with [`MaskinportenBuilder::rejection_handler`](crate::MaskinportenBuilder::rejection_handler).
pub(crate) type RejectionHandler = Arc<dyn Fn(&MaskinportenError) -> HttpResponse + Send + Sync>;

/// What a rejection renders with: the realm of the challenge and the
/// application's own renderer, both taken from the `Maskinporten` handle.
#[derive(Default)]
pub(crate) struct Rendering {
    pub(crate) realm: Option<Box<str>>,
    pub(crate) handler: Option<RejectionHandler>,
}

/// Why a request was turned away. Each kind has one status and one
/// `WWW-Authenticate` challenge; see [`MaskinportenError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No bearer credentials: no `Authorization` header, an empty one, or
    /// another scheme. 401 with a bare `Bearer` challenge: RFC 6750 §3.1
    /// gives a request without credentials no `error` code, so
    /// `missing_token` is only in the JSON body and the metric label.
    MissingToken,
    /// A malformed request, such as two `Authorization` headers or `Bearer`
    /// without a token. 400 with `error="invalid_request"`.
    InvalidRequest,
    /// The token is not active, malformed or unusable. 401 with
    /// `error="invalid_token"`.
    InvalidToken,
    /// The token is active but lacks a required scope. 403 with
    /// `error="insufficient_scope"` and `scope="..."`.
    InsufficientScope,
    /// The token could not be checked: the validator is unreachable, slow, or
    /// answered something unusable. 503 without a challenge: it is not the
    /// caller's fault.
    ValidatorUnavailable,
    /// The application did not register a [`Maskinporten`](crate::Maskinporten)
    /// handle, or required a scope that is not a valid scope name. 500.
    Misconfigured,
    /// The token is valid, but the organisation behind it may not use this
    /// resource (a consumer allow-list). 403 without a challenge: a new token
    /// would not help. The answer never says which organisations may.
    AccessDenied,
}

impl ErrorKind {
    /// The HTTP status of this kind of rejection.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::MissingToken | ErrorKind::InvalidToken => StatusCode::UNAUTHORIZED,
            ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorKind::InsufficientScope | ErrorKind::AccessDenied => StatusCode::FORBIDDEN,
            ErrorKind::ValidatorUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Misconfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The outcome's one name: the `error` of the JSON body, the `outcome`
    /// label of `maskinporten_validations_total` (feature `metrics`) and the
    /// `decision` of the `maskinporten.validate` span; the variant's name in
    /// snake case.
    ///
    /// `invalid_request`, `invalid_token` and `insufficient_scope` are RFC
    /// 6750's codes (§3.1) and the challenge carries them too;
    /// `access_denied` is RFC 6749's (§4.1.2.1). `missing_token`,
    /// `validator_unavailable` and `misconfigured` are this crate's own:
    /// RFC 6750 gives a request without a token no code, and RFC 6749 has
    /// none for a resource server whose validator is down or whose guards
    /// are wrong.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::MissingToken => "missing_token",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::InvalidToken => "invalid_token",
            ErrorKind::InsufficientScope => "insufficient_scope",
            ErrorKind::ValidatorUnavailable => "validator_unavailable",
            ErrorKind::Misconfigured => "misconfigured",
            ErrorKind::AccessDenied => "access_denied",
        }
    }

    /// Every kind, in the order of the `outcome` label's values after
    /// `allowed`.
    #[cfg(feature = "metrics")]
    pub(crate) const ALL: [ErrorKind; 7] = [
        ErrorKind::MissingToken,
        ErrorKind::InvalidRequest,
        ErrorKind::InvalidToken,
        ErrorKind::InsufficientScope,
        ErrorKind::AccessDenied,
        ErrorKind::ValidatorUnavailable,
        ErrorKind::Misconfigured,
    ];
}

/// A rejected request, ready to be answered.
///
/// It implements [`ResponseError`], so it answers with this table (the body is
/// JSON, `{"error": ..., "error_description": ...}`, and never contains the
/// token):
///
/// | kind | status | `WWW-Authenticate` |
/// |---|---|---|
/// | [`MissingToken`](ErrorKind::MissingToken) | 401 | `Bearer` (with `realm` if configured) |
/// | [`InvalidToken`](ErrorKind::InvalidToken) | 401 | `Bearer error="invalid_token", error_description="..."` |
/// | [`InvalidRequest`](ErrorKind::InvalidRequest) | 400 | `Bearer error="invalid_request", error_description="..."` |
/// | [`InsufficientScope`](ErrorKind::InsufficientScope) | 403 | `Bearer error="insufficient_scope", error_description="...", scope="..."` |
/// | [`ValidatorUnavailable`](ErrorKind::ValidatorUnavailable) | 503 | none |
/// | [`Misconfigured`](ErrorKind::Misconfigured) | 500 | none |
/// | [`AccessDenied`](ErrorKind::AccessDenied) | 403 | none |
///
/// To answer in another shape, give the `Maskinporten` handle a
/// [`rejection_handler`](crate::MaskinportenBuilder::rejection_handler): it
/// renders every rejection of every handler.
#[derive(Clone)]
pub struct MaskinportenError {
    kind: ErrorKind,
    description: &'static str,
    required_scope: Option<Arc<str>>,
    rendering: Option<Arc<Rendering>>,
    /// Refused because the token holds none of the scopes the API exposes:
    /// a scope guard then names its own requirement in the challenge.
    not_exposed: bool,
}

impl MaskinportenError {
    pub(crate) fn new(kind: ErrorKind, description: &'static str) -> Self {
        MaskinportenError {
            kind,
            description,
            required_scope: None,
            rendering: None,
            not_exposed: false,
        }
    }

    pub(crate) fn insufficient_scope(required_scope: Arc<str>, description: &'static str) -> Self {
        MaskinportenError {
            required_scope: Some(required_scope),
            ..Self::new(ErrorKind::InsufficientScope, description)
        }
    }

    /// The refusal of a token that holds none of the scopes the API
    /// exposes (see `exposure`). It names no scope, in the challenge or the
    /// body: a token Maskinporten issued for another API must not let its
    /// holder list the scopes of this one.
    pub(crate) fn not_exposed() -> Self {
        MaskinportenError {
            not_exposed: true,
            ..Self::new(
                ErrorKind::InsufficientScope,
                "the access token holds none of the scopes this API exposes",
            )
        }
    }

    /// About how many bytes this error holds on the heap, for the cache's
    /// byte bound.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.required_scope.as_deref().map_or(0, str::len)
    }

    /// This rejection as a scope guard gives it: a token that holds none of
    /// the exposed scopes holds none of the guard's either, and the
    /// challenge names what the resource requires (RFC 6750 §3), as the
    /// guard's own refusal would. Any other rejection is unchanged.
    pub(crate) fn for_scope_guard<S: AsRef<str>>(self, scopes: &[S], any: bool) -> Self {
        if !self.not_exposed || scopes.is_empty() {
            return self;
        }
        let required: Vec<&str> = scopes.iter().map(AsRef::as_ref).collect();
        MaskinportenError {
            required_scope: Some(required.join(" ").into()),
            description: if any { SCOPE_NONE_OF } else { SCOPE_LACKING },
            not_exposed: false,
            ..self
        }
    }

    pub(crate) fn rendered_with(mut self, rendering: &Arc<Rendering>) -> Self {
        self.rendering = Some(Arc::clone(rendering));
        self
    }

    /// What kind of rejection this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The HTTP status it answers with.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// A short, fixed, human-readable reason; it never contains the token.
    pub fn description(&self) -> &'static str {
        self.description
    }

    /// For [`InsufficientScope`](ErrorKind::InsufficientScope) from a scope
    /// guard: the scopes it requires, separated by one space, as in the
    /// challenge's `scope` attribute. `None` for the handle's refusal of a
    /// token that holds none of the scopes the API exposes: that refusal
    /// names no scope.
    pub fn required_scope(&self) -> Option<&str> {
        self.required_scope.as_deref()
    }

    /// The `WWW-Authenticate` value this rejection carries, if any.
    pub fn challenge(&self) -> Option<String> {
        let realm = self.rendering.as_ref().and_then(|r| r.realm.as_deref());
        let mut params: Vec<(&str, &str)> = Vec::with_capacity(4);
        if let Some(realm) = realm {
            params.push(("realm", realm));
        }
        match self.kind {
            ErrorKind::MissingToken => {}
            ErrorKind::InvalidRequest | ErrorKind::InvalidToken => {
                params.push(("error", self.kind.code()));
                params.push(("error_description", self.description));
            }
            ErrorKind::InsufficientScope => {
                params.push(("error", self.kind.code()));
                params.push(("error_description", self.description));
                // RFC 6750 §3 allows only printable ASCII in `scope`; NAIS
                // scope names may hold æ, ø and å. Such a requirement is left
                // out of the challenge (the JSON body carries it) rather than
                // making the whole header unsendable.
                if let Some(scope) = self.required_scope.as_deref().filter(|s| is_scope_attr(s)) {
                    params.push(("scope", scope));
                }
            }
            ErrorKind::ValidatorUnavailable
            | ErrorKind::Misconfigured
            | ErrorKind::AccessDenied => return None,
        }
        let mut challenge = String::from("Bearer");
        for (i, (name, value)) in params.iter().enumerate() {
            challenge.push_str(if i == 0 { " " } else { ", " });
            challenge.push_str(name);
            challenge.push_str("=\"");
            push_quoted(&mut challenge, value);
            challenge.push('"');
        }
        Some(challenge)
    }

    /// The response this crate gives when the application has no rejection
    /// handler of its own; a handler can call it to decorate the default.
    pub fn default_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status());
        if let Some(challenge) = self.challenge() {
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response.insert_header((header::WWW_AUTHENTICATE, value));
            }
        }
        if self.kind == ErrorKind::ValidatorUnavailable {
            // A hint to retry soon: the sidecar is usually back within seconds.
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        response.insert_header(header::CacheControl(vec![header::CacheDirective::NoStore]));
        response.json(ErrorBody {
            error: self.kind.code(),
            error_description: self.description,
            scope: self.required_scope.as_deref(),
        })
    }
}

/// Whether `scope` fits RFC 6750's `scope` attribute: scope-tokens of
/// `%x21 / %x23-5B / %x5D-7E` separated by single spaces.
fn is_scope_attr(scope: &str) -> bool {
    !scope.is_empty()
        && scope.split(' ').all(|token| {
            !token.is_empty()
                && token
                    .bytes()
                    .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
        })
}

/// Escapes a value for an RFC 9110 quoted-string.
fn push_quoted(out: &mut String, value: &str) {
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
}

#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    error: &'static str,
    error_description: &'static str,
    /// The required scopes of an `insufficient_scope` rejection, in full
    /// (the challenge can only carry them when they are ASCII).
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
}

impl fmt::Debug for MaskinportenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaskinportenError")
            .field("kind", &self.kind)
            .field("description", &self.description)
            .field("required_scope", &self.required_scope)
            .finish()
    }
}

impl fmt::Display for MaskinportenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.description)
    }
}

impl std::error::Error for MaskinportenError {}

impl ResponseError for MaskinportenError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        match self.rendering.as_ref().and_then(|r| r.handler.as_ref()) {
            Some(handler) => handler(self),
            None => self.default_response(),
        }
    }
}

/// A `Maskinporten` handle could not be configured: a start-up error.
///
/// Its `Display` is one sentence that says what is wrong and what to do: the
/// environment variable or builder setting at fault, and the value it
/// expected. `Debug` prints the same sentence, so that a `main` returning
/// `Result<(), Box<dyn std::error::Error>>` (or this error) shows it as it
/// is rather than as a struct.
///
/// ```
/// # use maskinporten_actix::Maskinporten;
/// let error = Maskinporten::builder().build().unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "cannot configure Maskinporten: no validation strategy: set introspection_endpoint \
///      or local_validation, or start from Maskinporten::builder_from_env() to read \
///      NAIS_TOKEN_INTROSPECTION_ENDPOINT",
/// );
/// assert_eq!(format!("{error:?}"), error.to_string());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigError {
    variable: Option<&'static str>,
    message: String,
}

impl ConfigError {
    /// A problem with `variable` (then `message` reads after its name: "is
    /// not set; ...") or with a builder setting (then `message` names it:
    /// "timeout: must be more than zero").
    pub(crate) fn new(variable: Option<&'static str>, message: impl Into<String>) -> Self {
        ConfigError {
            variable,
            message: message.into(),
        }
    }

    /// `variable` holds a value that cannot be used; `problem` says why,
    /// quoting the value.
    pub(crate) fn unusable(variable: &'static str, problem: String) -> Self {
        Self::new(
            Some(variable),
            format!("holds an unusable value: {problem}"),
        )
    }

    /// The environment variable at fault, when the configuration came from
    /// the environment.
    pub fn variable(&self) -> Option<&'static str> {
        self.variable
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot configure Maskinporten: ")?;
        match self.variable {
            Some(variable) => write!(f, "the environment variable {variable} {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The sentence of `Display`: what `main` prints when it returns the error.
impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for ConfigError {}

/// The description of a refusal by an `any` scope guard.
pub(crate) const SCOPE_NONE_OF: &str =
    "the access token holds none of the scopes this resource accepts";
/// The description of a refusal by an `all` scope guard.
pub(crate) const SCOPE_LACKING: &str = "the access token lacks a scope this resource requires";
