//! `maskinporten-bench flood`: forged tokens as someone without credentials
//! would send them (the right `iss`, a future `exp`, RS256, half with the
//! trusted `kid` and a signature nobody made, half with random `kid`s),
//! over real HTTP on 127.0.0.1, against the API's three ways to validate:
//!
//! Every forged signature is below the key's modulus, so that a forged token
//! with the trusted `kid` costs a whole RS256 verification: the most an
//! attacker can make the API spend on one.
//!
//! - F1 introspection without the signature check (`builder_from_env()` without the
//!   JWKS variables), F2 introspection with it (`--jwks` beside
//!   `--introspection`), F3 local validation.
//!
//! Two measurements:
//!
//! - **Genuine tokens during a flood** (F1–F3): forged tokens at 500 a
//!   second, paced, while new genuine tokens arrive at 10 a second, each a
//!   token the API has not seen, against the Texas stand-in (`texas
//!   --latency-ms 20`: introspections serialised, 20 ms each). Reported: the
//!   genuine tokens' latency (p50, p99, max) and answers, the forged tokens'
//!   answers, and what the sidecar was asked (introspections, JWKS fetches).
//! - **Forged tokens rejected per second** (R1–R4): the API alone on its
//!   core, wrk sending distinct forged tokens as fast as it answers, for F2
//!   and F3, with the trusted `kid` and with random ones. Reported: rejections
//!   per second and per second of the API's CPU time.
//!
//! Figures are printed, never judged against a time. The run fails when a
//! forged token is ever answered 200, or a genuine one anything but 200
//! where signatures are checked (F2, F3).

use std::{
    collections::BTreeMap,
    io,
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use maskinporten_actix::testing::DEFAULT_KID;
use tokio::task::JoinHandle;

use crate::{
    args::Args,
    driver::{
        expect, fmt_count, fmt_duration, forged_token_below_modulus, print_header, runtime,
        valid_token, valid_tokens, Scratch, Stats,
    },
    http::{self, Conn},
    procs::{load_line, CpuMeter, Pinning, Server},
    wrk,
};

/// Distinct forged tokens in each wrk rotation: at the rates here none is
/// sent twice at once, so no request shares another's validation.
const ROTATION: usize = 10_000;
/// A kept-alive connection idle longer than this is not reused: actix
/// closes idle connections after 5 s, and a request must not meet that.
const IDLE: Duration = Duration::from_secs(1);
/// The index of the forged tokens sent before measuring: none sent later
/// is the same.
const PROBE: usize = 1 << 30;

struct Options {
    /// Each flood (F1–F3).
    duration: Duration,
    /// Each rejection row (R1–R4), after 1 s unmeasured.
    reject_duration: Duration,
    forged_per_second: u32,
    genuine_per_second: u32,
    sidecar: Duration,
    connections: usize,
}

/// How the API validates.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Config {
    Introspection,
    Checked,
    Local,
}

impl Config {
    const ALL: [Config; 3] = [Config::Introspection, Config::Checked, Config::Local];

    fn label(self) -> &'static str {
        match self {
            Config::Introspection => "F1 introspection, no signature check",
            Config::Checked => "F2 introspection + signature check",
            Config::Local => "F3 local validation",
        }
    }

    fn api_args(self, texas: &Server) -> Vec<String> {
        let introspect = texas.url("/api/v1/introspect");
        let jwks = texas.url("/jwks");
        let args: &[&str] = match self {
            Config::Introspection => &["api", "--introspection", &introspect],
            Config::Checked => &["api", "--introspection", &introspect, "--jwks", &jwks],
            Config::Local => &["api", "--jwks", &jwks],
        };
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Whether every genuine token must be answered 200: where signatures
    /// are checked, forged tokens never hold a place a genuine one needs.
    fn checks_signatures(self) -> bool {
        self != Config::Introspection
    }
}

pub fn run(mut args: Args) -> io::Result<()> {
    let quick = args.flag("--quick");
    let duration = args
        .parsed::<u64>("--duration")?
        .unwrap_or(if quick { 4 } else { 30 });
    let reject_duration = args
        .parsed::<u64>("--reject-duration")?
        .unwrap_or(if quick { 2 } else { 10 });
    let forged_per_second = args.parsed::<u32>("--forged-per-second")?.unwrap_or(500);
    let genuine_per_second = args.parsed::<u32>("--genuine-per-second")?.unwrap_or(10);
    let sidecar_ms = args.parsed::<u64>("--sidecar-ms")?.unwrap_or(20);
    let connections = args.parsed::<usize>("--connections")?.unwrap_or(64);
    args.finish()?;
    if duration == 0
        || reject_duration == 0
        || forged_per_second == 0
        || genuine_per_second == 0
        || connections == 0
    {
        return Err(crate::args::usage(
            "--duration, --reject-duration, the rates and --connections must be at least 1".into(),
        ));
    }
    wrk::ensure_installed()?;
    let options = Options {
        duration: Duration::from_secs(duration),
        reject_duration: Duration::from_secs(reject_duration),
        forged_per_second,
        genuine_per_second,
        sidecar: Duration::from_millis(sidecar_ms),
        connections,
    };
    let pinning = Pinning::detect();
    print_header(
        "flood",
        &pinning,
        &format!(
            "floods of {duration} s: {forged_per_second} forged tokens/s (half the trusted kid, \
             half random kids) and {genuine_per_second} new genuine tokens/s; sidecar stand-in \
             {sidecar_ms} ms per introspection, serialised; rejection rows of {reject_duration} s \
             (after 1 s unmeasured), {connections} connections, 1 wrk thread"
        ),
    );
    let scratch = Scratch::new()?;
    runtime()?.block_on(async {
        let mut problems = Vec::new();
        let floods = floods(&options, &pinning, &mut problems).await?;
        let rejections = rejections(&options, &pinning, &scratch, &mut problems).await?;
        print_summary(&options, &floods, &rejections);
        println!("{}", load_line());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "wrong answers:\n  {}",
                problems.join("\n  ")
            )))
        }
    })
}

/// A seed for the random `kid`s: another set each run.
fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// splitmix64: random enough for made-up key ids, and no dependency.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The flood's forged token `i`: the trusted `kid` for even `i`, a random
/// one for odd.
fn forged(i: usize, seed: u64) -> String {
    if i.is_multiple_of(2) {
        forged_token_below_modulus(i, DEFAULT_KID)
    } else {
        forged_random_kid(i, seed)
    }
}

fn forged_random_kid(i: usize, seed: u64) -> String {
    let kid = format!("{:016x}", mix(seed ^ i as u64));
    forged_token_below_modulus(i, &kid)
}

/// What the sidecar stand-in was asked, counted where it is asked.
#[derive(Clone, Copy, Default)]
struct Sidecar {
    introspections: u64,
    jwks_fetches: u64,
}

impl Sidecar {
    async fn read(texas: &Server) -> io::Result<Sidecar> {
        let addr = texas
            .stats_addr
            .ok_or_else(|| io::Error::other("texas: no counters port"))?;
        let response = http::get_once(addr, "/").await?;
        let counters: serde_json::Value =
            serde_json::from_slice(&response.body).map_err(io::Error::other)?;
        let get = |name: &str| counters[name].as_u64().unwrap_or(0);
        Ok(Sidecar {
            introspections: get("introspections"),
            jwks_fetches: get("jwks_fetches"),
        })
    }

    fn since(self, before: Sidecar) -> Sidecar {
        Sidecar {
            introspections: self.introspections.saturating_sub(before.introspections),
            jwks_fetches: self.jwks_fetches.saturating_sub(before.jwks_fetches),
        }
    }
}

/// Kept-alive connections to the API, the freshest reused first; one is
/// opened whenever none is free, so a slow answer never holds back the
/// next request.
struct Pool {
    addr: SocketAddr,
    idle: Mutex<Vec<(Conn, Instant)>>,
}

impl Pool {
    fn new(addr: SocketAddr) -> Pool {
        Pool {
            addr,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// `GET /afp` with `token`: the status, or 0 when no answer came.
    async fn get(&self, token: &str) -> u16 {
        let conn = self.take();
        let mut conn = match conn {
            Some(conn) => conn,
            None => match Conn::connect(self.addr).await {
                Ok(conn) => conn,
                Err(_) => return 0,
            },
        };
        match conn.get("/afp", Some(token)).await {
            Ok(response) => {
                self.lock().push((conn, Instant::now()));
                response.status
            }
            Err(_) => 0,
        }
    }

    /// The freshest idle connection; the stale ones under it are dropped.
    fn take(&self) -> Option<Conn> {
        let mut idle = self.lock();
        while let Some((conn, since)) = idle.pop() {
            if since.elapsed() < IDLE {
                return Some(conn);
            }
        }
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Conn, Instant)>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One flood against one configuration.
struct Flood {
    config: Config,
    /// Each genuine token's answer (0: none) and how long it took.
    genuine: Vec<(u16, Duration)>,
    /// The forged tokens' answers by status (0: none).
    forged: BTreeMap<u16, u64>,
    forged_sent: usize,
    /// How long sending them took: the pace the sender kept.
    paced: Duration,
    sidecar: Sidecar,
    /// The API's own counters over the flood.
    api_introspections: u64,
    refused_without_validator: u64,
    /// Share of a CPU over the flood and its drain.
    api_cpu: f64,
    texas_cpu: f64,
}

impl Flood {
    fn genuine_at(&self, q: f64) -> Duration {
        let mut times: Vec<Duration> = self.genuine.iter().map(|&(_, t)| t).collect();
        times.sort();
        match times.len() {
            0 => Duration::ZERO,
            n => times[((n as f64 * q) as usize).min(n - 1)],
        }
    }

    fn genuine_statuses(&self) -> BTreeMap<u16, u64> {
        let mut counts = BTreeMap::new();
        for &(status, _) in &self.genuine {
            *counts.entry(status).or_default() += 1;
        }
        counts
    }
}

fn fmt_statuses(counts: &BTreeMap<u16, u64>) -> String {
    if counts.is_empty() {
        return "none".to_owned();
    }
    counts
        .iter()
        .map(|(&status, &n)| match status {
            0 => format!("no answer: {}", fmt_count(n)),
            status => format!("{status}: {}", fmt_count(n)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn floods(
    options: &Options,
    pinning: &Pinning,
    problems: &mut Vec<String>,
) -> io::Result<Vec<Flood>> {
    let per_flood = (u64::from(options.genuine_per_second) * options.duration.as_secs()) as usize;
    let tokens = valid_tokens(per_flood * Config::ALL.len());
    let seed = seed();
    let mut floods = Vec::new();
    for (config, tokens) in Config::ALL.into_iter().zip(tokens.chunks(per_flood)) {
        let flood = flood(config, options, pinning, tokens, seed).await?;
        if let Some(n) = flood.forged.get(&200) {
            problems.push(format!(
                "{}: {n} forged tokens answered 200",
                config.label()
            ));
        }
        let not_200 = flood.genuine.iter().filter(|&&(s, _)| s != 200).count();
        if config.checks_signatures() && not_200 > 0 {
            problems.push(format!(
                "{}: {not_200} genuine tokens answered anything but 200 ({})",
                config.label(),
                fmt_statuses(&flood.genuine_statuses())
            ));
        }
        floods.push(flood);
    }
    Ok(floods)
}

async fn flood(
    config: Config,
    options: &Options,
    pinning: &Pinning,
    tokens: &[String],
    seed: u64,
) -> io::Result<Flood> {
    println!("-- {}; {}", config.label(), load_line());
    let texas = sidecar(options, pinning)?;
    let api = Server::start("api", pinning.api, &config.api_args(&texas))?;
    // The connection, the key set where there is one, and one refusal of
    // each kind of forged token, before anything is counted.
    expect(api.addr, &valid_token(), 200).await?;
    expect(
        api.addr,
        &forged_token_below_modulus(PROBE, DEFAULT_KID),
        401,
    )
    .await?;
    expect(api.addr, &forged_random_kid(PROBE, seed), 401).await?;
    let sidecar_before = Sidecar::read(&texas).await?;
    let stats_before = Stats::fetch(api.addr).await?;
    let meter = CpuMeter::start(&[api.pid(), texas.pid()]);

    let pool = Arc::new(Pool::new(api.addr));
    let started = Instant::now();
    let until = started + options.duration;
    let forged_every = Duration::from_secs(1) / options.forged_per_second;
    let genuine_every = Duration::from_secs(1) / options.genuine_per_second;
    let ((forged_tasks, paced), genuine_tasks) = tokio::join!(
        send_forged(Arc::clone(&pool), forged_every, until, seed),
        send_genuine(api.addr, genuine_every, until, tokens.to_vec()),
    );
    let mut forged = BTreeMap::new();
    for task in forged_tasks {
        *forged.entry(task.await.unwrap_or(0)).or_default() += 1;
    }
    let mut genuine = Vec::with_capacity(genuine_tasks.len());
    for task in genuine_tasks {
        genuine.push(task.await.unwrap_or((0, Duration::ZERO)));
    }
    let cpu = meter.percent();
    drop(pool);
    let sidecar = Sidecar::read(&texas).await?.since(sidecar_before);
    let stats_after = Stats::fetch(api.addr).await?;
    let forged_sent = forged.values().sum::<u64>() as usize;
    let flood = Flood {
        config,
        genuine,
        forged,
        forged_sent,
        paced,
        sidecar,
        api_introspections: Stats::delta(&stats_before, &stats_after, "introspections"),
        refused_without_validator: Stats::delta(
            &stats_before,
            &stats_after,
            "refused_without_validator",
        ),
        api_cpu: cpu[0],
        texas_cpu: cpu[1],
    };
    println!(
        "   forged: {} sent in {:.2} s ({:.0}/s), answered {}",
        fmt_count(flood.forged_sent as u64),
        flood.paced.as_secs_f64(),
        flood.forged_sent as f64 / flood.paced.as_secs_f64().max(1e-9),
        fmt_statuses(&flood.forged)
    );
    println!(
        "   genuine: {} new tokens, answered {}; p50 {}, p99 {}, max {}",
        flood.genuine.len(),
        fmt_statuses(&flood.genuine_statuses()),
        fmt_duration(flood.genuine_at(0.50)),
        fmt_duration(flood.genuine_at(0.99)),
        fmt_duration(flood.genuine_at(1.0)),
    );
    println!(
        "   sidecar asked: {} introspections, {} JWKS fetches; the handle's stats: introspections \
         {}, refused_without_validator {}; CPU: api {:.0}%, texas {:.0}%; {:.1} s in all",
        fmt_count(flood.sidecar.introspections),
        flood.sidecar.jwks_fetches,
        fmt_count(flood.api_introspections),
        fmt_count(flood.refused_without_validator),
        flood.api_cpu,
        flood.texas_cpu,
        started.elapsed().as_secs_f64()
    );
    Ok(flood)
}

/// Sends forged token after forged token, one every `every`, each on a
/// connection of its own while it waits, until `until`; returns the
/// requests and how long sending them took.
async fn send_forged(
    pool: Arc<Pool>,
    every: Duration,
    until: Instant,
    seed: u64,
) -> (Vec<JoinHandle<u16>>, Duration) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0u32.. {
        let due = started + every * i;
        if due >= until {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let token = forged(i as usize, seed);
        let pool = Arc::clone(&pool);
        tasks.push(tokio::spawn(async move { pool.get(&token).await }));
    }
    (tasks, started.elapsed())
}

/// Sends each genuine token once, one every `every` (half a period after
/// the flood starts), on a connection opened for it; each is timed from
/// writing the request to reading the answer.
async fn send_genuine(
    api: SocketAddr,
    every: Duration,
    until: Instant,
    tokens: Vec<String>,
) -> Vec<JoinHandle<(u16, Duration)>> {
    let started = Instant::now() + every / 2;
    let mut tasks = Vec::new();
    for (i, token) in (0u32..).zip(tokens) {
        let due = started + every * i;
        if due >= until {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        tasks.push(tokio::spawn(async move {
            let Ok(mut conn) = Conn::connect(api).await else {
                return (0, Duration::ZERO);
            };
            let asked = Instant::now();
            let status = conn.get("/afp", Some(&token)).await.map_or(0, |r| r.status);
            (status, asked.elapsed())
        }));
    }
    tasks
}

/// One rejection row.
struct Rejection {
    label: &'static str,
    tokens: &'static str,
    report: wrk::Report,
    /// The API's CPU time over the measured run.
    cpu: Duration,
    api_percent: f64,
    core_percent: f64,
    sidecar: Sidecar,
}

impl Rejection {
    /// Rejections per second of the API's CPU time.
    fn per_cpu_second(&self) -> f64 {
        self.report.requests as f64 / self.cpu.as_secs_f64().max(1e-9)
    }
}

async fn rejections(
    options: &Options,
    pinning: &Pinning,
    scratch: &Scratch,
    problems: &mut Vec<String>,
) -> io::Result<Vec<Rejection>> {
    let seed = seed();
    let script = |name: &str, token: &dyn Fn(usize) -> String| -> io::Result<PathBuf> {
        let requests: Vec<Vec<(&str, String)>> = (0..ROTATION)
            .map(|i| vec![("Authorization", format!("Bearer {}", token(i)))])
            .collect();
        wrk::write_script(
            scratch.path(),
            name,
            &wrk::rotating_script("/afp", &requests),
        )
    };
    let trusted = script("forged-trusted-kid.lua", &|i| {
        forged_token_below_modulus(i, DEFAULT_KID)
    })?;
    let random = script("forged-random-kid.lua", &|i| forged_random_kid(i, seed))?;
    let texas = sidecar(options, pinning)?;
    let rows: [(&str, Config, &str, &PathBuf, String); 4] = [
        (
            "R1 signature check",
            Config::Checked,
            "trusted kid, junk signature",
            &trusted,
            forged_token_below_modulus(PROBE, DEFAULT_KID),
        ),
        (
            "R2 signature check",
            Config::Checked,
            "random kids",
            &random,
            forged_random_kid(PROBE, seed),
        ),
        (
            "R3 local validation",
            Config::Local,
            "trusted kid, junk signature",
            &trusted,
            forged_token_below_modulus(PROBE, DEFAULT_KID),
        ),
        (
            "R4 local validation",
            Config::Local,
            "random kids",
            &random,
            forged_random_kid(PROBE, seed),
        ),
    ];
    let mut out = Vec::new();
    let mut api: Option<(Config, Server)> = None;
    for (label, config, tokens, script, probe) in rows {
        if api.as_ref().is_none_or(|(c, _)| *c != config) {
            drop(api.take());
            let server = Server::start("api", pinning.api, &config.api_args(&texas))?;
            expect(server.addr, &valid_token(), 200).await?;
            api = Some((config, server));
        }
        let Some((_, server)) = &api else {
            unreachable!("started above")
        };
        println!("-- {label}, forged tokens: {tokens}; {}", load_line());
        expect(server.addr, &probe, 401).await?;
        let run = wrk::Run {
            url: server.url("/afp"),
            script: Some(script),
            duration: Duration::from_secs(1),
            connections: options.connections,
            threads: 1,
            cpu: pinning.load,
        };
        run.run()?;
        let before = Sidecar::read(&texas).await?;
        let wrk::Measured {
            report,
            cpu,
            percent: api_percent,
            core_percent,
        } = run.measured(options.reject_duration, server.pid(), pinning.api)?;
        let sidecar = Sidecar::read(&texas).await?.since(before);
        if report.non_2xx != report.requests || report.socket_errors > 0 {
            problems.push(format!(
                "{label} ({tokens}): {} of {} forged tokens answered 2xx or 3xx, {} socket errors",
                report.requests - report.non_2xx.min(report.requests),
                report.requests,
                report.socket_errors
            ));
        }
        let row = Rejection {
            label,
            tokens,
            report,
            cpu,
            api_percent,
            core_percent,
            sidecar,
        };
        println!(
            "   {} rejected/s, p50 {}, p99 {}, {} requests, {} non-2xx, {} socket errors; API CPU \
             {:.2} s ({:.0}% of cpu{}, busy {:.0}%): {} rejections per CPU-second; sidecar asked: \
             {} introspections, {} JWKS fetches",
            fmt_count(row.report.rps.round() as u64),
            fmt_duration(row.report.p50),
            fmt_duration(row.report.p99),
            fmt_count(row.report.requests),
            fmt_count(row.report.non_2xx),
            row.report.socket_errors,
            row.cpu.as_secs_f64(),
            row.api_percent,
            pinning.api.unwrap_or(0),
            row.core_percent,
            fmt_count(row.per_cpu_second().round() as u64),
            row.sidecar.introspections,
            row.sidecar.jwks_fetches,
        );
        out.push(row);
    }
    Ok(out)
}

fn print_summary(options: &Options, floods: &[Flood], rejections: &[Rejection]) {
    println!();
    println!(
        "== genuine new tokens during a forged flood ({} forged/s, {} genuine/s, {} s; sidecar \
         {} ms per introspection, serialised)",
        options.forged_per_second,
        options.genuine_per_second,
        options.duration.as_secs(),
        options.sidecar.as_millis()
    );
    println!(
        "| API | genuine p50 | p99 | max | genuine answers | forged answers | forged/s sent | \
         sidecar introspections | JWKS fetches | API CPU |"
    );
    println!("|---|--:|--:|--:|---|---|--:|--:|--:|--:|");
    for f in floods {
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.0} | {} | {} | {:.0}% |",
            f.config.label(),
            fmt_duration(f.genuine_at(0.50)),
            fmt_duration(f.genuine_at(0.99)),
            fmt_duration(f.genuine_at(1.0)),
            fmt_statuses(&f.genuine_statuses()),
            fmt_statuses(&f.forged),
            f.forged_sent as f64 / f.paced.as_secs_f64().max(1e-9),
            fmt_count(f.sidecar.introspections),
            f.sidecar.jwks_fetches,
            f.api_cpu,
        );
    }
    println!();
    println!(
        "== forged tokens rejected, the API on one core (wrk: {} connections, {} distinct \
         tokens in rotation, {} s per row)",
        options.connections,
        fmt_count(ROTATION as u64),
        options.reject_duration.as_secs()
    );
    println!(
        "| row | forged tokens | rejected/s | p99 | API CPU (share of its core) | rejections \
         per CPU-second | sidecar introspections |"
    );
    println!("|---|---|--:|--:|--:|--:|--:|");
    for r in rejections {
        println!(
            "| {} | {} | {} | {} | {:.0}% | {} | {} |",
            r.label,
            r.tokens,
            fmt_count(r.report.rps.round() as u64),
            fmt_duration(r.report.p99),
            r.api_percent,
            fmt_count(r.per_cpu_second().round() as u64),
            r.sidecar.introspections,
        );
    }
    let foreign = rejections
        .iter()
        .map(|r| r.core_percent - r.api_percent)
        .fold(0.0, f64::max);
    if foreign > 3.0 {
        println!(
            "  note: the API's core was up to {foreign:.0} points busier than the API: other work \
             shared it, and the rejections/s are suspect (the per CPU-second figures less so)"
        );
    }
}

/// The sidecar stand-in, serialising its work at `options.sidecar` an
/// introspection, pinned beside the load generator.
fn sidecar(options: &Options, pinning: &Pinning) -> io::Result<Server> {
    Server::start(
        "texas",
        pinning.load,
        &[
            "texas".to_owned(),
            "--latency-ms".to_owned(),
            options.sidecar.as_millis().to_string(),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forged_tokens_are_distinct_and_half_have_the_trusted_kid() {
        let seed = 7;
        let tokens: Vec<String> = (0..100).map(|i| forged(i, seed)).collect();
        let distinct: std::collections::BTreeSet<&String> = tokens.iter().collect();
        assert_eq!(distinct.len(), tokens.len());
        let header = |t: &String| {
            use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
            let part = t.split('.').next().unwrap();
            serde_json::from_slice::<serde_json::Value>(&URL_SAFE_NO_PAD.decode(part).unwrap())
                .unwrap()
        };
        let trusted = tokens
            .iter()
            .filter(|t| header(t)["kid"] == DEFAULT_KID)
            .count();
        assert_eq!(trusted, 50);
        assert!(tokens.iter().all(|t| header(t)["alg"] == "RS256"));
        // Below every RSA-2048 modulus: a whole verification each.
        assert!(tokens.iter().all(|t| {
            use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
            let signature = URL_SAFE_NO_PAD
                .decode(t.rsplit('.').next().unwrap())
                .unwrap();
            signature.len() == 256 && signature[0] < 0x80
        }));
    }
}
