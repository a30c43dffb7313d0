// `#[require_scope]` above: `#[get]` sees the rewritten handler.
use actix_web::{get, HttpResponse, Responder};
use maskinporten_actix::{require_scope, MaskinportenClaims};

#[require_scope("nav:helse/sykepenger/afp.read")]
#[get("/afp")]
async fn afp(claims: MaskinportenClaims) -> impl Responder {
    HttpResponse::Ok().body(claims.scope_claim().to_owned())
}

pub(super) fn app() {
    let _ = actix_web::App::new().service(afp);
}
