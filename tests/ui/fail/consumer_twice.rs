use actix_web::{HttpResponse, Responder};
use maskinporten_actix::require_consumer;

#[require_consumer("991825827", "974760673", "991825827")]
async fn afp() -> impl Responder {
    HttpResponse::Ok()
}

fn main() {}
