use actix_web::{HttpResponse, Responder};
use maskinporten_actix::require_consumer;

const ALLOWED: &str = "991825827";

#[require_consumer(991825827, ALLOWED, b"974760673")]
async fn afp() -> impl Responder {
    HttpResponse::Ok()
}

fn main() {}
