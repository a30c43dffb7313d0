//! Every guard form compiles where users put it.
use actix_web::{get, post, web, App, HttpResponse, Responder};
use maskinporten_actix::{
    orgnos, require_consumer, require_scope, scopes, MaskinportenClaims, RequireConsumer,
    RequireScope,
};

#[get("/a")]
#[require_consumer("991825827")]
#[require_scope("nav:helse/sykepenger/afp.read")]
async fn a(claims: MaskinportenClaims) -> impl Responder {
    HttpResponse::Ok().body(claims.scope_claim().to_owned())
}

#[require_scope(any("nav:helse/sykepenger/afp.read", "nav:helse/sykepenger/afp.write"))]
#[require_consumer("991825827", "974760673",)]
#[post("/b")]
async fn b(body: web::Bytes) -> impl Responder {
    HttpResponse::Ok().body(body)
}

#[require_consumer("910000020")]
async fn c() -> &'static str {
    "c"
}

pub(super) fn app() {
    let _ = App::new()
        .wrap(RequireScope::any(scopes!["nav:helse/sykepenger/afp.read",]))
        .service(a)
        .service(b)
        .service(
            web::scope("/c")
                .wrap(RequireConsumer::one_of(orgnos!["991825827"]).refuse_delegated())
                .wrap(RequireScope::all(scopes!["nav:helse/sykepenger/afp.read"]))
                .route("", web::get().to(c)),
        )
        .service(
            web::resource("/d")
                .wrap(
                    RequireConsumer::one_of(orgnos!["991825827"])
                        .suppliers(orgnos!["974760673"]),
                )
                .to(c),
        );
}
