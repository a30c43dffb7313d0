// Handlers in another module, with any visibility, a raw identifier, and
// NAIS names with æ, ø and å.
mod api {
    use actix_web::{get, HttpResponse, Responder};
    use maskinporten_actix::{require_scope, MaskinportenClaims};

    /// A public handler.
    #[get("/afp")]
    #[require_scope("nav:helse/sykepenger/afp.read")]
    pub async fn afp(_claims: MaskinportenClaims) -> impl Responder {
        HttpResponse::Ok()
    }

    #[require_scope("nav:helse/blåbær:søknad.lås")]
    #[get("/type")]
    pub(crate) async fn r#type() -> impl Responder {
        HttpResponse::Ok()
    }
}

pub(super) fn app() {
    let _ = actix_web::App::new().service(api::afp).service(api::r#type);
}
