use actix_web::{get, HttpResponse, Responder};
use maskinporten_actix::require_scope;

const AFP_READ: &str = "nav:helse/sykepenger/afp.read";

#[get("/afp")]
#[require_scope(AFP_READ)]
async fn afp() -> impl Responder {
    HttpResponse::Ok()
}

fn main() {
    let _ = AFP_READ;
    let _ = actix_web::App::new().service(afp);
}
