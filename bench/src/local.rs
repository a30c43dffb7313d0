//! `maskinporten-bench local`: local validation against the JWKS, beside
//! introspection, over real HTTP with wrk pinned as in `load`.
//!
//! - L1 unguarded `/plain` (the baseline of the ratios);
//! - L2 local validation, warm cache, one token;
//! - L3 local validation, cache off: every request verifies the RS256
//!   signature (the ratio to L1 is the cost of verifying every request);
//! - L4 forged tokens with a valid `kid` (signed by another key), cache on:
//!   every request is a failed signature check, local vs introspection;
//! - L5 first-request latency of new tokens, one at a time on one
//!   connection: p50/p99, local vs introspection.

use std::{
    io,
    net::SocketAddr,
    time::{Duration, Instant},
};

use maskinporten_actix::testing::DEFAULT_KID;

use crate::{
    args::Args,
    driver::{
        expect, fmt_count, fmt_duration, forged_token, print_header, runtime, valid_token,
        valid_tokens, LoadArgs, Scratch,
    },
    http::Conn,
    procs::{load_line, CpuMeter, Pinning, Server},
    wrk,
};

const WARM_UP: Duration = Duration::from_secs(1);

pub fn run(args: Args) -> io::Result<()> {
    let LoadArgs {
        quick,
        duration,
        connections,
    } = LoadArgs::parse(args)?;
    wrk::ensure_installed()?;
    let pinning = Pinning::detect();
    print_header(
        "local",
        &pinning,
        &format!(
            "{duration} s per scenario (after {} s of unmeasured warm-up), {connections} \
             connections, 1 wrk thread, HTTP/1.1 keep-alive over 127.0.0.1",
            WARM_UP.as_secs()
        ),
    );
    let scratch = Scratch::new()?;
    let first_requests = if quick { 200 } else { 2000 };
    runtime()?.block_on(scenarios(
        Duration::from_secs(duration),
        connections,
        first_requests,
        &pinning,
        &scratch,
    ))
}

async fn scenarios(
    duration: Duration,
    connections: usize,
    first_requests: usize,
    pinning: &Pinning,
    scratch: &Scratch,
) -> io::Result<()> {
    let texas = Server::start("texas", pinning.load, &args(&["texas"]))?;
    let jwks = texas.url("/jwks");
    let introspect = texas.url("/api/v1/introspect");
    let local = Server::start("api (local)", pinning.api, &args(&["api", "--jwks", &jwks]))?;
    let token = valid_token();
    let one_token = script(scratch, "local-one-token.lua", &token)?;
    // Distinct forged tokens: one token sent again and again would share
    // one validation between the concurrent requests (single-flight) and
    // measure that instead of a flood.
    let forged: Vec<String> = (0..FORGED_TOKENS)
        .map(|i| forged_token(i, DEFAULT_KID))
        .collect();
    let forged_script = wrk::write_script(
        scratch.path(),
        "local-forged.lua",
        &wrk::rotating_script(
            "/afp",
            &forged
                .iter()
                .map(|t| vec![("Authorization", format!("Bearer {t}"))])
                .collect::<Vec<_>>(),
        ),
    )?;
    let wrk_run = |url: String, script| wrk_run(url, script, duration, connections, pinning);

    let plain = measure(
        "L1 unguarded /plain",
        &wrk_run(local.url("/plain"), None),
        &[("api", &local)],
    )?;
    expect(local.addr, &token, 200).await?;
    let warm = measure(
        "L2 local, warm cache, 1 token",
        &wrk_run(local.url("/afp"), Some(&one_token)),
        &[("api", &local)],
    )?;
    let uncached_server = Server::start(
        "api (local, no cache)",
        pinning.api,
        &args(&["api", "--jwks", &jwks, "--no-cache"]),
    )?;
    expect(uncached_server.addr, &token, 200).await?;
    let uncached = measure(
        "L3 local, cache off (every request verified)",
        &wrk_run(uncached_server.url("/afp"), Some(&one_token)),
        &[("api", &uncached_server)],
    )?;
    drop(uncached_server);
    expect(local.addr, &forged[0], 401).await?;
    let forged_local = measure(
        "L4 local, forged tokens with a valid kid (all 401)",
        &wrk_run(local.url("/afp"), Some(&forged_script)),
        &[("api", &local)],
    )?;
    let by_texas = Server::start(
        "api (introspection)",
        pinning.api,
        &args(&["api", "--introspection", &introspect]),
    )?;
    expect(by_texas.addr, &forged[0], 401).await?;
    let forged_texas = measure(
        "L4i introspection, forged tokens with a valid kid (all 401)",
        &wrk_run(by_texas.url("/afp"), Some(&forged_script)),
        &[("api", &by_texas), ("texas", &texas)],
    )?;

    println!(
        "-- L5 first request of {first_requests} new tokens, one at a time; {}",
        load_line()
    );
    let tokens = valid_tokens(first_requests * 2);
    let (for_local, for_texas) = tokens.split_at(first_requests);
    let first_local = first_requests_latency(local.addr, for_local).await?;
    let first_texas = first_requests_latency(by_texas.addr, for_texas).await?;

    println!();
    println!("== summary (local validation)");
    let ratio = |r: f64| r / plain.rps * 100.0;
    println!(
        "   L1 unguarded                         {:>9} req/s",
        fmt_count(plain.rps as u64)
    );
    println!(
        "   L2 local, warm cache                 {:>9} req/s ({:.0} % of unguarded), p99 {}",
        fmt_count(warm.rps as u64),
        ratio(warm.rps),
        fmt_duration(warm.p99)
    );
    println!(
        "   L3 local, cache off                  {:>9} req/s ({:.0} % of unguarded), p99 {}",
        fmt_count(uncached.rps as u64),
        ratio(uncached.rps),
        fmt_duration(uncached.p99)
    );
    println!(
        "   L4 forged, valid kid: local          {:>9} req/s rejected, p99 {}",
        fmt_count(forged_local.rps as u64),
        fmt_duration(forged_local.p99)
    );
    println!(
        "   L4 forged, valid kid: introspection  {:>9} req/s rejected, p99 {}",
        fmt_count(forged_texas.rps as u64),
        fmt_duration(forged_texas.p99)
    );
    println!(
        "   L5 first request, local              p50 {}, p99 {}",
        fmt_duration(first_local.0),
        fmt_duration(first_local.1)
    );
    println!(
        "   L5 first request, introspection      p50 {}, p99 {}",
        fmt_duration(first_texas.0),
        fmt_duration(first_texas.1)
    );
    let all_answered = [&plain, &warm, &uncached].iter().all(|r| r.non_2xx == 0)
        && forged_local.non_2xx == forged_local.requests
        && forged_texas.non_2xx == forged_texas.requests;
    if !all_answered {
        return Err(io::Error::other(
            "a scenario got answers other than the ones it measures",
        ));
    }
    Ok(())
}

fn wrk_run<'a>(
    url: String,
    script: Option<&'a std::path::Path>,
    duration: Duration,
    connections: usize,
    pinning: &Pinning,
) -> wrk::Run<'a> {
    wrk::Run {
        url,
        script,
        duration,
        connections,
        threads: 1,
        cpu: pinning.load,
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Forged tokens in the rotation: more than a run sends at the introspection
/// rate, so that each is new when it is sent.
const FORGED_TOKENS: usize = 20_000;

/// A wrk script sending one token; the token stays in the scratch file.
fn script(scratch: &Scratch, name: &str, token: &str) -> io::Result<std::path::PathBuf> {
    let bearer = format!("Bearer {token}");
    wrk::write_script(
        scratch.path(),
        name,
        &wrk::static_script("GET", &[("Authorization", &bearer)], None),
    )
}

/// Runs wrk once unmeasured, then measured; prints the figures.
fn measure(label: &str, run: &wrk::Run, servers: &[(&str, &Server)]) -> io::Result<wrk::Report> {
    println!("-- {label}; {}", load_line());
    wrk::Run {
        duration: WARM_UP,
        ..run.clone()
    }
    .run()?;
    let pids: Vec<u32> = servers.iter().map(|(_, s)| s.pid()).collect();
    let meter = CpuMeter::start(&pids);
    let report = run.run()?;
    let busy: Vec<String> = servers
        .iter()
        .zip(meter.percent())
        .map(|((name, _), percent)| format!("{name} {percent:.0}%"))
        .collect();
    println!(
        "   {} requests/s, p50 {}, p99 {}, {} requests, {} non-2xx, {} socket errors; CPU: {}",
        fmt_count(report.rps.round() as u64),
        fmt_duration(report.p50),
        fmt_duration(report.p99),
        fmt_count(report.requests),
        report.non_2xx,
        report.socket_errors,
        busy.join(", ")
    );
    Ok(report)
}

/// p50 and p99 of the first request of each token, sent one at a time on
/// one kept-alive connection: the service time of a cache miss.
async fn first_requests_latency(
    api: SocketAddr,
    tokens: &[String],
) -> io::Result<(Duration, Duration)> {
    let mut conn = Conn::connect(api).await?;
    // The connection and the key set warm, not measured.
    conn.get("/plain", None).await?;
    conn.get("/afp", Some(&valid_token())).await?;
    let mut times = Vec::with_capacity(tokens.len());
    for token in tokens {
        let started = Instant::now();
        let status = conn.get("/afp", Some(token)).await?.status;
        times.push(started.elapsed());
        if status != 200 {
            return Err(io::Error::other(format!(
                "a new token was answered {status}"
            )));
        }
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    Ok((at(0.50), at(0.99)))
}
