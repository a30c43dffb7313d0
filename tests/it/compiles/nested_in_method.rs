// A handler declared inside a method body is a free function: items may sit
// beside it there, so the attribute expands as usual.
use actix_web::{get, web, HttpResponse, Responder};
use maskinporten_actix::require_scope;

struct Api;

impl Api {
    fn routes(cfg: &mut web::ServiceConfig) {
        #[get("/afp")]
        #[require_scope("nav:helse/sykepenger/afp.read")]
        async fn afp() -> impl Responder {
            HttpResponse::Ok()
        }
        cfg.service(afp);
    }
}

pub(super) fn app() {
    let _ = actix_web::App::new().configure(Api::routes);
}
