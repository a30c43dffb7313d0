//! Per-consumer quotas on one replica (`ConsumerQuota`, feature `quota`):
//! the burst, then 429 with `Retry-After` and the RateLimit fields; other
//! organisations unaffected; nothing spent by a request the validation
//! refuses; a system user spending its customer's quota; and a shared
//! quota whose Valkey cannot be reached answering 200 or 429, never 5xx.
//! The fleet's shared quota against a real server is `quota_shared`.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use maskinporten_actix::{quota::ConsumerQuota, testing::LocalTexas, Maskinporten};
use maskinporten_tests::{
    ask, read_token_from, refused_url, system_user_token, TestApi, LISTED, READ, STRANGER, SUPPLIER,
};
use reqwest::StatusCode;
use serde_json::json;

const CUSTOMER: &str = LISTED;
const VENDOR: &str = SUPPLIER;
const OTHER: &str = STRANGER;

fn handle(texas: &LocalTexas) -> Maskinporten {
    texas
        .maskinporten_builder()
        .exposed_scopes([READ])
        .build()
        .unwrap()
}

/// An API whose `/afp/...` is under `quota` (with `quota_shared`, a
/// replica of a fleet sharing one).
pub(crate) fn api(texas: &LocalTexas, quota: ConsumerQuota) -> TestApi {
    TestApi::start(Some(handle(texas)), move |cfg| {
        cfg.service(
            web::scope("/afp")
                .wrap(quota.clone())
                .route("/summary", web::get().to(HttpResponse::Ok)),
        );
    })
}

/// The statuses of `n` GETs of `url` with `token`, one after another.
async fn statuses(url: &str, token: &str, n: usize) -> Vec<StatusCode> {
    let mut statuses = Vec::with_capacity(n);
    for _ in 0..n {
        statuses.push(ask(url, Some(token)).await.status);
    }
    statuses
}

#[actix_web::test]
async fn the_burst_then_429_with_retry_after_and_ratelimit_fields() {
    let texas = LocalTexas::start();
    let api = api(&texas, ConsumerQuota::per_minute(60).burst(5));
    let url = api.url("/afp/summary");
    let token = read_token_from(&texas, CUSTOMER);

    assert_eq!(statuses(&url, &token, 5).await, [200; 5]);
    let refused = ask(&url, Some(&token)).await;
    assert_eq!(refused.status, 429);
    // One request a second at the even pace: the next is at most a second
    // away, and whole seconds round up.
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(
        refused.header("ratelimit-policy"),
        Some("\"default\";q=60;w=60")
    );
    assert_eq!(refused.header("ratelimit"), Some("\"default\";r=0;t=1"));
    assert_eq!(refused.header("cache-control"), Some("no-store"));
    assert_eq!(refused.body["error"], "too_many_requests");
    assert!(refused.body["error_description"]
        .as_str()
        .unwrap()
        .contains("Retry-After"));
    assert_eq!(refused.header("www-authenticate"), None);

    // Retry-After is honest: after it, the organisation is admitted again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(ask(&url, Some(&token)).await.status, 200);
}

#[actix_web::test]
async fn a_quota_per_second_names_its_window_and_a_quota_of_zero_admits_nothing() {
    let texas = LocalTexas::start();
    let quota = ConsumerQuota::per_second(3).name("afp").consumer(OTHER, 0);
    let api = api(&texas, quota);
    let url = api.url("/afp/summary");

    let customer = read_token_from(&texas, CUSTOMER);
    assert_eq!(statuses(&url, &customer, 3).await, [200; 3]);
    let refused = ask(&url, Some(&customer)).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("ratelimit-policy"), Some("\"afp\";q=3;w=1"));

    let blocked = ask(&url, Some(&read_token_from(&texas, OTHER))).await;
    assert_eq!(blocked.status, 429);
    assert_eq!(blocked.header("ratelimit-policy"), Some("\"afp\";q=0;w=1"));
    assert_eq!(blocked.header("retry-after"), Some("1"));
}

#[actix_web::test]
async fn another_organisation_is_not_slowed() {
    let texas = LocalTexas::start();
    let api = api(&texas, ConsumerQuota::per_minute(3));
    let url = api.url("/afp/summary");
    let noisy = read_token_from(&texas, CUSTOMER);
    let quiet = read_token_from(&texas, OTHER);

    assert_eq!(statuses(&url, &noisy, 5).await, [200, 200, 200, 429, 429]);
    assert_eq!(statuses(&url, &quiet, 3).await, [200; 3]);
    assert_eq!(ask(&url, Some(&quiet)).await.status, 429);
}

#[actix_web::test]
async fn an_organisation_with_its_own_quota_gets_it() {
    let texas = LocalTexas::start();
    let quota = ConsumerQuota::per_minute(2).consumer(VENDOR, 6);
    let api = api(&texas, quota);
    let url = api.url("/afp/summary");

    let own = statuses(&url, &read_token_from(&texas, VENDOR), 7).await;
    assert_eq!(own, [200, 200, 200, 200, 200, 200, 429]);
    let refused = ask(&url, Some(&read_token_from(&texas, VENDOR))).await;
    assert_eq!(
        refused.header("ratelimit-policy"),
        Some("\"default\";q=6;w=60")
    );
    let default = statuses(&url, &read_token_from(&texas, CUSTOMER), 3).await;
    assert_eq!(default, [200, 200, 429]);
}

#[actix_web::test]
async fn requests_the_validation_refuses_spend_nothing() {
    let texas = LocalTexas::start();
    let api = api(&texas, ConsumerQuota::per_minute(2));
    let url = api.url("/afp/summary");

    let missing = ask(&url, None).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.body["error"], "missing_token");
    let expired = texas
        .token()
        .scope(READ)
        .consumer(CUSTOMER)
        .expired(Duration::from_secs(3600))
        .sign();
    let forged = texas
        .token()
        .scope(READ)
        .consumer(CUSTOMER)
        .tampered()
        .sign();
    let other_api = texas
        .token()
        .scope("nav:other/api.read")
        .consumer(CUSTOMER)
        .sign();
    for _ in 0..5 {
        assert_eq!(ask(&url, Some(&expired)).await.status, 401);
        assert_eq!(ask(&url, Some(&forged)).await.status, 401);
        let for_another_api = ask(&url, Some(&other_api)).await;
        assert_eq!(for_another_api.status, 403);
        assert_eq!(for_another_api.body["error"], "insufficient_scope");
    }

    // The organisation's whole burst is still there.
    let valid = read_token_from(&texas, CUSTOMER);
    assert_eq!(statuses(&url, &valid, 3).await, [200, 200, 429]);
}

#[actix_web::test]
async fn a_validator_that_is_down_answers_503_and_spends_nothing() {
    let texas = LocalTexas::start();
    let valid = read_token_from(&texas, CUSTOMER);
    let broken = Maskinporten::builder()
        .introspection_endpoint(refused_url())
        .exposed_scopes([READ])
        .build()
        .unwrap();
    let quota = ConsumerQuota::per_minute(1);
    let api = TestApi::start(Some(broken), move |cfg| {
        cfg.service(
            web::scope("/afp")
                .wrap(quota.clone())
                .route("/summary", web::get().to(HttpResponse::Ok)),
        );
    });
    let url = api.url("/afp/summary");
    for _ in 0..3 {
        ask(&url, Some(&valid))
            .await
            .assert_unavailable("behind a quota");
    }
}

#[actix_web::test]
async fn a_system_user_spends_its_customers_quota() {
    let texas = LocalTexas::start();
    let api = api(&texas, ConsumerQuota::per_minute(2));
    let url = api.url("/afp/summary");

    let system_user = system_user_token(&texas, VENDOR, CUSTOMER);
    assert_eq!(statuses(&url, &system_user, 2).await, [200, 200]);
    // The customer's own token finds its quota spent ...
    assert_eq!(
        ask(&url, Some(&read_token_from(&texas, CUSTOMER)))
            .await
            .status,
        429
    );
    // ... and the vendor's own quota is whole.
    assert_eq!(
        statuses(&url, &read_token_from(&texas, VENDOR), 2).await,
        [200, 200]
    );
    assert_eq!(ask(&url, Some(&system_user)).await.status, 429);
}

#[actix_web::test]
async fn clones_share_one_quota_across_workers() {
    let texas = LocalTexas::start();
    let quota = ConsumerQuota::per_minute(4);
    let maskinporten = handle(&texas);
    let api = TestApi::serve(3, move || {
        actix_web::App::new()
            .app_data(maskinporten.clone())
            .wrap(quota.clone())
            .route("/", web::get().to(HttpResponse::Ok))
    });

    // A client of its own per request: connections land on other workers.
    let token = read_token_from(&texas, CUSTOMER);
    let mut admitted = 0;
    for _ in 0..8 {
        let response = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .get(api.url("/"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        admitted += usize::from(response.status() == 200);
    }
    assert_eq!(admitted, 4);
}

#[actix_web::test]
async fn a_number_that_is_not_an_organisation_number_answers_500() {
    let texas = LocalTexas::start();
    let api = api(
        &texas,
        ConsumerQuota::per_minute(5).consumer("974760674", 10),
    );
    let answer = ask(
        &api.url("/afp/summary"),
        Some(&read_token_from(&texas, CUSTOMER)),
    )
    .await;
    assert_eq!(answer.status, 500);
    assert_eq!(answer.body["error"], "misconfigured");
}

#[test]
fn a_shared_quota_takes_only_valkey_urls() {
    for url in [
        "http://localhost:6379",
        "localhost:6379",
        "unix:///run/valkey.sock",
        "",
    ] {
        let error = ConsumerQuota::per_second(5).shared(url).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("redis://, rediss://, valkey:// or valkeys://"),
            "{url}: {error}"
        );
    }
    for url in [
        "redis://127.0.0.1:6379",
        "rediss://user:secret@valkey.example:26379",
        "valkey://[::1]:6379/2",
        "valkeys://valkey.example",
    ] {
        ConsumerQuota::per_second(5).shared(url).unwrap();
    }
    let error = ConsumerQuota::per_second(5)
        .shared("redis://user:hunter2@host:notaport")
        .unwrap_err();
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

/// A shared quota whose Valkey never answers: each replica decides on its
/// share (all of it, knowing of no other replica), 200 or 429, never 5xx.
#[actix_web::test]
async fn a_shared_quota_without_valkey_answers_200_or_429() {
    let texas = LocalTexas::start();
    let nothing = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", nothing.local_addr().unwrap());
    drop(nothing);
    let quota = ConsumerQuota::per_minute(3).shared(&url).unwrap();
    let api = api(&texas, quota);
    let statuses = statuses(
        &api.url("/afp/summary"),
        &read_token_from(&texas, CUSTOMER),
        5,
    )
    .await;
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
}

// Documented, never served: the document is what the test reads.
#[allow(dead_code)]
#[utoipa::path(get, path = "/afp/summary", responses((status = 200, description = "The summary")))]
async fn summary() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[allow(dead_code)]
#[utoipa::path(get, path = "/afpx", responses((status = 200, description = "Not under the quota")))]
async fn beside() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[test]
fn the_openapi_document_gets_429_on_the_operations_under_a_quota() {
    use utoipa::OpenApi;

    #[derive(OpenApi)]
    #[openapi(paths(summary, beside))]
    struct ApiDoc;

    let quota = ConsumerQuota::per_minute(600).burst(50);
    let mut document = ApiDoc::openapi();
    quota.document(&mut document, "/afp");
    let document = serde_json::to_value(document).unwrap();
    let responses = &document["paths"]["/afp/summary"]["get"]["responses"];
    assert!(responses["200"].is_object());
    let refused = &responses["429"];
    assert!(
        refused["description"]
            .as_str()
            .unwrap()
            .contains("600 requests a minute (bursts of up to 50)"),
        "{refused}"
    );
    for header in ["Retry-After", "RateLimit-Policy", "RateLimit"] {
        assert!(
            refused["headers"][header].is_object(),
            "{header}: {refused}"
        );
    }
    assert_eq!(refused["headers"]["Retry-After"]["schema"]["minimum"], 1);
    let body = &refused["content"]["application/json"]["schema"];
    assert_eq!(
        body["properties"]["error"]["enum"],
        json!(["too_many_requests"])
    );
    assert!(document["paths"]["/afpx"]["get"]["responses"]["429"].is_null());
}

/// A Valkey that takes the connection and never answers: past the timeout
/// the replica decides on its share, 200 or 429, without waiting again.
#[actix_web::test]
async fn a_shared_quota_whose_valkey_never_answers_falls_back_after_the_timeout() {
    let texas = LocalTexas::start();
    // Connections queue in the listener's backlog, and nothing reads them.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", silent.local_addr().unwrap());
    let timeout = Duration::from_millis(500);
    let quota = ConsumerQuota::per_minute(3)
        .valkey_timeout(timeout)
        .shared(&url)
        .unwrap();
    let api = api(&texas, quota.clone());
    let started = std::time::Instant::now();
    let statuses = statuses(
        &api.url("/afp/summary"),
        &read_token_from(&texas, CUSTOMER),
        10,
    )
    .await;
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429, 429, 429, 429, 429]);
    assert!(quota.in_fallback());
    // One timeout, not one per request: ten requests that each waited for
    // the timeout would take ten timeouts at the least, however fast the
    // machine.
    let elapsed = started.elapsed();
    assert!(elapsed >= timeout && elapsed < 10 * timeout, "{elapsed:?}");
}
