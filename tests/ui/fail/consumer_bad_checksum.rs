use actix_web::{get, HttpResponse, Responder};
use maskinporten_actix::require_consumer;

#[get("/afp")]
#[require_consumer("991825827", "991825828")]
async fn afp() -> impl Responder {
    HttpResponse::Ok()
}

fn main() {}
