use actix_web::{get, HttpResponse, Responder};
use maskinporten_actix::require_scope;

#[get("/afp")]
#[require_scope(any(
    "nav:helse/afp.read",
    any("nav:helse/afp.write", "nav:helse/afp.admin")
))]
async fn afp() -> impl Responder {
    HttpResponse::Ok()
}

fn main() {
    let _ = actix_web::App::new().service(afp);
}
