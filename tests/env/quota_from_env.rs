//! `ConsumerQuota::shared_from_env`: the variables NAIS sets for a Valkey
//! instance, and the error that names the one missing or unusable.

use maskinporten_actix::quota::ConsumerQuota;

use crate::ENV;

const URI: &str = "VALKEY_URI_QUOTA_TEST";
const USERNAME: &str = "VALKEY_USERNAME_QUOTA_TEST";
const PASSWORD: &str = "VALKEY_PASSWORD_QUOTA_TEST";

fn clear() {
    for variable in [URI, USERNAME, PASSWORD] {
        std::env::remove_var(variable);
    }
}

#[test]
fn the_instance_name_gives_the_variables_and_a_missing_uri_is_named() {
    let _env = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    clear();
    let error = ConsumerQuota::per_minute(60)
        .shared_from_env("quota-test")
        .unwrap_err();
    assert_eq!(error.variable(), Some(URI));
    assert!(error.to_string().contains("is not set"), "{error}");
    assert!(error.to_string().contains("\"quota-test\""), "{error}");

    std::env::set_var(URI, "http://valkey.example:26379");
    let error = ConsumerQuota::per_minute(60)
        .shared_from_env("quota-test")
        .unwrap_err();
    assert_eq!(error.variable(), Some(URI));
    assert!(error.to_string().contains("valkeys://"), "{error}");

    std::env::set_var(URI, "rediss://valkey-nav-quota.aivencloud.com:26379");
    std::env::set_var(USERNAME, "default");
    std::env::set_var(PASSWORD, "hunter2-secret");
    let quota = ConsumerQuota::per_minute(60)
        .shared_from_env("quota-test")
        .unwrap();
    // The password is never printed.
    assert!(!format!("{quota:?}").contains("hunter2"), "{quota:?}");
    assert!(format!("{quota:?}").contains("shared: true"), "{quota:?}");
    clear();
}
