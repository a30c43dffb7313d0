use actix_web::{HttpResponse, Responder};
use maskinporten_actix::require_consumer;

#[require_consumer("99182582", "9918258270")]
async fn afp() -> impl Responder {
    HttpResponse::Ok()
}

fn main() {}
