//! What the tests share as data: the scopes and organisations, the handles
//! and the tokens.

use maskinporten_actix::{
    testing::{LocalTexas, DEFAULT_CONSUMER_ORGNO, DEFAULT_KID},
    Maskinporten,
};
use serde_json::{json, Value};

/// The scope most handlers here require.
pub const READ: &str = "nav:helse/sykepenger/afp.read";
/// A second scope of the same API.
pub const WRITE: &str = "nav:helse/sykepenger/afp.write";
/// A scope of another API, which no handle here exposes: a token holding
/// only it was issued for someone else.
pub const OTHER_API: &str = "nav:other/api.read";

/// The organisation [`crate::handlers::listed_consumer`] lets in, and the
/// `consumer` of every token unless a test says otherwise.
pub const LISTED: &str = DEFAULT_CONSUMER_ORGNO;
/// An organisation that acts for others: a supplier, or a system user's
/// vendor.
pub const SUPPLIER: &str = "974760673";
/// An organisation no guard here lists.
pub const STRANGER: &str = "974761076";

/// The scopes the tests' handles expose: every scope their guards name.
/// A handle takes exactly the scopes it is given, so a token that holds none
/// of these (a token for another API) is refused before any guard.
pub const EXPOSED: [&str; 11] = [
    "nav:helse/sykepenger/afp.read",
    "nav:helse/sykepenger/afp.write",
    "nav:helse/sykepenger/afp.readwrite",
    "nav:helse/sykepenger/særfradrag.read",
    "nav:helse/sykepenger/annet",
    "nav:helse/sykepenger/other.read",
    "nav:helse/ping",
    "nav:helse/many",
    "nav:helse/echo",
    "nav:helse:afp.read",
    "nav:helse/blåbær:søknad.lås",
];

/// The handle most tests use: introspection through `texas`, exposing
/// [`EXPOSED`].
pub fn handle(texas: &LocalTexas) -> Maskinporten {
    texas
        .maskinporten_builder()
        .exposed_scopes(EXPOSED)
        .build()
        .expect("a handle for the local endpoint")
}

/// [`handle`] validating locally, against `texas`' JWKS.
pub fn local_handle(texas: &LocalTexas) -> Maskinporten {
    texas
        .maskinporten_local_builder()
        .exposed_scopes(EXPOSED)
        .build()
        .expect("a handle for the local endpoint's JWKS")
}

/// A token holding [`READ`], from [`LISTED`]: what most requests carry.
pub fn read_token(texas: &LocalTexas) -> String {
    texas.token().scope(READ).sign()
}

/// A token holding [`READ`], from `consumer`.
pub fn read_token_from(texas: &LocalTexas, consumer: &str) -> String {
    texas.token().scope(READ).consumer(consumer).sign()
}

/// A forged token: it holds [`READ`] and names the key the endpoint trusts
/// (`kid`), but another key signed it.
pub fn forged_token(texas: &LocalTexas) -> String {
    texas
        .token()
        .scope(READ)
        .kid(DEFAULT_KID)
        .signed_by_other_key()
        .sign()
}

/// A token issued for another API: it holds [`OTHER_API`] only.
pub fn other_api_token(texas: &LocalTexas) -> String {
    texas.token().scope(OTHER_API).sign()
}

/// An organisation as Maskinporten writes one in `consumer`, `supplier` or
/// a system user's `systemuser_org`: ISO 6523, `0192:` and the number.
pub fn organization(orgno: &str) -> Value {
    json!({ "authority": "iso6523-actorid-upis", "ID": format!("0192:{orgno}") })
}

/// One `authorization_details` entry of a system user of `vendor`, acting
/// for `customer`, as Maskinporten writes it.
pub fn system_user_entry(vendor: &str, customer: &str) -> Value {
    json!({
        "type": "urn:altinn:systemuser",
        "systemuser_org": organization(customer),
        "systemuser_id": ["a4e2a5a0-3c5c-4d25-8d4d-8a3f3b8c2e11"],
        "system_id": format!("{vendor}_payroll"),
    })
}

/// A token holding [`READ`] for a system user: `vendor`'s client (its
/// `consumer`), acting for `customer`.
pub fn system_user_token(texas: &LocalTexas, vendor: &str, customer: &str) -> String {
    texas
        .token()
        .scope(READ)
        .consumer(vendor)
        .claim(
            "authorization_details",
            json!([system_user_entry(vendor, customer)]),
        )
        .sign()
}

/// Now, in Unix seconds, as the guard reads `exp` and `iat`.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// `json`, written out and encoded as unpadded base64url: a part of a
/// compact JWS made by hand.
pub fn b64_json(json: &serde_json::Value) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// Whether two lists of scopes are equal, in order, as a constant: the UI
/// cases checked against a NAIS manifest assert what `exposed_scopes!()`
/// gives while they compile, since they are checked and not run.
pub const fn same_scopes(a: &[&str], b: &[&str]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        let (x, y) = (a[i].as_bytes(), b[i].as_bytes());
        if x.len() != y.len() {
            return false;
        }
        let mut j = 0;
        while j < x.len() {
            if x[j] != y[j] {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}
