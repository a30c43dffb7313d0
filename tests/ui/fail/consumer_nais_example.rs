use actix_web::{HttpResponse, Responder};
use maskinporten_actix::require_consumer;

// The organisation number from the NAIS documentation's example manifest.
#[require_consumer("123456789")]
async fn afp() -> impl Responder {
    HttpResponse::Ok()
}

fn main() {}
