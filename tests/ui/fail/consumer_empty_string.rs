use actix_web::{HttpResponse, Responder};
use maskinporten_actix::require_consumer;

#[require_consumer("")]
async fn afp() -> impl Responder {
    HttpResponse::Ok()
}

fn main() {}
