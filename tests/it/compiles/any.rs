use actix_web::{get, HttpResponse, Responder};
use maskinporten_actix::{require_scope, MaskinportenClaims};

#[get("/afp")]
#[require_scope(any("nav:helse/sykepenger/afp.read", "nav:helse/sykepenger/afp.write",))]
async fn afp(claims: MaskinportenClaims) -> impl Responder {
    HttpResponse::Ok().body(claims.scope_claim().to_owned())
}

#[get("/one")]
#[require_scope(any("nav:helse/sykepenger/afp.read"))]
async fn one() -> impl Responder {
    HttpResponse::Ok()
}

// Every scope is required; a trailing comma is fine.
#[get("/all")]
#[require_scope("nav:helse/sykepenger/afp.read", "nav:helse/sykepenger/afp.write")]
async fn all() -> impl Responder {
    HttpResponse::Ok()
}

pub(super) fn app() {
    let _ = actix_web::App::new().service(afp).service(one).service(all);
}
