//! A throttled request is traced with the organisation that used up its
//! quota (the `maskinporten.quota` span's `consumer`), never the token.

use actix_web::{web, HttpResponse};
use maskinporten_actix::{quota::ConsumerQuota, testing::LocalTexas};
use maskinporten_tests::{logs, TestApi, READ};

/// An organisation no other test of this binary uses: its lines are this
/// test's.
const THROTTLED: &str = "923609016";

#[actix_web::test]
async fn a_throttled_request_is_traced_with_the_organisation() {
    let logs = logs();
    let texas = LocalTexas::start();
    let maskinporten = texas
        .maskinporten_builder()
        .exposed_scopes([READ])
        .build()
        .unwrap();
    let quota = ConsumerQuota::per_minute(1);
    let api = TestApi::start(Some(maskinporten), move |cfg| {
        cfg.service(
            web::scope("/quota")
                .wrap(quota.clone())
                .route("/afp", web::get().to(HttpResponse::Ok)),
        );
    });
    let token = texas.token().scope(READ).consumer(THROTTLED).sign();
    assert_eq!(api.status("/quota/afp", &token).await, 200);
    assert_eq!(api.status("/quota/afp", &token).await, 429);

    let text = logs.text();
    let spans: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("maskinporten.quota{") && line.contains(THROTTLED))
        .collect();
    // Only a throttled request gets a span (an admitted one costs none):
    // it closes once, with its decision, and holds the event that says so.
    let closed: Vec<&str> = spans
        .iter()
        .copied()
        .filter(|line| line.contains(" close time.busy="))
        .collect();
    assert_eq!(closed.len(), 1, "one throttled request, one span:\n{text}");
    assert!(
        closed[0].contains("decision=\"throttled\""),
        "{}",
        closed[0]
    );
    assert!(closed[0].contains("retry_after="), "{}", closed[0]);
    let events: Vec<&str> = spans
        .iter()
        .copied()
        .filter(|line| !line.contains(" close time.busy="))
        .collect();
    assert_eq!(events.len(), 1, "one throttled request, one event:\n{text}");
    assert!(
        events[0].contains("decision=\"throttled\""),
        "{}",
        events[0]
    );
    let signature = token.rsplit('.').next().unwrap();
    assert!(!text.contains(signature), "the token is never logged");
}
