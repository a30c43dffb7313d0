//! Scopes the second document of a two-document manifest exposes, with its
//! consumers; and the list of what it exposes, for the handle.
use actix_web::{get, App, HttpResponse, Responder};
use maskinporten_actix::{
    exposed_scopes, orgnos, require_consumer, require_scope, scopes, Maskinporten,
    MaskinportenClaims, RequireConsumer, RequireScope,
};

#[get("/afp")]
#[require_scope("nav:helse/sykepenger/afp.read")]
#[require_consumer("991825827")]
async fn read(claims: MaskinportenClaims) -> impl Responder {
    HttpResponse::Ok().body(claims.scope_claim().to_owned())
}

// Open to all: any consumer is one Maskinporten may give a token.
#[require_consumer("974760673")]
#[require_scope("nav:helse:afp.open")]
async fn open() -> &'static str {
    "open"
}

// One of `any` is enough: afp.open lets the consumer in.
#[require_scope(any("nav:helse:afp.write", "nav:helse:afp.open"))]
#[require_consumer("974760673")]
async fn either() -> &'static str {
    "either"
}

const EXPOSED: &[&str] = exposed_scopes!();

const _: () = assert!(maskinporten_tests::same_scopes(
    EXPOSED,
    &[
        "nav:helse/sykepenger/afp.read",
        "nav:helse:afp.write",
        "nav:helse:afp.open"
    ]
));

fn main() {
    let maskinporten = Maskinporten::builder()
        .introspection_endpoint("http://127.0.0.1:7164/api/v1/introspect")
        .exposed_scopes(exposed_scopes!())
        .build()
        .unwrap();
    let _ = App::new()
        .app_data(maskinporten)
        .wrap(RequireScope::all(scopes!["nav:helse:afp.write"]))
        .wrap(RequireConsumer::one_of(orgnos!["991825827"]))
        .service(read);
    let _ = (open, either);
}

// Checked, not run (tests/ui.rs says why): the one error expected here.
compile_error!("checked against the manifest");
