use actix_web::{get, HttpResponse, Responder};
use maskinporten_actix::require_scope;

#[get("/test")]
#[require_scope("nav:test/a")]
async fn test() -> impl Responder {
    HttpResponse::Ok()
}

fn main() {
    let _ = actix_web::App::new().service(test);
}
