use actix_web::{get, HttpResponse, Responder};
use maskinporten_actix::require_scope;

#[get("/afp")]
#[require_scope("nav:helse/sykepenger/afp.read", "nav:helse/sykepenger/afp.read")]
async fn afp() -> impl Responder {
    HttpResponse::Ok()
}

#[get("/any")]
#[require_scope(any("nav:helse/afp.read", "nav:helse/afp.write", r"nav:helse/afp.read"))]
async fn any() -> impl Responder {
    HttpResponse::Ok()
}

fn main() {
    let _ = actix_web::App::new().service(afp).service(any);
}
