// A handler argument actix cannot extract: the error names the argument's
// type, as it would without `#[require_scope]`.
use actix_web::{get, HttpResponse, Responder};
use maskinporten_actix::require_scope;

struct NotAnExtractor;

#[get("/afp")]
#[require_scope("nav:helse/sykepenger/afp.read")]
async fn afp(_x: NotAnExtractor) -> impl Responder {
    HttpResponse::Ok()
}

fn main() {
    let _ = actix_web::App::new().service(afp);
}
