use actix_web::{HttpResponse, Responder};
use maskinporten_actix::require_consumer;

#[require_consumer("400000000")]
async fn afp() -> impl Responder {
    HttpResponse::Ok()
}

fn main() {}
