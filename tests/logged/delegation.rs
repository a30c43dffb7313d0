//! Delegated tokens and Altinn system users, from the claim shapes Digdir and
//! Altinn document: typed on `MaskinportenClaims`, judged by the consumer
//! allow-list (by the organisation they act for: the consumer, or a system
//! user's `systemuser_org`, never its vendor; optionally refusing delegation
//! or allow-listing suppliers and vendors), and never a failed request
//! because of an `authorization_details` entry nobody expected.

use actix_web::{get, web, HttpResponse};
use maskinporten_actix::{
    orgnos, require_consumer, testing::LocalTexas, MaskinportenClaims, RequireConsumer,
};
use maskinporten_tests::{logs, organization, TestApi};
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
        "acting_for": claims.acting_for().and_then(|o| o.orgno()),
        "is_system_user": claims.is_system_user(),
        "supplier": claims.supplier().and_then(|s| s.orgno()),
        "delegation_source": claims.delegation_source(),
        "delegated": claims.is_delegated(),
        "system_user": system_user,
    }))
}

/// The attribute's forms of the middleware guards below.
#[get("/attribute/by-consumer")]
#[require_consumer("991825827")]
async fn attribute_by_consumer() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[get("/attribute/no-delegation")]
#[require_consumer("991825827", refuse_delegated)]
async fn attribute_no_delegation() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[require_consumer("991825827", suppliers("974760673"))]
#[get("/attribute/listed-suppliers")]
async fn attribute_listed_suppliers() -> HttpResponse {
    HttpResponse::Ok().finish()
}

/// These tests are about whom the allow-lists let in, whatever API a token
/// was issued for: the handles take any scope (tests/it/exposure.rs covers the
/// default).
fn any_scope(texas: &LocalTexas) -> maskinporten_actix::Maskinporten {
    texas
        .maskinporten_builder()
        .accept_any_scope()
        .build()
        .unwrap()
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(whoami)
        .service(attribute_by_consumer)
        .service(attribute_no_delegation)
        .service(attribute_listed_suppliers)
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

async fn whoami_of(api: &TestApi, token: &str) -> Value {
    let response = api.ask("/whoami", token).await;
    assert_eq!(response.status, StatusCode::OK);
    response.body
}

#[actix_web::test]
async fn a_delegated_token_is_typed() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(any_scope(&texas)), routes);
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
    assert_eq!(body["is_system_user"], false);
    assert_eq!(body["acting_for"], CONSUMER);

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
        let response = api.ask("/no-delegation", &token).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN);
    }
}

#[actix_web::test]
async fn the_allow_list_judges_the_consumer_whose_data_it_is() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(any_scope(&texas)), routes);
    // A listed consumer, whoever supplies the call.
    let for_listed = texas
        .token()
        .consumer(CONSUMER)
        .supplier(OTHER_SUPPLIER)
        .sign();
    assert_eq!(
        api.status("/by-consumer", &for_listed).await,
        StatusCode::OK
    );
    // A listed organisation as supplier for someone else is not let in.
    let listed_as_supplier = texas
        .token()
        .consumer(OTHER_SUPPLIER)
        .supplier(CONSUMER)
        .sign();
    let response = api.ask("/by-consumer", &listed_as_supplier).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    let body: Value = response.body;
    assert_eq!(body["error"], "access_denied");
}

#[actix_web::test]
async fn delegation_can_be_refused() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(any_scope(&texas)), routes);
    let own = texas.token().consumer(CONSUMER).sign();
    let delegated = texas.token().consumer(CONSUMER).supplier(SUPPLIER).sign();
    assert_eq!(api.status("/no-delegation", &own).await, StatusCode::OK);
    let response = api.ask("/no-delegation", &delegated).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert!(response.challenge.is_none());
    let body: Value = response.body;
    assert_eq!(body["error"], "access_denied");
}

#[actix_web::test]
async fn suppliers_can_be_allow_listed_too() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(any_scope(&texas)), routes);
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
        let response = api.ask("/listed-suppliers", token).await;
        assert_eq!(response.status.as_u16(), *status, "case {i}");
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
    let api = TestApi::start(Some(any_scope(&texas)), routes);
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
        assert_eq!(body["is_system_user"], true);
        assert_eq!(body["acting_for"], "974760673", "{details}");
    }
}

#[actix_web::test]
async fn details_of_other_types_are_ignored_and_unreadable_ones_refused_by_the_allow_list() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(any_scope(&texas)), routes);
    // Entries of other types: judged by `consumer`, as without details.
    for details in [
        json!([{ "type": "urn:example:unknown", "x": 1 }]),
        json!([]),
    ] {
        let token = system_user_token(&texas, details.clone());
        let body = whoami_of(&api, &token).await;
        assert_eq!(body["system_user"], Value::Null, "{details}");
        assert_eq!(body["is_system_user"], false, "{details}");
        let response = api.ask("/by-consumer", &token).await;
        assert_eq!(response.status, StatusCode::OK, "{details}");
    }
    // Present, but not the Altinn shape: the token acts for nobody known,
    // and the allow-list refuses it rather than judge the vendor in
    // `consumer` (who is listed here). A handler without a consumer guard
    // still runs, and sees no system user and no organisation.
    for details in [
        json!("not an array"),
        json!([1, "two", null]),
        json!({ "type": "urn:example:unknown" }),
        json!([{
            "type": "urn:altinn:systemuser",
            "systemuser_org": "0192:974760673",
            "systemuser_id": [7, SYSTEM_USER_ID],
            "system_id": 12,
        }]),
    ] {
        let token = system_user_token(&texas, details.clone());
        let body = whoami_of(&api, &token).await;
        assert_eq!(body["system_user"], Value::Null, "{details}");
        assert_eq!(body["acting_for"], Value::Null, "{details}");
        let response = api.ask("/by-consumer", &token).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{details}");
    }
}

/// An organisation as Maskinporten and Altinn write it.
/// A token the vendor's client got for a system user of `customer`'s
/// (`None`: an entry that names no organisation).
fn for_system_user(texas: &LocalTexas, vendor: &str, customer: Option<Value>) -> String {
    let mut entry = json!({
        "type": "urn:altinn:systemuser",
        "systemuser_id": [SYSTEM_USER_ID],
        "system_id": format!("{vendor}_payroll"),
    });
    if let Some(customer) = customer {
        entry["systemuser_org"] = customer;
    }
    texas
        .token()
        .consumer(vendor)
        .claim("authorization_details", json!([entry]))
        .sign()
}

/// The guards of one allow-list (`991825827`) in each delegation option,
/// with the supplier list `974760673`.
struct Guards {
    plain: &'static str,
    refuse_delegated: &'static str,
    suppliers: &'static str,
}

const MIDDLEWARE: Guards = Guards {
    plain: "/by-consumer",
    refuse_delegated: "/no-delegation",
    suppliers: "/listed-suppliers",
};

const ATTRIBUTE: Guards = Guards {
    plain: "/attribute/by-consumer",
    refuse_delegated: "/attribute/no-delegation",
    suppliers: "/attribute/listed-suppliers",
};

/// Every kind of token against every option of `guards`: a system user is
/// judged by the organisation it acts for, its vendor in the place of a
/// supplier; own and delegated tokens as before.
async fn judge_every_kind_of_token(api: &TestApi, texas: &LocalTexas, guards: &Guards) {
    let customer = CONSUMER;
    let (listed_vendor, other_vendor) = (SUPPLIER, OTHER_SUPPLIER);
    let pilot_spelling = texas
        .token()
        .consumer(other_vendor)
        .claim(
            "authorization_details",
            json!([{
                "type": "urn:altinn:systemuser",
                "systemuserorg": { "authority": "iso6523-actorid-upis", "id": format!("0192:{customer}") },
                "systemuserid": SYSTEM_USER_ID,
            }]),
        )
        .sign();
    // (what, token, allowed by: the plain list, refuse_delegated, suppliers)
    let cases = [
        (
            "system user of a listed customer, through a listed vendor",
            for_system_user(texas, listed_vendor, Some(organization(customer))),
            [true, false, true],
        ),
        (
            "system user of a listed customer, through another vendor",
            for_system_user(texas, other_vendor, Some(organization(customer))),
            [true, false, false],
        ),
        (
            "system user of a listed customer in the pilot's spelling",
            pilot_spelling,
            [true, false, false],
        ),
        // The finding: a listed organisation as vendor does not let its
        // other customers in.
        (
            "system user of an unlisted customer, through a listed consumer",
            for_system_user(texas, customer, Some(organization(OTHER_SUPPLIER))),
            [false, false, false],
        ),
        (
            "system user of an unlisted customer, through a listed vendor",
            for_system_user(texas, listed_vendor, Some(organization(OTHER_SUPPLIER))),
            [false, false, false],
        ),
        // A vendor is judged as a supplier, even one on the consumer list.
        (
            "system user of a listed customer, through itself",
            for_system_user(texas, customer, Some(organization(customer))),
            [true, false, false],
        ),
        (
            "system user without systemuser_org, through a listed consumer",
            for_system_user(texas, customer, None),
            [false, false, false],
        ),
        (
            "system user without systemuser_org, through a listed vendor",
            for_system_user(texas, listed_vendor, None),
            [false, false, false],
        ),
        (
            "system user with an unreadable systemuser_org",
            for_system_user(texas, customer, Some(json!(format!("0192:{customer}")))),
            [false, false, false],
        ),
        (
            "a listed consumer's own token",
            texas.token().consumer(customer).sign(),
            [true, true, true],
        ),
        (
            "an unlisted consumer's own token",
            texas.token().consumer(OTHER_SUPPLIER).sign(),
            [false, false, false],
        ),
        (
            "delegated by a listed consumer to a listed supplier",
            texas.token().consumer(customer).supplier(SUPPLIER).sign(),
            [true, false, true],
        ),
        (
            "delegated by a listed consumer to another supplier",
            texas
                .token()
                .consumer(customer)
                .supplier(OTHER_SUPPLIER)
                .sign(),
            [true, false, false],
        ),
        (
            "delegated by an unlisted consumer to a listed supplier",
            texas
                .token()
                .consumer(OTHER_SUPPLIER)
                .supplier(SUPPLIER)
                .sign(),
            [false, false, false],
        ),
    ];
    for (what, token, allowed) in cases {
        let paths = [guards.plain, guards.refuse_delegated, guards.suppliers];
        for (path, allowed) in paths.into_iter().zip(allowed) {
            let what = format!("{what}, at {path}");
            let response = api.ask(path, &token).await;
            match allowed {
                true => assert_eq!(response.status, StatusCode::OK, "{what}"),
                false => response.assert_access_denied(&what),
            }
        }
    }
}

#[actix_web::test]
async fn the_middleware_judges_a_system_user_by_the_organisation_it_acts_for() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(any_scope(&texas)), routes);
    judge_every_kind_of_token(&api, &texas, &MIDDLEWARE).await;
}

#[actix_web::test]
async fn the_attribute_judges_a_system_user_by_the_organisation_it_acts_for() {
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(any_scope(&texas)), routes);
    judge_every_kind_of_token(&api, &texas, &ATTRIBUTE).await;
}

#[actix_web::test]
async fn a_system_user_refusal_logs_the_customer_and_the_vendor_never_the_token() {
    let logs = logs();
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(any_scope(&texas)), routes);
    // An unlisted customer through a listed vendor; a listed customer
    // through an unlisted vendor.
    let unlisted_customer = for_system_user(&texas, SUPPLIER, Some(organization(OTHER_SUPPLIER)));
    let unlisted_vendor = for_system_user(&texas, OTHER_SUPPLIER, Some(organization(CONSUMER)));
    let response = api.ask("/by-consumer", &unlisted_customer).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    let response = api.ask("/listed-suppliers", &unlisted_vendor).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);

    let text = logs.text();
    // Other tests of this binary log refusals too: the line of each case is
    // the one with its pair of organisations.
    let line = |customer: &str, vendor: &str| {
        text.lines()
            .find(|line| {
                line.contains("Maskinporten access denied")
                    && line.contains(&format!("consumer=\"{customer}\""))
                    && line.contains(&format!("supplier=\"{vendor}\""))
            })
            .unwrap_or_else(|| panic!("no refusal of {customer} through {vendor} in:\n{text}"))
    };
    let customer_refused = line(OTHER_SUPPLIER, SUPPLIER);
    assert!(customer_refused.contains("WARN"), "{customer_refused}");
    assert!(
        customer_refused.contains("system_user=true")
            && customer_refused.contains("delegated=true"),
        "{customer_refused}"
    );
    assert!(
        customer_refused
            .contains("the organisation the system user acts for is not on the allow-list"),
        "{customer_refused}"
    );
    let vendor_refused = line(CONSUMER, OTHER_SUPPLIER);
    assert!(
        vendor_refused.contains("the vendor of the system user is not on the supplier allow-list"),
        "{vendor_refused}"
    );
    for token in [&unlisted_customer, &unlisted_vendor] {
        let payload = token.split('.').nth(1).unwrap();
        assert!(!text.contains(token.as_str()) && !text.contains(payload));
    }
}
