//! No secret of a URL leaks through what the crate shows: the `Debug` of
//! the handle and the builder, and the `Display` and `Debug` of every
//! configuration error, leave out a URL's user name, password, query and
//! fragment, where credentials and API keys ride.

use maskinporten_actix::Maskinporten;

const SECRETS: [&str; 4] = [
    "hemmelig-bruker",
    "hemmelig-passord",
    "hemmelig-nokkel",
    "hemmelig-del",
];

fn assert_hidden(what: &str, shown: &str) {
    for secret in SECRETS {
        assert!(!shown.contains(secret), "{what} shows {secret}: {shown}");
    }
}

#[test]
fn the_handle_and_the_builder_show_urls_without_credentials_or_query() {
    let endpoint = "http://hemmelig-bruker:hemmelig-passord@127.0.0.1:7164/api/v1/introspect\
                    ?key=hemmelig-nokkel#hemmelig-del";
    let builder = Maskinporten::builder()
        .introspection_endpoint(endpoint)
        .signature_check(
            "http://hemmelig-bruker:hemmelig-passord@127.0.0.1:7165/jwks?key=hemmelig-nokkel",
        )
        .issuer("https://test.maskinporten.no/")
        .exposed_scopes(["nav:helse/sykepenger/afp.read"]);
    let shown = format!("{builder:?}");
    assert_hidden("the builder's Debug", &shown);
    assert!(
        shown.contains("http://***@127.0.0.1:7164/api/v1/introspect?***#***"),
        "{shown}"
    );
    let handle = builder.build().unwrap();
    let shown = format!("{handle:?}");
    assert_hidden("the handle's Debug", &shown);
    assert_eq!(
        shown,
        "Maskinporten { introspection_endpoint: \"http://***@127.0.0.1:7164/api/v1/introspect?***#***\", .. }"
    );

    let local = Maskinporten::builder()
        .issuer("https://test.maskinporten.no/")
        .local_validation(
            "https://hemmelig-bruker:hemmelig-passord@example.com/jwk?key=hemmelig-nokkel",
        )
        .exposed_scopes(["nav:helse/sykepenger/afp.read"])
        .build()
        .unwrap();
    let shown = format!("{local:?}");
    assert_hidden("a local handle's Debug", &shown);
    assert!(shown.contains("https://***@example.com/jwk?***"), "{shown}");
}

#[test]
fn configuration_errors_quote_urls_without_credentials_or_query() {
    let builders = [
        // Not http(s).
        Maskinporten::builder().introspection_endpoint(
            "ftp://hemmelig-bruker:hemmelig-passord@host/x?key=hemmelig-nokkel",
        ),
        // Not a URL at all.
        Maskinporten::builder().introspection_endpoint(
            "http://hemmelig-bruker:hemmelig-passord@ho st/?key=hemmelig-nokkel",
        ),
        // Plain HTTP keys off loopback.
        Maskinporten::builder()
            .issuer("https://test.maskinporten.no/")
            .local_validation(
                "http://hemmelig-bruker:hemmelig-passord@example.com/jwk?key=hemmelig-nokkel",
            ),
        Maskinporten::builder()
            .introspection_endpoint("http://127.0.0.1:7164/api/v1/introspect")
            .issuer("https://test.maskinporten.no/")
            .signature_check(
                "http://hemmelig-bruker:hemmelig-passord@example.com/jwk#hemmelig-del",
            ),
    ];
    for builder in builders {
        let error = builder
            .exposed_scopes(["nav:helse/sykepenger/afp.read"])
            .build()
            .unwrap_err();
        assert_hidden("a ConfigError's Display", &error.to_string());
        assert_hidden("a ConfigError's Debug", &format!("{error:?}"));
        assert!(error.to_string().contains("***@"), "{error}");
    }
}
