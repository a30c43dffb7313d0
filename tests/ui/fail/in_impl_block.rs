use actix_web::{web, App, HttpResponse, Responder};
use maskinporten_actix::{require_consumer, require_scope, MaskinportenClaims};

struct Api;

impl Api {
    #[require_scope("nav:helse/sykepenger/afp.read")]
    async fn afp(claims: MaskinportenClaims) -> impl Responder {
        HttpResponse::Ok().body(claims.scope_claim().to_owned())
    }

    #[require_consumer("991825827")]
    async fn summary() -> impl Responder {
        HttpResponse::Ok()
    }
}

fn main() {
    let _ = App::new()
        .route("/afp", web::get().to(Api::afp))
        .route("/summary", web::get().to(Api::summary));
}
