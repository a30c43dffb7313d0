use actix_web::{get, HttpResponse, Responder};
use maskinporten_actix::require_scope;

#[require_scope("nav:helse/sykepenger/afp.read")]
#[get("/afp")]
pub fn afp() -> impl Responder {
    HttpResponse::Ok()
}

fn main() {
    let _ = actix_web::App::new().service(afp);
}
