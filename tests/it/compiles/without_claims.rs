// The claims argument is optional, and a handler may take no argument at all.
use actix_web::{get, web, HttpRequest, HttpResponse, Responder};
use maskinporten_actix::require_scope;

#[get("/ping")]
#[require_scope("nav:helse/ping")]
async fn ping() -> &'static str {
    "pong"
}

#[get("/path")]
#[require_scope("nav:helse/sykepenger/afp.read")]
async fn path(req: HttpRequest) -> impl Responder {
    HttpResponse::Ok().body(req.path().to_owned())
}

// Without a routing macro, registered by hand.
#[require_scope("nav:helse/ping")]
async fn manual() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

pub(super) fn app() {
    let _ = actix_web::App::new()
        .service(ping)
        .service(path)
        .route("/manual", web::get().to(manual));
}
