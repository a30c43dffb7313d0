// Generics and where-clauses stay on the handler.
use actix_web::{web, HttpResponse};
use maskinporten_actix::require_scope;
use serde::de::DeserializeOwned;

#[require_scope("nav:helse/echo")]
async fn echo<T>(body: web::Json<T>) -> HttpResponse
where
    T: DeserializeOwned + std::fmt::Debug + 'static,
{
    HttpResponse::Ok().body(format!("{:?}", body.into_inner()))
}

pub(super) fn app() {
    let _ = actix_web::App::new().route("/echo", web::post().to(echo::<serde_json::Value>));
}
