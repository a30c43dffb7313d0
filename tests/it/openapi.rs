//! The OpenAPI document's security, derived from the guards: handlers with
//! the guard in every place among `#[utoipa::path]` and the route attribute,
//! all and any, consumer guards beside the scope guard, unguarded handlers,
//! and a route tree under `RequireScope`. The JSON is compared with what
//! OpenAPI 3.1 requires of a security scheme and of security requirements;
//! the guards still guard, over HTTP.

use actix_web::{get, post, web, HttpResponse, Responder};
use maskinporten_actix::{
    openapi::MaskinportenSecurity, require_consumer, require_scope, scopes, testing::LocalTexas,
    RequireScope,
};
use maskinporten_tests::{client, read_token, send, TestApi, READ, WRITE};
use serde_json::{json, Value};
use utoipa::OpenApi;

/// The guard above `#[utoipa::path]`.
#[require_scope("nav:helse/sykepenger/afp.read")]
#[utoipa::path(get, path = "/above/{id}", params(("id" = u32, Path, description = "An id")), responses((status = 200)))]
#[get("/above/{id}")]
async fn above(id: web::Path<u32>) -> impl Responder {
    HttpResponse::Ok().body(id.to_string())
}

/// The guard between `#[utoipa::path]` and the route attribute.
#[utoipa::path(post, path = "/between", responses((status = 201)))]
#[require_scope("nav:helse/sykepenger/afp.read", "nav:helse/sykepenger/afp.write")]
#[post("/between")]
async fn between() -> impl Responder {
    HttpResponse::Created().finish()
}

/// The guard below the route attribute, with `any`.
#[utoipa::path(get, path = "/below", responses((status = 200)))]
#[get("/below")]
#[require_scope(any("nav:helse/sykepenger/afp.read", "nav:helse/sykepenger/afp.write"))]
async fn below() -> impl Responder {
    HttpResponse::Ok().finish()
}

/// A consumer guard beside the scope guard, above everything.
#[require_consumer("991825827", refuse_delegated)]
#[require_scope("nav:helse/sykepenger/afp.read")]
#[utoipa::path(get, path = "/listed", description = "Listed consumers only.", responses((status = 200)))]
#[get("/listed")]
async fn listed() -> impl Responder {
    HttpResponse::Ok().finish()
}

/// A consumer guard alone.
#[utoipa::path(get, path = "/consumer", responses((status = 200)))]
#[get("/consumer")]
#[require_consumer("991825827")]
async fn consumer() -> impl Responder {
    HttpResponse::Ok().finish()
}

/// No guard.
#[utoipa::path(get, path = "/health", responses((status = 200)))]
#[get("/health")]
async fn health() -> impl Responder {
    HttpResponse::Ok().finish()
}

/// Under a `RequireScope` tree, with a guard of its own too.
#[utoipa::path(get, path = "/tree/leaf", responses((status = 200)))]
#[get("/leaf")]
#[require_scope("nav:helse/sykepenger/afp.write")]
async fn leaf() -> impl Responder {
    HttpResponse::Ok().finish()
}

/// Under the tree, no guard of its own.
#[utoipa::path(get, path = "/tree/open", responses((status = 200)))]
#[get("/open")]
async fn open() -> impl Responder {
    HttpResponse::Ok().finish()
}

#[derive(OpenApi)]
#[openapi(
    paths(above, between, below, listed, consumer, health, leaf, open),
    modifiers(&MaskinportenSecurity)
)]
struct ApiDoc;

fn tree() -> RequireScope {
    RequireScope::any(scopes![
        "nav:helse/sykepenger/afp.read",
        "nav:helse/sykepenger/afp.write"
    ])
}

fn document() -> Value {
    let mut document = ApiDoc::openapi();
    tree().document(&mut document, "/tree");
    serde_json::to_value(document).unwrap()
}

fn security(document: &Value, path: &str, method: &str) -> Value {
    document["paths"][path][method]["security"].clone()
}

#[test]
fn every_attribute_order_gives_the_operation_its_requirement() {
    let document = document();
    assert_eq!(document["openapi"], "3.1.0");
    // All of one scope, with the guard above `#[utoipa::path]`: utoipa
    // still read the handler's own `web::Path` argument.
    assert_eq!(
        security(&document, "/above/{id}", "get"),
        json!([{ "maskinporten": [READ] }])
    );
    assert_eq!(
        document["paths"]["/above/{id}"]["get"]["parameters"][0]["name"],
        "id"
    );
    // All of two: one requirement listing both.
    assert_eq!(
        security(&document, "/between", "post"),
        json!([{ "maskinporten": [READ, WRITE] }])
    );
    // Any of two: one requirement per scope.
    assert_eq!(
        security(&document, "/below", "get"),
        json!([{ "maskinporten": [READ] }, { "maskinporten": [WRITE] }])
    );
}

#[test]
fn consumer_guards_are_described_without_naming_the_organisations() {
    let document = document();
    assert_eq!(
        security(&document, "/listed", "get"),
        json!([{ "maskinporten": [READ] }])
    );
    let description = document["paths"]["/listed"]["get"]["description"]
        .as_str()
        .unwrap();
    assert!(
        description.starts_with("Listed consumers only."),
        "{description}"
    );
    assert!(description.contains("Only some organisations may call this operation"));
    assert!(description.contains("Delegated tokens and Altinn system-user tokens are refused"));
    // The allow-list is never published.
    assert!(!document.to_string().contains("991825827"));
    // A consumer guard alone still needs a Maskinporten token.
    assert_eq!(
        security(&document, "/consumer", "get"),
        json!([{ "maskinporten": [] }])
    );
}

#[test]
fn unguarded_operations_are_left_as_they_are() {
    let document = document();
    let unguarded = &document["paths"]["/health"]["get"];
    assert!(unguarded.get("security").is_none(), "{unguarded}");
    assert!(unguarded.get("description").is_none(), "{unguarded}");
}

#[test]
fn a_route_tree_combines_with_the_handlers_own_guard() {
    let document = document();
    // The tree (any of READ, WRITE) and the handler (WRITE): either
    // WRITE alone, or READ with WRITE.
    assert_eq!(
        security(&document, "/tree/leaf", "get"),
        json!([{ "maskinporten": [READ, WRITE] }, { "maskinporten": [WRITE] }])
    );
    assert_eq!(
        security(&document, "/tree/open", "get"),
        json!([{ "maskinporten": [READ] }, { "maskinporten": [WRITE] }])
    );
    // Outside the prefix, nothing changed.
    assert_eq!(
        security(&document, "/below", "get")
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn the_scheme_is_oauth2_client_credentials_at_maskinporten_with_every_scope() {
    let document = document();
    let scheme = &document["components"]["securitySchemes"]["maskinporten"];
    // OpenAPI 3.1, Security Scheme Object: `type` oauth2 needs `flows`; the
    // clientCredentials flow needs `tokenUrl` and `scopes` (a map of names
    // to descriptions).
    assert_eq!(scheme["type"], "oauth2", "{scheme}");
    let flow = &scheme["flows"]["clientCredentials"];
    assert_eq!(flow["tokenUrl"], "https://maskinporten.no/token");
    let scopes = flow["scopes"].as_object().unwrap();
    for scope in [READ, WRITE] {
        assert!(
            scopes[scope].as_str().is_some_and(|d| !d.is_empty()),
            "{scope}"
        );
    }
    assert!(scheme["description"].as_str().unwrap().contains("Bearer"));
    // Every scope a requirement names is a scope of the scheme (OpenAPI:
    // "the scopes required for the execution" must be declared).
    for item in document["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            for requirement in operation["security"].as_array().into_iter().flatten() {
                let requirement = requirement.as_object().unwrap();
                assert_eq!(requirement.len(), 1);
                for scope in requirement["maskinporten"].as_array().unwrap() {
                    assert!(scopes.contains_key(scope.as_str().unwrap()), "{scope}");
                }
            }
        }
    }
}

#[actix_web::test]
async fn the_guards_still_guard() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), |cfg| {
        cfg.service(above)
            .service(between)
            .service(below)
            .service(health);
    });
    let read = read_token(&texas);
    let write = texas.token().scope(WRITE).sign();
    assert_eq!(api.status("/above/7", &read).await, 200);
    assert_eq!(api.status("/above/7", &write).await, 403);
    assert_eq!(api.status("/below", &write).await, 200);
    let response = send(client().post(api.url("/between")).bearer_auth(&read)).await;
    assert_eq!(response.status.as_u16(), 403);
    let both = texas.token().scopes([READ, WRITE]).sign();
    let response = send(client().post(api.url("/between")).bearer_auth(&both)).await;
    assert_eq!(response.status.as_u16(), 201);
}
