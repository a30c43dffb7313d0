// `#[get]` above: actix wraps the handler before `#[require_scope]` rewrites
// it, so the requirement struct lands inside the generated `register`.
use actix_web::{get, HttpResponse, Responder};
use maskinporten_actix::{require_scope, MaskinportenClaims};

/// Docs stay on the handler.
#[get("/afp")]
#[require_scope("nav:helse/sykepenger/afp.read")]
async fn afp(claims: MaskinportenClaims) -> impl Responder {
    HttpResponse::Ok().body(claims.scope_claim().to_owned())
}

pub(super) fn app() {
    let _ = actix_web::App::new().service(afp);
}
