//! `maskinporten-bench load`: every load scenario in one run, so that each
//! ratio is against an unguarded baseline measured minutes apart on the same
//! machine, not on another day.

use std::{
    collections::BTreeMap,
    io,
    net::SocketAddr,
    path::Path,
    time::{Duration, Instant},
};

use crate::{
    args::Args,
    driver::{
        fmt_count, fmt_duration, print_header, runtime, valid_token, valid_tokens, LoadArgs,
        Scratch, Stats,
    },
    fake::FakeIntrospection,
    http::{self, Conn},
    procs::{load_line, memory, mib, CpuMeter, Memory, Pinning, Server},
    wrk,
};

/// Tokens of the round-robin scenario.
const DISTINCT_TOKENS: usize = 1000;
/// Concurrent first requests of the burst.
const BURST: usize = 200;
/// How long the burst's endpoint takes to answer: longer than writing the
/// burst takes, so that every request of it arrives while the one
/// introspection is under way (Texas itself answers in a few ms).
const BURST_LATENCY: Duration = Duration::from_millis(50);
/// Entries of the memory scenario, and the cache capacity it sets.
const MEMORY_ENTRIES: usize = 100_000;
/// The memory target: resident size of the API holding them, in bytes.
const MEMORY_TARGET: u64 = 100_000_000;
/// The length of each token of the memory scenario: a Maskinporten token
/// with a few scopes is 900 bytes or so.
const MEMORY_TOKEN_LENGTH: usize = 900;
/// Not measured: connections opened, buffers grown, caches warm.
const WARM_UP: Duration = Duration::from_secs(1);

struct Options {
    duration: Duration,
    connections: usize,
    threads: usize,
}

/// One measured scenario.
struct Row {
    label: &'static str,
    report: wrk::Report,
    /// Each server's share of its core during the run.
    cpu: String,
}

pub fn run(args: Args) -> io::Result<()> {
    let LoadArgs {
        duration,
        connections,
        ..
    } = LoadArgs::parse(args)?;
    wrk::ensure_installed()?;
    let options = Options {
        duration: Duration::from_secs(duration),
        connections,
        threads: 1,
    };
    let pinning = Pinning::detect();
    print_header(
        "load",
        &pinning,
        &format!(
            "{duration} s per scenario (after {} s of unmeasured warm-up), {connections} \
             connections, {} wrk thread, HTTP/1.1 keep-alive over 127.0.0.1",
            WARM_UP.as_secs(),
            options.threads
        ),
    );
    let scratch = Scratch::new()?;
    runtime()?.block_on(scenarios(&options, &pinning, &scratch))
}

async fn scenarios(options: &Options, pinning: &Pinning, scratch: &Scratch) -> io::Result<()> {
    let texas = Server::start("texas", pinning.load, &args(&["texas"]))?;
    let introspect_url = texas.url("/api/v1/introspect");
    let api = Server::start(
        "api",
        pinning.api,
        &args(&["api", "--introspection", &introspect_url]),
    )?;
    let mut rows = Vec::new();
    let run = |url: String, script| wrk_run(options, pinning, url, script);

    // 1. The baseline: what one core serves with no guard at all.
    rows.push(measure(
        "1  unguarded /plain",
        &run(api.url("/plain"), None),
        &[("api", &api)],
    )?);

    // 1b. The same, with the token on the wire: an 880-byte header costs the
    // kernel and the HTTP parser something before any guard looks at it.
    let token = valid_token();
    let bearer = format!("Bearer {token}");
    let one_token_lua = wrk::static_script("GET", &[("Authorization", &bearer)], None);
    let one_token = wrk::write_script(scratch.path(), "one-token.lua", &one_token_lua)?;
    rows.push(measure(
        "1b unguarded /plain, same token header",
        &run(api.url("/plain"), Some(&one_token)),
        &[("api", &api)],
    )?);

    // 2. Guarded, one token, answered from the cache.
    expect_ok(api.addr, &token).await?;
    let before = Stats::fetch(api.addr).await?;
    rows.push(measure(
        "2  guarded, warm cache, 1 token",
        &run(api.url("/afp"), Some(&one_token)),
        &[("api", &api)],
    )?);
    let after = Stats::fetch(api.addr).await?;
    println!(
        "   introspections during the run: {} (hits {})",
        Stats::delta(&before, &after, "introspections"),
        fmt_count(Stats::delta(&before, &after, "cache_hits"))
    );
    check_all_ok(&rows)?;

    // 1s/2s. Latency without queueing: one connection, one request at a
    // time. Under saturation every request waits for those ahead of it, so
    // p99 there follows throughput; here it is the service time itself
    // (loopback round trip included).
    let mut single = Vec::new();
    let one = |url: String, script| wrk::Run {
        connections: 1,
        ..run(url, script)
    };
    single.push(measure(
        "1s unguarded /plain, 1 connection",
        &one(api.url("/plain"), None),
        &[("api", &api)],
    )?);
    single.push(measure(
        "2s guarded, warm cache, 1 connection",
        &one(api.url("/afp"), Some(&one_token)),
        &[("api", &api)],
    )?);
    check_all_ok(&single)?;

    // 3. Guarded, no cache: every request is an introspection.
    {
        let uncached = Server::start(
            "api (no cache)",
            pinning.api,
            &args(&["api", "--introspection", &introspect_url, "--no-cache"]),
        )?;
        rows.push(measure(
            "3  guarded, cache off",
            &run(uncached.url("/afp"), Some(&one_token)),
            &[("api", &uncached), ("texas", &texas)],
        )?);
        check_all_ok(&rows)?;
    }

    // 3b. What the endpoint itself serves: the ceiling of scenario 3.
    let body = serde_json::json!({"identity_provider": "maskinporten", "token": token}).to_string();
    let introspect_script = wrk::write_script(
        scratch.path(),
        "introspect.lua",
        &wrk::static_script("POST", &[("Content-Type", "application/json")], Some(&body)),
    )?;
    let mut conn = Conn::connect(texas.addr).await?;
    conn.send(&http::post_json_request("/api/v1/introspect", &body))
        .await?;
    let answer = conn.receive().await?;
    if answer.status != 200 || !String::from_utf8_lossy(&answer.body).contains("\"active\":true") {
        return Err(io::Error::other(
            "the local endpoint does not call the token active",
        ));
    }
    rows.push(measure(
        "3b the endpoint itself, POST introspect",
        &run(introspect_url.clone(), Some(&introspect_script)),
        &[("texas", &texas)],
    )?);
    check_all_ok(&rows)?;

    // 4. Guarded, many consumers: 1 000 cached tokens in turn.
    let tokens = valid_tokens(DISTINCT_TOKENS);
    let before = Stats::fetch(api.addr).await?;
    warm(api.addr, &tokens).await?;
    let warmed = Stats::fetch(api.addr).await?;
    println!(
        "   warmed {} tokens: {} introspections",
        tokens.len(),
        Stats::delta(&before, &warmed, "introspections")
    );
    let requests: Vec<Vec<(&str, String)>> = tokens
        .iter()
        .map(|t| vec![("Authorization", format!("Bearer {t}"))])
        .collect();
    let rotating = wrk::write_script(
        scratch.path(),
        "rotating.lua",
        &wrk::rotating_script("/afp", &requests),
    )?;
    rows.push(measure(
        "4  guarded, 1 000 tokens round-robin",
        &run(api.url("/afp"), Some(&rotating)),
        &[("api", &api)],
    )?);
    let after = Stats::fetch(api.addr).await?;
    println!(
        "   introspections during the run: {}",
        Stats::delta(&warmed, &after, "introspections")
    );
    check_all_ok(&rows)?;

    drop(api);
    drop(texas);

    // 5. Single flight: concurrent first requests with one fresh token.
    println!(
        "-- 5  burst: {BURST} concurrent first requests, one fresh token, endpoint latency {} \
         ms; {}",
        BURST_LATENCY.as_millis(),
        load_line()
    );
    let burst = {
        let texas = Server::start(
            "texas (slow)",
            pinning.load,
            &args(&[
                "texas",
                "--latency-ms",
                &BURST_LATENCY.as_millis().to_string(),
            ]),
        )?;
        let api = Server::start(
            "api",
            pinning.api,
            &args(&["api", "--introspection", &texas.url("/api/v1/introspect")]),
        )?;
        burst(api.addr, &valid_token()).await?
    };
    burst.print();

    // 6. Memory of a full cache.
    println!(
        "-- 6  memory: {} distinct cached entries; {}",
        fmt_count(MEMORY_ENTRIES as u64),
        load_line()
    );
    let memory = fill_memory(pinning, options.connections).await?;
    memory.print();

    print_summary(&rows, &single, &burst, &memory);
    // Throughput and memory depend on the machine; single flight does not:
    // a burst that took more than one introspection is a bug, and fails the
    // run (and CI's smoke run).
    if burst.introspections != 1 {
        return Err(io::Error::other(format!(
            "single flight broken: {} introspections for one token",
            burst.introspections
        )));
    }
    Ok(())
}

fn wrk_run<'a>(
    options: &Options,
    pinning: &Pinning,
    url: String,
    script: Option<&'a Path>,
) -> wrk::Run<'a> {
    wrk::Run {
        url,
        script,
        duration: options.duration,
        connections: options.connections,
        threads: options.threads,
        cpu: pinning.load,
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Runs wrk once unmeasured, then measured, and says how busy each server
/// process was: a server near 100 % of its core is the bottleneck, one well
/// below is waiting on something else.
fn measure(label: &'static str, run: &wrk::Run, servers: &[(&str, &Server)]) -> io::Result<Row> {
    println!("-- {label}; {}", load_line());
    wrk::Run {
        duration: WARM_UP,
        ..run.clone()
    }
    .run()?;
    let pids: Vec<u32> = servers.iter().map(|(_, s)| s.pid()).collect();
    let meter = CpuMeter::start(&pids);
    let report = run.run()?;
    let cpu = meter.percent();
    let cores: Vec<String> = meter
        .cores_busy()
        .iter()
        .enumerate()
        .map(|(i, percent)| format!("cpu{i} {percent:.0}%"))
        .collect();
    let busy: Vec<String> = servers
        .iter()
        .zip(cpu)
        .map(|((name, _), percent)| format!("{name} {percent:.0}%"))
        .collect();
    println!(
        "   {} requests/s, p50 {}, p99 {}, {} requests, {} non-2xx, {} socket errors",
        fmt_count(report.rps.round() as u64),
        fmt_duration(report.p50),
        fmt_duration(report.p99),
        fmt_count(report.requests),
        report.non_2xx,
        report.socket_errors,
    );
    println!(
        "   CPU: {}; cores busy: {}",
        busy.join(", "),
        cores.join(", ")
    );
    Ok(Row {
        label,
        report,
        cpu: busy.join(", "),
    })
}

/// A scenario whose requests were not all answered 200 measured something
/// else than it says: stop rather than print it as a result.
fn check_all_ok(rows: &[Row]) -> io::Result<()> {
    let row = rows.last().expect("a row");
    if row.report.non_2xx > 0 || row.report.socket_errors > 0 {
        return Err(io::Error::other(format!(
            "{}: {} answers were not 2xx and {} socket errors: the scenario is broken",
            row.label, row.report.non_2xx, row.report.socket_errors
        )));
    }
    Ok(())
}

async fn expect_ok(api: SocketAddr, token: &str) -> io::Result<()> {
    let response = Conn::connect(api).await?.get("/afp", Some(token)).await?;
    if response.status != 200 {
        return Err(io::Error::other(format!(
            "a valid token was answered {}",
            response.status
        )));
    }
    Ok(())
}

/// One request per token, 16 at a time, each of which must pass.
async fn warm(api: SocketAddr, tokens: &[String]) -> io::Result<()> {
    const PARALLEL: usize = 16;
    let mut tasks = tokio::task::JoinSet::new();
    for lane in 0..PARALLEL {
        let mine: Vec<String> = tokens
            .iter()
            .skip(lane)
            .step_by(PARALLEL)
            .cloned()
            .collect();
        tasks.spawn(async move {
            let mut conn = Conn::connect(api).await?;
            for token in mine {
                let status = conn.get("/afp", Some(&token)).await?.status;
                if status != 200 {
                    return Err(io::Error::other(format!(
                        "warming: a token was answered {status}"
                    )));
                }
            }
            Ok::<_, io::Error>(())
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.map_err(io::Error::other)??;
    }
    Ok(())
}

struct Burst {
    statuses: BTreeMap<u16, usize>,
    introspections: u64,
    misses: u64,
    hits: u64,
    elapsed: Duration,
}

impl Burst {
    fn print(&self) {
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(status, n)| format!("{n} x {status}"))
            .collect();
        println!(
            "   answers: {}; introspections: {}; cache misses: {} (waited on the one \
             introspection), hits: {}; all answered in {}",
            statuses.join(", "),
            self.introspections,
            self.misses,
            self.hits,
            fmt_duration(self.elapsed)
        );
    }
}

/// Opens and warms `BURST` connections first (a `/plain` request each), so
/// that the burst is requests, not connection set-ups; then writes the first
/// request for the fresh token on every one of them back to back, and reads
/// the answers.
async fn burst(api: SocketAddr, token: &str) -> io::Result<Burst> {
    let mut conns = Vec::with_capacity(BURST);
    for _ in 0..BURST {
        let mut conn = Conn::connect(api).await?;
        conn.get("/plain", None).await?;
        conns.push(conn);
    }
    let before = Stats::fetch(api).await?;
    let request = http::get_request("/afp", Some(token));
    let started = Instant::now();
    for conn in &mut conns {
        conn.send(&request).await?;
    }
    let mut statuses = BTreeMap::new();
    for conn in &mut conns {
        *statuses.entry(conn.receive().await?.status).or_insert(0) += 1;
    }
    let elapsed = started.elapsed();
    let after = Stats::fetch(api).await?;
    Ok(Burst {
        statuses,
        introspections: Stats::delta(&before, &after, "introspections"),
        misses: Stats::delta(&before, &after, "cache_misses"),
        hits: Stats::delta(&before, &after, "cache_hits"),
        elapsed,
    })
}

struct MemoryFigures {
    before: Memory,
    after: Memory,
    entries: u64,
    introspections: u64,
    answered: u64,
    failed: u64,
    fill: Duration,
}

impl MemoryFigures {
    fn per_entry(&self) -> f64 {
        self.after.rss.saturating_sub(self.before.rss) as f64 / self.entries.max(1) as f64
    }

    fn print(&self) {
        println!(
            "   API before: VmRSS {:.1} MiB, VmHWM {:.1} MiB; after: VmRSS {:.1} MiB ({:.1} MB), \
             VmHWM {:.1} MiB",
            mib(self.before.rss),
            mib(self.before.hwm),
            mib(self.after.rss),
            self.after.rss as f64 / 1e6,
            mib(self.after.hwm)
        );
        println!(
            "   {} entries cached ({} introspections, {} answered by the fake endpoint, {} \
             requests not answered 200, filled in {:.1} s): {:.0} bytes resident per entry",
            fmt_count(self.entries),
            fmt_count(self.introspections),
            fmt_count(self.answered),
            self.failed,
            self.fill.as_secs_f64(),
            self.per_entry()
        );
    }
}

/// An API with room for `MEMORY_ENTRIES`, filled with as many distinct
/// tokens through the fake endpoint; its resident memory before and after.
async fn fill_memory(pinning: &Pinning, connections: usize) -> io::Result<MemoryFigures> {
    let fake = FakeIntrospection::start().await?;
    let api = Server::start(
        "api (memory)",
        pinning.api,
        &args(&[
            "api",
            "--introspection",
            &fake.url(),
            "--capacity",
            &MEMORY_ENTRIES.to_string(),
        ]),
    )?;
    // The baseline includes what serving `connections` connections costs,
    // so that the difference is the cache alone.
    drive(api.addr, connections, 20 * connections, |_| None).await?;
    let before = memory(api.pid())?;
    let started = Instant::now();
    let failed = drive(api.addr, connections, MEMORY_ENTRIES, |i| {
        Some(memory_token(i))
    })
    .await?;
    let fill = started.elapsed();
    let stats = Stats::fetch_settled(api.addr).await?;
    let after = memory(api.pid())?;
    Ok(MemoryFigures {
        before,
        after,
        entries: stats.get("cached_entries"),
        introspections: stats.get("introspections"),
        answered: fake.answered.load(std::sync::atomic::Ordering::Relaxed),
        failed,
        fill,
    })
}

/// `count` requests over `connections` connections: to `/afp` with the
/// token `token(i)` for request `i`, or to `/plain` when it gives none.
/// Returns how many were not answered 200.
async fn drive(
    api: SocketAddr,
    connections: usize,
    count: usize,
    token: fn(usize) -> Option<String>,
) -> io::Result<u64> {
    let mut tasks = tokio::task::JoinSet::new();
    for lane in 0..connections {
        tasks.spawn(async move {
            let mut conn = Conn::connect(api).await?;
            let mut failed = 0u64;
            for i in (lane..count).step_by(connections) {
                let response = match token(i) {
                    Some(token) => conn.get("/afp", Some(&token)).await?,
                    None => conn.get("/plain", None).await?,
                };
                failed += u64::from(response.status != 200);
            }
            Ok::<_, io::Error>(failed)
        });
    }
    let mut failed = 0;
    while let Some(result) = tasks.join_next().await {
        failed += result.map_err(io::Error::other)??;
    }
    Ok(failed)
}

/// A distinct, JWT-shaped token of `MEMORY_TOKEN_LENGTH` bytes for `i`: an
/// RS256 header with a kid, a JSON payload that has not expired, and a
/// 342-character signature, so that it passes the guard's local checks. The
/// fake endpoint does not read it; the cache keeps only its SHA-256.
fn memory_token(i: usize) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    const HEADER: &str = r#"{"alg":"RS256","kid":"bench-memory","typ":"JWT"}"#;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const SIGNATURE: usize = 342;
    let mut state = (i as u64)
        .wrapping_add(1)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut random = |n: usize| -> String {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ALPHABET[(state & 63) as usize] as char
            })
            .collect()
    };
    let header = URL_SAFE_NO_PAD.encode(HEADER);
    // What the payload may take in base64url, and so in JSON bytes.
    let payload_chars = MEMORY_TOKEN_LENGTH - header.len() - SIGNATURE - 2;
    let payload_bytes = payload_chars * 3 / 4;
    let frame = r#"{"iss":"https://test.maskinporten.no/","exp":4102444800,"jti":""}"#;
    let payload = format!(
        r#"{{"iss":"https://test.maskinporten.no/","exp":4102444800,"jti":"{}"}}"#,
        random(payload_bytes - frame.len())
    );
    let mut token = format!("{header}.{}.", URL_SAFE_NO_PAD.encode(payload));
    let signature = random(MEMORY_TOKEN_LENGTH - token.len());
    token.push_str(&signature);
    token
}

fn print_table(rows: &[Row]) {
    let base = &rows[0].report;
    println!(
        "| {:<40} | {:>10} | {:>8} | {:>8} | {:>13} | {:>13} | {:<18} |",
        "scenario", "requests/s", "p50", "p99", "rps/unguarded", "p99/unguarded", "server CPU"
    );
    println!(
        "|{:-<42}|{:->12}|{:->10}|{:->10}|{:->15}|{:->15}|{:-<20}|",
        "", ":", ":", ":", ":", ":", ""
    );
    for row in rows {
        let r = &row.report;
        println!(
            "| {:<40} | {:>10} | {:>8} | {:>8} | {:>13.3} | {:>13.2} | {:<18} |",
            row.label,
            fmt_count(r.rps.round() as u64),
            fmt_duration(r.p50),
            fmt_duration(r.p99),
            r.rps / base.rps,
            r.p99.as_secs_f64() / base.p99.as_secs_f64(),
            row.cpu
        );
    }
}

fn print_summary(rows: &[Row], single: &[Row], burst: &Burst, memory: &MemoryFigures) {
    let base = &rows[0].report;
    println!();
    println!("== results (saturated: no pause between requests; ratios against row 1)");
    print_table(rows);
    println!();
    println!(
        "== latency without queueing (1 connection, one request at a time; ratios against \
         row 1s)"
    );
    print_table(single);
    println!();
    println!(
        "burst: {} concurrent first requests with one token -> {} introspection(s)",
        burst.statuses.values().sum::<usize>(),
        burst.introspections
    );
    println!(
        "memory: {} entries -> VmRSS {:.1} MB ({:.1} MiB), VmHWM {:.1} MiB, {:.0} bytes per \
         entry (VmRSS before filling: {:.1} MiB)",
        fmt_count(memory.entries),
        memory.after.rss as f64 / 1e6,
        mib(memory.after.rss),
        mib(memory.after.hwm),
        memory.per_entry(),
        mib(memory.before.rss)
    );

    let by = |prefix: &str| {
        rows.iter()
            .find(|r| r.label.starts_with(prefix))
            .map(|r| &r.report)
    };
    let (warm, off, endpoint) = (by("2 "), by("3 "), by("3b"));
    println!();
    println!("== targets");
    if let Some(warm) = warm {
        let ratio = warm.rps / base.rps;
        verdict(
            &format!("warm cache throughput >= 0.95 x unguarded: {ratio:.3}"),
            ratio >= 0.95,
        );
        let ratio = warm.p99.as_secs_f64() / base.p99.as_secs_f64();
        verdict(
            &format!("warm cache p99 <= 1.2 x unguarded: {ratio:.2}"),
            ratio <= 1.2,
        );
        if let Some(header) = by("1b") {
            println!(
                "         (against 1b, the same bytes on the wire: throughput {:.3}, p99 {:.2})",
                warm.rps / header.rps,
                warm.p99.as_secs_f64() / header.p99.as_secs_f64()
            );
        }
        if let [plain, guarded, ..] = single {
            println!(
                "         (1 connection, 1s vs 2s: p50 {} vs {}, p99 {} vs {}, ratio {:.2})",
                fmt_duration(plain.report.p50),
                fmt_duration(guarded.report.p50),
                fmt_duration(plain.report.p99),
                fmt_duration(guarded.report.p99),
                guarded.report.p99.as_secs_f64() / plain.report.p99.as_secs_f64()
            );
        }
    }
    if let (Some(off), Some(endpoint)) = (off, endpoint) {
        let ratio = off.rps / endpoint.rps;
        verdict(
            &format!(
                "cache-off throughput within 10% of the endpoint's own (3 / 3b >= 0.90): {ratio:.3}"
            ),
            ratio >= 0.90,
        );
    }
    verdict(
        &format!(
            "burst of {} first requests -> exactly 1 introspection: {}",
            burst.statuses.values().sum::<usize>(),
            burst.introspections
        ),
        burst.introspections == 1 && burst.statuses.keys().all(|&s| s == 200),
    );
    verdict(
        &format!(
            "{} entries < 100 MB resident: VmRSS {:.1} MB",
            fmt_count(memory.entries),
            memory.after.rss as f64 / 1e6
        ),
        memory.after.rss < MEMORY_TARGET
            && memory.entries as usize >= MEMORY_ENTRIES * 99 / 100
            && memory.failed == 0,
    );
    println!("{}", load_line());
}

fn verdict(what: &str, met: bool) {
    println!("  [{}] {what}", if met { "MET" } else { "MISSED" });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_tokens_are_distinct_and_sized() {
        let (a, b) = (memory_token(0), memory_token(1));
        assert_ne!(a, b);
        assert_eq!(a.len(), MEMORY_TOKEN_LENGTH);
        assert_eq!(a.split('.').count(), 3);
        assert_eq!(a.rsplit('.').next().unwrap().len(), 342);
    }
}
