//! An application that forgot to register its `Maskinporten` handle answers
//! 500 to every guarded request; without a tracing subscriber the log line
//! explaining why went nowhere. It must reach standard error, once per
//! process. The API runs in a child process (this test binary again, running
//! only the ignored test below), so that its standard error can be read and
//! no other test of the binary shares its process.

use std::process::Command;

use maskinporten_tests::{handlers::read_afp, TestApi};
use reqwest::StatusCode;

const CHILD: &str = "MASKINPORTEN_TEST_MISSING_HANDLE_CHILD";

/// The child: an API without a handle, called three times. Run by the test
/// below, never on its own.
#[actix_web::test]
#[ignore = "run as a child process by the_missing_handle_is_reported_on_stderr_once"]
async fn child_api_without_a_handle() {
    assert!(std::env::var_os(CHILD).is_some(), "run by the parent test");
    let api = TestApi::start(None, |cfg| {
        cfg.service(read_afp);
    });
    for _ in 0..3 {
        let status = api.status("/afp", "eyJ.eyJ.sig").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    }
    eprintln!("CHILD DONE");
}

#[test]
fn the_missing_handle_is_reported_on_stderr_once() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "missing_handle::child_api_without_a_handle",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("run the child");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stderr}");
    assert!(stderr.contains("CHILD DONE"), "{stderr}");
    let reports = stderr
        .lines()
        .filter(|line| line.contains("no Maskinporten handle is registered"))
        .count();
    assert_eq!(reports, 1, "{stderr}");
    assert!(
        stderr.contains("App::new().app_data(maskinporten.clone())"),
        "the report says how to fix it: {stderr}"
    );
    assert!(!stderr.contains("eyJ.eyJ.sig"), "the token is never echoed");
}
