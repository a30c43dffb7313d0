//! Delegated tokens and Altinn system users, from the claim shapes Digdir and
//! Altinn document: typed on `MaskinportenClaims`, judged by the consumer
//! allow-list (by the consumer, optionally refusing delegation or
//! allow-listing suppliers), and never a failed request because of an
//! `authorization_details` entry nobody expected.

use actix_web::{get, web, HttpResponse};
use maskinporten_actix::{orgnos, testing::LocalTexas, MaskinportenClaims, RequireConsumer};
use maskinporten_tests::{client, TestApi};
use reqwest::StatusCode;
use serde_json::{json, Value};

const CONSUMER: &str = "991825827";
const SUPPLIER: &str = "974760673";
const OTHER_SUPPLIER: &str = "974761076";
const DELEGATION_SOURCE: &str = "https://tt02.altinn.no";
const SYSTEM_USER_ID: &str = "a3b2b8a1-7a0b-4c8f-9d6e-1f2e3d4c5b6a";

/// Everything typed about who called.
#[get("/whoami")]
async fn whoami(claims: MaskinportenClaims) -> HttpResponse {
    let system_user = claims.system_user().map(|user| {
        json!({
            "orgno": user.organization().and_then(|o| o.orgno()),
            "org_id": user.organization().map(|o| o.id()),
            "authority": user.organization().map(|o| o.authority()),
            "ids": user.ids(),
            "system_id": user.system_id(),
        })
    });
    HttpResponse::Ok().json(json!({
        "consumer": claims.consumer().and_then(|c| c.orgno()),
        "supplier": claims.supplier().and_then(|s| s.orgno()),
        "delegation_source": claims.delegation_source(),
        "delegated": claims.is_delegated(),
        "system_user": system_user,
    }))
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(whoami)
        .service(
            web::resource("/by-consumer")
                .wrap(RequireConsumer::one_of(orgnos!["991825827"]))
                .route(web::get().to(HttpResponse::Ok)),
        )
        .service(
            web::resource("/no-delegation")
                .wrap(RequireConsumer::one_of(orgnos!["991825827"]).refuse_delegated())
                .route(web::get().to(HttpResponse::Ok)),
        )
        .service(
            web::resource("/listed-suppliers")
                .wrap(RequireConsumer::one_of(orgnos!["991825827"]).suppliers(orgnos!["974760673"]))
                .route(web::get().to(HttpResponse::Ok)),
        );
}

async fn get(url: &str, token: &str) -> reqwest::Response {
    client()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

async fn whoami_of(api: &TestApi, token: &str) -> Value {
    let response = get(&api.url("/whoami"), token).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[actix_web::test]
async fn a_delegated_token_is_typed() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(texas.maskinporten()), routes);
    let delegated = texas
        .token()
        .consumer(CONSUMER)
        .supplier(SUPPLIER)
        .claim("delegation_source", json!(DELEGATION_SOURCE))
        .sign();
    let body = whoami_of(&api, &delegated).await;
    assert_eq!(body["consumer"], CONSUMER);
    assert_eq!(body["supplier"], SUPPLIER);
    assert_eq!(body["delegation_source"], DELEGATION_SOURCE);
    assert_eq!(body["delegated"], true);
    assert_eq!(body["system_user"], Value::Null);

    let own = texas.token().consumer(CONSUMER).sign();
    let body = whoami_of(&api, &own).await;
    assert_eq!(body["supplier"], Value::Null);
    assert_eq!(body["delegation_source"], Value::Null);
    assert_eq!(body["delegated"], false);

    // A delegation source alone, or a supplier of an unexpected shape, still
    // makes the token delegated: refusing delegation must not be dodged by a
    // claim the guard cannot read.
    for token in [
        texas
            .token()
            .consumer(CONSUMER)
            .claim("delegation_source", json!(DELEGATION_SOURCE))
            .sign(),
        texas
            .token()
            .consumer(CONSUMER)
            .claim("supplier", json!("0192:974760673"))
            .sign(),
    ] {
        let body = whoami_of(&api, &token).await;
        assert_eq!(body["delegated"], true, "{body}");
        let response = get(&api.url("/no-delegation"), &token).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
}

#[actix_web::test]
async fn the_allow_list_judges_the_consumer_whose_data_it_is() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(texas.maskinporten()), routes);
    // A listed consumer, whoever supplies the call.
    let for_listed = texas
        .token()
        .consumer(CONSUMER)
        .supplier(OTHER_SUPPLIER)
        .sign();
    assert_eq!(
        get(&api.url("/by-consumer"), &for_listed).await.status(),
        StatusCode::OK
    );
    // A listed organisation as supplier for someone else is not let in.
    let listed_as_supplier = texas
        .token()
        .consumer(OTHER_SUPPLIER)
        .supplier(CONSUMER)
        .sign();
    let response = get(&api.url("/by-consumer"), &listed_as_supplier).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "access_denied");
}

#[actix_web::test]
async fn delegation_can_be_refused() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(texas.maskinporten()), routes);
    let own = texas.token().consumer(CONSUMER).sign();
    let delegated = texas.token().consumer(CONSUMER).supplier(SUPPLIER).sign();
    assert_eq!(
        get(&api.url("/no-delegation"), &own).await.status(),
        StatusCode::OK
    );
    let response = get(&api.url("/no-delegation"), &delegated).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get("www-authenticate").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "access_denied");
}

#[actix_web::test]
async fn suppliers_can_be_allow_listed_too() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(texas.maskinporten()), routes);
    let cases = [
        // The consumer calling for itself: no supplier to judge.
        (texas.token().consumer(CONSUMER).sign(), 200),
        (
            texas.token().consumer(CONSUMER).supplier(SUPPLIER).sign(),
            200,
        ),
        (
            texas
                .token()
                .consumer(CONSUMER)
                .supplier(OTHER_SUPPLIER)
                .sign(),
            403,
        ),
        // A listed supplier does not let an unlisted consumer in.
        (
            texas
                .token()
                .consumer(OTHER_SUPPLIER)
                .supplier(SUPPLIER)
                .sign(),
            403,
        ),
        // A delegation whose supplier cannot be read is refused.
        (
            texas
                .token()
                .consumer(CONSUMER)
                .claim("delegation_source", json!(DELEGATION_SOURCE))
                .sign(),
            403,
        ),
    ];
    for (i, (token, status)) in cases.iter().enumerate() {
        let response = get(&api.url("/listed-suppliers"), token).await;
        assert_eq!(response.status().as_u16(), *status, "case {i}");
    }
}

/// A token for a system user, with the `authorization_details` given.
fn system_user_token(texas: &LocalTexas, details: Value) -> String {
    texas
        .token()
        .consumer(CONSUMER)
        .claim("authorization_details", details)
        .sign()
}

#[actix_web::test]
async fn system_users_are_read_in_every_documented_spelling() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(texas.maskinporten()), routes);
    let org = |id_field: &str| {
        let mut org = serde_json::Map::new();
        org.insert("authority".into(), json!("iso6523-actorid-upis"));
        org.insert(id_field.into(), json!("0192:974760673"));
        Value::Object(org)
    };
    let spellings = [
        // Digdir's documentation.
        json!([{
            "type": "urn:altinn:systemuser",
            "systemuser_org": org("ID"),
            "systemuser_id": [SYSTEM_USER_ID],
            "system_id": "974760673_payroll",
        }]),
        // `id` in lower case inside the organisation.
        json!([{
            "type": "urn:altinn:systemuser",
            "systemuser_org": org("id"),
            "systemuser_id": [SYSTEM_USER_ID],
            "system_id": "974760673_payroll",
        }]),
        // The pilot page: no underscores, the id as one string.
        json!([{
            "type": "urn:altinn:systemuser",
            "systemuserorg": org("ID"),
            "systemuserid": SYSTEM_USER_ID,
            "system_id": "974760673_payroll",
        }]),
        // `systemuser_id` as a string; unknown detail types around it.
        json!([
            { "type": "urn:example:unknown", "anything": [1, 2, { "x": null }] },
            {
                "type": "urn:altinn:systemuser",
                "systemuser_org": org("ID"),
                "systemuser_id": SYSTEM_USER_ID,
                "system_id": "974760673_payroll",
            },
            { "type": "urn:altinn:resource", "resource": "ttd-resource" },
        ]),
    ];
    for details in spellings {
        let body = whoami_of(&api, &system_user_token(&texas, details.clone())).await;
        assert_eq!(
            body["system_user"],
            json!({
                "orgno": "974760673",
                "org_id": "0192:974760673",
                "authority": "iso6523-actorid-upis",
                "ids": [SYSTEM_USER_ID],
                "system_id": "974760673_payroll",
            }),
            "{details}"
        );
        assert_eq!(body["consumer"], CONSUMER);
    }
}

#[actix_web::test]
async fn unknown_or_malformed_details_never_fail_a_request() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(texas.maskinporten()), routes);
    let cases = [
        (
            json!([{ "type": "urn:example:unknown", "x": 1 }]),
            Value::Null,
        ),
        (json!([]), Value::Null),
        (json!("not an array"), Value::Null),
        (json!([1, "two", null]), Value::Null),
        (json!({ "type": "urn:example:unknown" }), Value::Null),
        // A system user entry whose fields are of the wrong shapes: the entry
        // is there, what cannot be read is left out.
        (
            json!([{
                "type": "urn:altinn:systemuser",
                "systemuser_org": "0192:974760673",
                "systemuser_id": [7, SYSTEM_USER_ID],
                "system_id": 12,
            }]),
            json!({
                "orgno": null,
                "org_id": null,
                "authority": null,
                "ids": [SYSTEM_USER_ID],
                "system_id": null,
            }),
        ),
    ];
    for (details, expected) in cases {
        let token = system_user_token(&texas, details.clone());
        let body = whoami_of(&api, &token).await;
        assert_eq!(body["system_user"], expected, "{details}");
        // The allow-list is not troubled by them either.
        let response = get(&api.url("/by-consumer"), &token).await;
        assert_eq!(response.status(), StatusCode::OK, "{details}");
    }
}
