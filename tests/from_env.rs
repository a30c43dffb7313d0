//! `Maskinporten::from_env`, alone in its own test binary because it changes
//! the process environment.

use maskinporten_actix::{Maskinporten, INTROSPECTION_ENDPOINT_ENV};

#[test]
fn from_env_reads_the_nais_variable_and_names_it_when_it_is_wrong() {
    std::env::remove_var(INTROSPECTION_ENDPOINT_ENV);
    let error = Maskinporten::from_env().unwrap_err();
    assert_eq!(error.variable(), Some(INTROSPECTION_ENDPOINT_ENV));
    assert!(
        error
            .to_string()
            .starts_with("NAIS_TOKEN_INTROSPECTION_ENDPOINT: is not set"),
        "{error}"
    );

    for invalid in [
        "",
        "localhost:7164",
        "http://",
        "::::",
        "file:///etc/passwd",
    ] {
        std::env::set_var(INTROSPECTION_ENDPOINT_ENV, invalid);
        let error = Maskinporten::from_env().unwrap_err();
        assert_eq!(
            error.variable(),
            Some(INTROSPECTION_ENDPOINT_ENV),
            "{invalid}"
        );
        assert!(
            error
                .to_string()
                .contains("NAIS_TOKEN_INTROSPECTION_ENDPOINT"),
            "{error}"
        );
    }

    std::env::set_var(
        INTROSPECTION_ENDPOINT_ENV,
        "http://127.0.0.1:7164/api/v1/introspect",
    );
    let maskinporten = Maskinporten::from_env().expect("a valid endpoint");
    assert!(format!("{maskinporten:?}").contains("http://127.0.0.1:7164/api/v1/introspect"));
}
