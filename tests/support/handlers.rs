//! The handlers most tests serve. Each answers with [`who`]: whose token it
//! was and what it held, so that a test sees which token got through.

use actix_web::{get, web, HttpResponse};
use maskinporten_actix::{require_consumer, require_scope, MaskinportenClaims};
use serde_json::{json, Value};

/// What the handlers here answer: the consumer's organisation number, the
/// organisation the token acts for and whether it is a system user's, the
/// scopes, the token's `jti`, and every claim.
pub fn who(claims: &MaskinportenClaims) -> Value {
    json!({
        "orgno": claims.consumer().and_then(|c| c.orgno()),
        "acting_for": claims.acting_for().and_then(|o| o.orgno()),
        "system_user": claims.system_user().is_some(),
        "scopes": claims.scopes(),
        "jti": claims.jwt_id(),
        "claims": claims.to_json(),
    })
}

/// `GET /afp`: needs [`crate::READ`].
#[get("/afp")]
#[require_scope("nav:helse/sykepenger/afp.read")]
pub async fn read_afp(claims: MaskinportenClaims) -> HttpResponse {
    HttpResponse::Ok().json(who(&claims))
}

/// `GET /whoami`: any token the handle takes, no scope required.
#[get("/whoami")]
pub async fn whoami(claims: MaskinportenClaims) -> HttpResponse {
    HttpResponse::Ok().json(who(&claims))
}

/// `GET /consumer`: only [`crate::LISTED`], no scope required.
#[get("/consumer")]
#[require_consumer("991825827")]
pub async fn listed_consumer(claims: MaskinportenClaims) -> HttpResponse {
    HttpResponse::Ok().json(who(&claims))
}

/// Serves the three: `/afp`, `/whoami` and `/consumer`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(read_afp)
        .service(whoami)
        .service(listed_consumer);
}
