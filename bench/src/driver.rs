//! What the load and soak drivers share: the report header, the scratch
//! directory, the API's `/stats`, token minting and number formatting.

use std::{
    io,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use maskinporten_actix::testing::{TokenBuilder, DEFAULT_ISSUER};
use serde_json::Value;

use crate::{
    api::READ_SCOPE,
    http::{self, Conn},
    procs::{quiet_check, Machine, Pinning},
};

/// Prints what the figures depend on: build, machine, pinning, load.
/// The options the `load` and `local` runs share: `--quick`, `--duration`
/// (seconds per scenario; 10, or 2 with `--quick`) and `--connections` (64).
pub struct LoadArgs {
    pub quick: bool,
    pub duration: u64,
    pub connections: usize,
}

impl LoadArgs {
    pub fn parse(mut args: crate::args::Args) -> io::Result<LoadArgs> {
        let quick = args.flag("--quick");
        let duration = args
            .parsed::<u64>("--duration")?
            .unwrap_or(if quick { 2 } else { 10 });
        let connections = args.parsed::<usize>("--connections")?.unwrap_or(64);
        args.finish()?;
        if duration == 0 || connections == 0 {
            return Err(crate::args::usage(
                "--duration and --connections must be at least 1".into(),
            ));
        }
        Ok(LoadArgs {
            quick,
            duration,
            connections,
        })
    }
}

pub fn print_header(title: &str, pinning: &Pinning, settings: &str) {
    let machine = Machine::read();
    println!("== maskinporten-bench {title}");
    if cfg!(debug_assertions) {
        println!(
            "WARNING: a debug build; the figures mean nothing. Run with `cargo run --release`."
        );
    }
    println!(
        "machine: {} ({} CPUs), kernel {}",
        machine.cpu_model, machine.cpus, machine.kernel
    );
    println!("pinning: {}", pinning.describe());
    println!("settings: {settings}");
    println!("before the run: {}", quiet_check());
}

/// A directory for the run's wrk scripts (which hold tokens), removed at
/// the end.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new() -> io::Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("maskinporten-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The counters of the API's `/stats`.
#[derive(Clone, Debug, Default)]
pub struct Stats(pub Value);

impl Stats {
    pub async fn fetch(api: SocketAddr) -> io::Result<Stats> {
        Self::fetch_path(api, "/stats").await
    }

    /// After applying the cache's pending work: an exact entry count.
    pub async fn fetch_settled(api: SocketAddr) -> io::Result<Stats> {
        Self::fetch_path(api, "/stats?settle").await
    }

    async fn fetch_path(api: SocketAddr, path: &str) -> io::Result<Stats> {
        let response = http::get_once(api, path).await?;
        if response.status != 200 {
            return Err(io::Error::other(format!(
                "{path} answered {}",
                response.status
            )));
        }
        serde_json::from_slice(&response.body)
            .map(Stats)
            .map_err(io::Error::other)
    }

    pub fn get(&self, name: &str) -> u64 {
        self.0[name].as_u64().unwrap_or(0)
    }

    /// `after - before` of one counter.
    pub fn delta(before: &Stats, after: &Stats, name: &str) -> u64 {
        after.get(name).saturating_sub(before.get(name))
    }
}

/// A valid token for `/afp`, living an hour: longer than any run.
pub fn valid_token() -> String {
    valid_token_builder().sign()
}

/// A valid token for `/afp` of `len` bytes (or the first length above it
/// that base64 allows); `None` when even the unpadded token is longer.
pub fn valid_token_of_length(len: usize) -> Option<String> {
    valid_token_builder().sign_padded(len)
}

fn valid_token_builder() -> TokenBuilder {
    TokenBuilder::new(DEFAULT_ISSUER)
        .scope(READ_SCOPE)
        .expires_in(Duration::from_secs(3600))
}

/// `count` valid tokens, each with its own `jti` and `client_id`.
pub fn valid_tokens(count: usize) -> Vec<String> {
    let started = Instant::now();
    let tokens: Vec<String> = (0..count).map(|_| valid_token()).collect();
    println!(
        "   minted {count} RS256 tokens in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    tokens
}

/// A forged token for `i`: from the benchmark's issuer, unexpired, with the
/// scope `/afp` requires, a distinct `jti`, the given `kid` and 256 bytes of
/// signature nobody made. With the endpoint's own `kid` it passes every
/// check but the signature. The signature's bytes are spread evenly, so
/// about a quarter of them read as a number above the key's modulus, which
/// a verifier refuses before any arithmetic.
pub fn forged_token(i: usize, kid: &str) -> String {
    forged_token_with(i, kid, 0xff)
}

/// As [`forged_token`], with a signature below every RSA-2048 modulus (its
/// first byte under 0x80): each one costs a whole RS256 verification, as
/// forged tokens meant to cost the API most would.
pub fn forged_token_below_modulus(i: usize, kid: &str) -> String {
    forged_token_with(i, kid, 0x7f)
}

fn forged_token_with(i: usize, kid: &str, first_byte_mask: u8) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    let now = crate::unix_now();
    let header = serde_json::json!({"alg": "RS256", "kid": kid, "typ": "JWT"});
    let claims = serde_json::json!({
        "iss": DEFAULT_ISSUER, "scope": READ_SCOPE, "exp": now + 3600, "iat": now, "jti": i,
    });
    let mut signature: Vec<u8> = (0..256).map(|k| (i + k * 31) as u8).collect();
    signature[0] &= first_byte_mask;
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// A duration as wrk prints them: `812us`, `1.23ms`, `2.00s`.
pub fn fmt_duration(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0}us")
    } else if us < 1e6 {
        format!("{:.2}ms", us / 1e3)
    } else {
        format!("{:.2}s", us / 1e6)
    }
}

/// `12 345` for 12345: thousands apart, as the tables print them.
pub fn fmt_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

pub fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Fails unless `GET /afp` with `token` is answered `status`: a probe
/// before anything is measured.
pub async fn expect(api: SocketAddr, token: &str, status: u16) -> io::Result<()> {
    let answer = Conn::connect(api).await?.get("/afp", Some(token)).await?;
    if answer.status != status {
        return Err(io::Error::other(format!(
            "expected {status} before measuring, got {}",
            answer.status
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(fmt_count(1_234_567), "1 234 567");
        assert_eq!(fmt_count(999), "999");
        assert_eq!(fmt_duration(Duration::from_micros(812)), "812us");
        assert_eq!(fmt_duration(Duration::from_micros(1234)), "1.23ms");
        assert_eq!(fmt_duration(Duration::from_secs(2)), "2.00s");
    }
}
