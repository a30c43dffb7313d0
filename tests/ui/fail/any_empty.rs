use actix_web::{get, HttpResponse, Responder};
use maskinporten_actix::require_scope;

#[get("/afp")]
#[require_scope(any())]
async fn afp() -> impl Responder {
    HttpResponse::Ok()
}

fn main() {
    let _ = actix_web::App::new().service(afp);
}
