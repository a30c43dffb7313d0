//! The delegation options of `#[require_consumer]`, alone and stacked with
//! `#[require_scope]` and the route attributes in either order.
use actix_web::{get, post, web, App, HttpResponse, Responder};
use maskinporten_actix::{require_consumer, require_scope, MaskinportenClaims};

#[get("/refused")]
#[require_consumer("991825827", "974760673", refuse_delegated)]
#[require_scope("nav:helse/sykepenger/afp.read")]
async fn refused(claims: MaskinportenClaims) -> impl Responder {
    HttpResponse::Ok().body(claims.scope_claim().to_owned())
}

#[require_scope("nav:helse/sykepenger/afp.read")]
#[require_consumer("991825827", suppliers("974760673", "889640782"))]
#[post("/suppliers")]
async fn suppliers(body: web::Bytes) -> impl Responder {
    HttpResponse::Ok().body(body)
}

// A trailing comma, after the option and inside it.
#[require_consumer("991825827", suppliers("974760673",),)]
async fn trailing() -> &'static str {
    "trailing"
}

#[require_consumer("991825827", refuse_delegated,)]
async fn refused_trailing() -> &'static str {
    "refused"
}

pub(super) fn app() {
    let _ = App::new()
        .service(refused)
        .service(suppliers)
        .route("/trailing", web::get().to(trailing))
        .route("/refused-trailing", web::get().to(refused_trailing));
}
