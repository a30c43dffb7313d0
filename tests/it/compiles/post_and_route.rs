use actix_web::{post, route, web, HttpResponse, Responder};
use maskinporten_actix::require_scope;

#[post("/afp")]
#[require_scope("nav:helse/sykepenger/afp.write")]
async fn store_above(body: web::Bytes) -> impl Responder {
    HttpResponse::Created().body(body)
}

#[require_scope("nav:helse/sykepenger/afp.write")]
#[post("/afp2")]
async fn store_below(body: web::Bytes) -> impl Responder {
    HttpResponse::Created().body(body)
}

#[route("/afp3", method = "PUT", method = "PATCH")]
#[require_scope("nav:helse/sykepenger/afp.write")]
async fn replace_above(body: String) -> HttpResponse {
    HttpResponse::Ok().body(body)
}

#[require_scope("nav:helse/sykepenger/afp.write")]
#[route("/afp4", method = "PUT")]
async fn replace_below(body: String) -> HttpResponse {
    HttpResponse::Ok().body(body)
}

pub(super) fn app() {
    let _ = actix_web::App::new()
        .service(store_above)
        .service(store_below)
        .service(replace_above)
        .service(replace_below);
}
