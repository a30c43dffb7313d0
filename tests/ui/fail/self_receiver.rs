use actix_web::{HttpResponse, Responder};
use maskinporten_actix::require_scope;

struct Api;

impl Api {
    #[require_scope("nav:helse/sykepenger/afp.read")]
    async fn afp(&self) -> impl Responder {
        HttpResponse::Ok()
    }
}

fn main() {
    let _ = Api.afp();
}
