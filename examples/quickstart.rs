//! The README's quick start, whole: one file with guarded handlers, `main`,
//! and a test against a local Texas-compatible endpoint. It is compiled
//! against `examples/.nais/app.yaml` (named in `examples/Cargo.toml`), the
//! README's manifest; the README must show both as they are.

use actix_web::{get, post, App, HttpResponse, HttpServer, Responder};
use maskinporten_actix::{
    exposed_scopes, require_consumer, require_scope, Maskinporten, MaskinportenClaims,
};

#[get("/afp")]
#[require_scope("nav:helse/sykepenger/afp.read")]
#[require_consumer("991825827", "974761076")]
async fn read_afp(claims: MaskinportenClaims) -> impl Responder {
    let orgno = claims
        .acting_for()
        .and_then(|o| o.orgno())
        .unwrap_or("unknown");
    HttpResponse::Ok().body(format!("AFP data for {orgno}"))
}

#[post("/afp")]
#[require_scope("nav:helse/sykepenger/afp.write")]
#[require_consumer("991825827")]
async fn write_afp() -> impl Responder {
    HttpResponse::Created().finish()
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // NAIS sets the variables this reads; without them it refuses to start.
    let maskinporten = Maskinporten::builder_from_env()?
        // What .nais/app.yaml exposes: a token holding none of it is for
        // another API.
        .exposed_scopes(exposed_scopes!())
        .build()?;
    // The port of the manifest's `spec.port`; PORT moves it on a laptop.
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| format!("PORT={port:?} is not a port"))?,
        Err(_) => 8080,
    };
    let server = HttpServer::new(move || {
        App::new()
            .app_data(maskinporten.clone())
            .service(read_afp)
            .service(write_afp)
    })
    .bind(("0.0.0.0", port))
    .map_err(|error| match error.kind() {
        std::io::ErrorKind::AddrInUse => {
            format!("port {port} is taken; start on another with PORT=8081")
        }
        _ => format!("cannot listen on port {port}: {error}"),
    })?;
    println!("listening on http://0.0.0.0:{port}");
    server.run().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test;
    use maskinporten_actix::testing::LocalTexas;

    #[actix_web::test]
    async fn reading_afp_needs_the_read_scope_and_a_listed_organisation() {
        // A local endpoint that answers like Texas, and a handle that asks it.
        let texas = LocalTexas::start();
        let builder = texas.maskinporten_builder();
        let maskinporten = builder.exposed_scopes(exposed_scopes!()).build().unwrap();
        let app = test::init_service(App::new().app_data(maskinporten).service(read_afp)).await;
        let get_afp = |scope: &str, consumer: &str| {
            let token = texas.token().scope(scope).consumer(consumer).sign();
            test::TestRequest::get()
                .uri("/afp")
                .insert_header(("Authorization", format!("Bearer {token}")))
                .to_request()
        };

        let oslo = get_afp("nav:helse/sykepenger/afp.read", "974761076");
        let body = test::call_and_read_body(&app, oslo).await;
        assert_eq!(body, "AFP data for 974761076");
        let write_only = get_afp("nav:helse/sykepenger/afp.write", "974761076");
        let response = test::call_service(&app, write_only).await;
        assert_eq!(response.status(), 403);
        let unlisted = get_afp("nav:helse/sykepenger/afp.read", "938708606");
        let response = test::call_service(&app, unlisted).await;
        assert_eq!(response.status(), 403);
    }
}
