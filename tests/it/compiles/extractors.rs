// Extra extractors, patterns in argument position, `mut`, a `Result` return
// and early `return`/`?` in the body.
use actix_web::{get, post, web, HttpResponse};
use maskinporten_actix::{require_scope, MaskinportenClaims};
use serde::Deserialize;

#[derive(Deserialize)]
struct Query {
    year: u32,
}

#[get("/afp/{orgno}/{year}")]
#[require_scope("nav:helse/sykepenger/afp.read", "nav:helse:afp.read")]
async fn afp(
    claims: MaskinportenClaims,
    path: web::Path<(String, u32)>,
    web::Query(Query { year: since }): web::Query<Query>,
) -> Result<HttpResponse, actix_web::Error> {
    let (orgno, year) = path.into_inner();
    if year < since {
        return Ok(HttpResponse::NotFound().finish());
    }
    let body = format!("{orgno} {year} for {}", claims.scope_claim());
    Ok(HttpResponse::Ok().body(body))
}

#[post("/afp")]
#[require_scope("nav:helse/sykepenger/afp.write")]
async fn store(
    web::Json(mut body): web::Json<serde_json::Value>,
    _: MaskinportenClaims,
) -> actix_web::Result<web::Json<serde_json::Value>> {
    body["stored"] = true.into();
    let _: u32 = "1".parse().map_err(actix_web::error::ErrorBadRequest)?;
    Ok(web::Json(body))
}

pub(super) fn app() {
    let _ = actix_web::App::new().service(afp).service(store);
}
