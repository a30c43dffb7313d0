// Every bad scope is reported in one build, in `any(...)` too.
use actix_web::{get, HttpResponse, Responder};
use maskinporten_actix::require_scope;

#[get("/afp")]
#[require_scope("nav:helse.x", "nav:helse/sykepenger/afp.read", "nav:helse//afp")]
async fn afp() -> impl Responder {
    HttpResponse::Ok()
}

#[get("/any")]
#[require_scope(any("nav:helse/afp.read", "nav:hælse/afp.read"))]
async fn any() -> impl Responder {
    HttpResponse::Ok()
}

fn main() {
    let _ = actix_web::App::new().service(afp).service(any);
}
