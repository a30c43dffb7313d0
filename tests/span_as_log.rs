//! An application with a `log` logger and no tracing subscriber still gets
//! the `maskinporten.validate` span, as tracing hands it to `log`: the guard
//! skips the span only when nothing at all could see it (no subscriber, no
//! logger at `info`). Its own process, since a logger is set once per
//! process.

use std::sync::Mutex;

use maskinporten_actix::testing::LocalTexas;
use maskinporten_tests::{handlers::routes, read_token_from, TestApi};
use reqwest::StatusCode;

/// Every record at `info` or above, as `target: message`.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            self.0
                .lock()
                .unwrap()
                .push(format!("{}: {}", record.target(), record.args()));
        }
    }

    fn flush(&self) {}
}

static LOGGED: Capture = Capture(Mutex::new(Vec::new()));

#[actix_web::test]
async fn a_logger_without_a_subscriber_sees_the_span_and_never_the_token() {
    log::set_logger(&LOGGED).unwrap();
    log::set_max_level(log::LevelFilter::Info);
    let texas = LocalTexas::start();
    let api = TestApi::start(Some(maskinporten_tests::handle(&texas)), routes);
    let token = read_token_from(&texas, "889640782");
    for _ in 0..2 {
        let answer = api.ask("/afp", &token).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body["orgno"], "889640782");
    }
    let logged = LOGGED.0.lock().unwrap().clone();
    let spans: Vec<&String> = logged
        .iter()
        .filter(|line| line.contains("maskinporten.validate"))
        .collect();
    // One span a request: the first introspected, the second from the cache.
    assert!(spans.len() >= 2, "the span reaches the logger: {logged:#?}");
    let signature = token.rsplit('.').next().unwrap();
    for line in &logged {
        assert!(!line.contains(signature), "a token in the log: {line}");
    }
}
