//! The README's quick start, whole: one file with a guarded handler, `main`,
//! and a test against a local Texas-compatible endpoint. `tests/readme.rs`
//! checks that the README shows this file as it is.

use actix_web::{get, App, HttpResponse, HttpServer, Responder};
use maskinporten_actix::{require_scope, Maskinporten, MaskinportenClaims};

#[get("/afp")]
#[require_scope("nav:helse/sykepenger/afp.read")]
async fn afp(claims: MaskinportenClaims) -> impl Responder {
    let orgno = claims
        .consumer()
        .and_then(|c| c.orgno())
        .unwrap_or("unknown");
    HttpResponse::Ok().body(format!("AFP data for {orgno}"))
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // NAIS sets NAIS_TOKEN_INTROSPECTION_ENDPOINT (and MASKINPORTEN_ISSUER)
    // when the application has Maskinporten enabled. Without them this
    // refuses to start, with a sentence naming the variable: there is no
    // fallback that could accept any token.
    let maskinporten = Maskinporten::builder_from_env()?.build()?;
    HttpServer::new(move || App::new().app_data(maskinporten.clone()).service(afp))
        .bind(("0.0.0.0", 8080))?
        .run()
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test;
    use maskinporten_actix::testing::LocalTexas;

    #[actix_web::test]
    async fn reading_afp_needs_the_read_scope() {
        // A local endpoint that answers like Texas, and a handle that asks it.
        let texas = LocalTexas::start();
        let app = test::init_service(
            App::new()
                .app_data(texas.maskinporten_builder().build().unwrap())
                .service(afp),
        )
        .await;

        let read = texas
            .token()
            .scope("nav:helse/sykepenger/afp.read")
            .consumer("974761076")
            .sign();
        let request = test::TestRequest::get()
            .uri("/afp")
            .insert_header(("Authorization", format!("Bearer {read}")))
            .to_request();
        let body = test::call_and_read_body(&app, request).await;
        assert_eq!(body, "AFP data for 974761076");

        let write = texas.token().scope("nav:helse/sykepenger/afp.write").sign();
        let request = test::TestRequest::get()
            .uri("/afp")
            .insert_header(("Authorization", format!("Bearer {write}")))
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), 403);
    }
}
