//! A stand-in for the NAIS sidecar on a developer's machine: a local,
//! Texas-compatible introspection endpoint on Texas' own port, and tokens to
//! call your service with.
//!
//! ```text
//! cargo run --example local_texas                # in one terminal
//! NAIS_TOKEN_INTROSPECTION_ENDPOINT=http://127.0.0.1:7164/api/v1/introspect \
//! MASKINPORTEN_ISSUER=https://test.maskinporten.no/ cargo run   # your service
//! ```
//!
//! Your service keeps `Maskinporten::from_env()` and no test code: it is
//! pointed at this endpoint the way NAIS points it at Texas, so nothing in the
//! service could fall back to the public test keys once deployed. This
//! endpoint refuses to start where NAIS runs.
//!
//! Scopes for the printed tokens: `SCOPES` (space-separated), default
//! `nav:helse/sykepenger/afp.read`. Port: `TEXAS_PORT`, default 7164.

use std::{process::ExitCode, time::Duration};

use maskinporten_actix::testing::LocalTexas;

/// Starts the endpoint; a start-up error ends it with its sentence.
fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("local_texas: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let port: u16 = match std::env::var("TEXAS_PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| format!("TEXAS_PORT={port:?} is not a port number"))?,
        Err(_) => 7164,
    };
    let scopes = std::env::var("SCOPES").unwrap_or_else(|_| "nav:helse/sykepenger/afp.read".into());
    let texas = LocalTexas::builder()
        .port(port)
        .start()
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::AddrInUse => format!(
                "port {port} is taken (is a local_texas or a Texas already running?); \
                 start it on another with TEXAS_PORT=7165 cargo run --example local_texas"
            ),
            _ => format!("cannot start on 127.0.0.1:{port}: {error}"),
        })?;
    println!("A local Texas-compatible endpoint. Its keys are public test keys: use it on this");
    println!("machine only. Start your service with:\n");
    for (name, value) in texas.env_vars() {
        println!("export {name}={value}");
    }
    let token = texas
        .token()
        .scopes(scopes.split(' ').filter(|s| !s.is_empty()))
        .expires_in(Duration::from_secs(3600))
        .sign();
    println!("\n# A token valid for an hour, with the scopes {scopes:?}:");
    println!("export TOKEN={token}");
    println!("curl -i -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:8080/afp");
    println!("\nServing on {}; Ctrl-C stops.", texas.base_url());
    loop {
        std::thread::park();
    }
}
