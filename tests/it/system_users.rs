//! The organisation a token acts for is read strictly, or not at all: a
//! token whose `authorization_details` cannot be read as the Altinn
//! system-user shape never lets a consumer allow-list (the attribute or the
//! middleware, with any delegation option) fall back to the vendor in
//! `consumer`, even when that vendor is listed. Tried as a vendor would try
//! to pass for its customer.

use actix_web::{get, web, HttpResponse, Responder};
use maskinporten_actix::{orgnos, require_consumer, testing::LocalTexas, RequireConsumer};
use maskinporten_tests::{handlers, organization, TestApi, EXPOSED, LISTED, READ, SUPPLIER};
use serde_json::{json, Value};

/// On every allow-list below, and the `consumer` of every token here.
const VENDOR: &str = LISTED;
/// The customer a system user acts for; on no list.
const CUSTOMER: &str = SUPPLIER;

#[get("/refusing")]
#[require_consumer("991825827", refuse_delegated)]
async fn refusing() -> impl Responder {
    HttpResponse::Ok().finish()
}

#[get("/suppliers")]
#[require_consumer("991825827", suppliers("991825827"))]
async fn suppliers() -> impl Responder {
    HttpResponse::Ok().finish()
}

/// With the shared handlers: `/consumer` lists the vendor, `/whoami` says
/// whom a token acts for.
fn routes(cfg: &mut web::ServiceConfig) {
    handlers::routes(cfg);
    cfg.service(refusing)
        .service(suppliers)
        .service(
            web::scope("/tree/plain")
                .wrap(RequireConsumer::one_of(orgnos!["991825827"]))
                .route("", web::get().to(HttpResponse::Ok)),
        )
        .service(
            web::scope("/tree/refusing")
                .wrap(RequireConsumer::one_of(orgnos!["991825827"]).refuse_delegated())
                .route("", web::get().to(HttpResponse::Ok)),
        )
        .service(
            web::scope("/tree/suppliers")
                .wrap(RequireConsumer::one_of(orgnos!["991825827"]).suppliers(orgnos!["991825827"]))
                .route("", web::get().to(HttpResponse::Ok)),
        );
}

const GUARDED: [&str; 6] = [
    "/consumer",
    "/refusing",
    "/suppliers",
    "/tree/plain",
    "/tree/refusing",
    "/tree/suppliers",
];

#[actix_web::test]
async fn details_that_cannot_be_read_are_refused_by_every_consumer_guard() {
    let texas = LocalTexas::start();
    let maskinporten = texas
        .maskinporten_builder()
        .exposed_scopes(EXPOSED)
        .build()
        .unwrap();
    let api = TestApi::start(Some(maskinporten), routes);
    let entry =
        json!({ "type": "urn:altinn:systemuser", "systemuser_org": organization(CUSTOMER) });
    let unreadable = [
        ("a string", json!("urn:altinn:systemuser")),
        ("one object, not an array", entry.clone()),
        ("a nested array", json!([[entry.clone()]])),
        ("an entry that is not an object", json!([entry.clone(), 7])),
        (
            "an entry without a string type",
            json!([{ "systemuser_org": organization(CUSTOMER) }]),
        ),
        (
            "two system-user entries",
            json!([entry.clone(), entry.clone()]),
        ),
        (
            "a system user without its organisation",
            json!([{ "type": "urn:altinn:systemuser", "systemuser_id": ["x"] }]),
        ),
        (
            "a foreign authority",
            json!([{
                "type": "urn:altinn:systemuser",
                "systemuser_org": { "authority": "x-other", "ID": format!("0192:{CUSTOMER}") },
            }]),
        ),
        (
            "no authority",
            json!([{ "type": "urn:altinn:systemuser", "systemuser_org": { "ID": format!("0192:{CUSTOMER}") } }]),
        ),
        (
            "an organisation id that is not a string",
            json!([{
                "type": "urn:altinn:systemuser",
                "systemuser_org": { "authority": "iso6523-actorid-upis", "ID": 974760673 },
            }]),
        ),
    ];
    for (what, details) in unreadable {
        let token = texas
            .token()
            .scope(READ)
            .consumer(VENDOR)
            .claim("authorization_details", details)
            .sign();
        for path in GUARDED {
            assert_eq!(api.status(path, &token).await, 403, "{what} at {path}");
        }
        let body = api.ask("/whoami", &token).await.body;
        assert_eq!(
            (&body["acting_for"], &body["system_user"]),
            (&Value::Null, &json!(false)),
            "{what}"
        );
    }

    // Entries of other types (a consent) leave the token judged by its
    // `consumer`, as without details.
    for details in [
        json!([{ "type": "urn:altinn:consent", "consentRequestId": "x" }]),
        json!([]),
    ] {
        let token = texas
            .token()
            .scope(READ)
            .consumer(VENDOR)
            .claim("authorization_details", details.clone())
            .sign();
        for path in GUARDED {
            assert_eq!(api.status(path, &token).await, 200, "{details} at {path}");
        }
    }

    // Read strictly, a system user acts for its customer: not listed here.
    let token = texas
        .token()
        .scope(READ)
        .consumer(VENDOR)
        .claim("authorization_details", json!([entry]))
        .sign();
    for path in GUARDED {
        assert_eq!(api.status(path, &token).await, 403, "{path}");
    }
}
