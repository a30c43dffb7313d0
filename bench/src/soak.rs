//! `maskinporten-bench soak`: a guarded endpoint driven as hard as the
//! machine allows for a minute, with valid, out-of-scope, invalid and expired
//! tokens mixed, and the introspection endpoint down for a few seconds in
//! the middle. Every answer is judged against its token's class, and the
//! API's memory is sampled every second.
//!
//! wrk cannot pair an answer with its request across connections, so the
//! judging happens in the API: each request says its class in `x-expect`,
//! and the API's `--check` middleware counts answers by class and status
//! and every wrong one (see `api::CLASSES`).

use std::{
    collections::BTreeMap,
    io,
    time::{Duration, Instant},
};

use maskinporten_actix::testing::{TokenBuilder, DEFAULT_ISSUER};

use crate::{
    api::{CLASSES, READ_SCOPE},
    args::Args,
    driver::{fmt_count, fmt_duration, print_header, runtime, Scratch, Stats},
    fake::{Mode, OutageProxy},
    http::Conn,
    procs::{load_line, memory, mib, CpuMeter, Pinning, Server},
    wrk,
};

/// Cached answers live at most this long, so that valid tokens are
/// introspected again and again: the cache churns all through the run, and
/// during the outage valid tokens fall out of it and get 503.
const MAX_TTL: Duration = Duration::from_secs(3);
const CONNECTIONS: usize = 64;

/// Requests per pass through the token list, by class: 60 % valid, 5 %
/// without the scope, 10 % invalid, 5 % expired, and a flood of distinct
/// junk: 15 % malformed (no compact RS256 JWS with a kid), 5 % forged (well
/// formed, a signature nobody made).
const MIX: [(&str, usize); 6] = [
    ("valid", 600),
    ("noscope", 50),
    ("invalid", 100),
    ("expired", 50),
    ("malformed", 150),
    ("forged", 50),
];

/// Passes of [`MIX`] in wrk's rotating list: each class's tokens are taken
/// in turn across them, so that every junk token in the list is a distinct
/// one-off (1 500 malformed, 500 forged), as in a flood.
const ROUNDS: usize = 10;

pub fn run(mut args: Args) -> io::Result<()> {
    let quick = args.flag("--quick");
    let seconds = args
        .parsed::<u64>("--duration")?
        .unwrap_or(if quick { 10 } else { 60 });
    args.finish()?;
    if seconds < 6 {
        return Err(crate::args::usage(
            "--duration must be at least 6 s: warm-up, outage and recovery need room".into(),
        ));
    }
    wrk::ensure_installed()?;
    let pinning = Pinning::detect();
    let duration = Duration::from_secs(seconds);
    let outage = outage_window(duration);
    print_header(
        "soak",
        &pinning,
        &format!(
            "{seconds} s, {CONNECTIONS} connections, 1 wrk thread; token mix {}; cache max TTL \
             {} s; introspection endpoint down from {:.1} s to {:.1} s (first half: connections \
             reset, second half: 500 answers)",
            MIX.iter()
                .map(|(class, n)| format!(
                    "{class} {}%",
                    n * 100 / MIX.iter().map(|(_, n)| n).sum::<usize>()
                ))
                .collect::<Vec<_>>()
                .join(", "),
            MAX_TTL.as_secs(),
            outage.0.as_secs_f64(),
            outage.1.as_secs_f64()
        ),
    );
    let scratch = Scratch::new()?;
    runtime()?.block_on(soak(duration, outage, &pinning, &scratch))
}

/// A window in the middle, 5 s long, shorter for short runs.
fn outage_window(duration: Duration) -> (Duration, Duration) {
    let length = Duration::from_secs(5).min(duration / 3);
    let start = duration / 2 - length / 2;
    (start, start + length)
}

struct Tokens {
    by_class: Vec<(&'static str, Vec<String>)>,
}

fn mint(duration: Duration) -> Tokens {
    let started = Instant::now();
    let lifetime = duration + Duration::from_secs(600);
    let valid = |scope: &str| {
        TokenBuilder::new(DEFAULT_ISSUER)
            .scope(scope)
            .expires_in(lifetime)
    };
    let mut invalid = Vec::new();
    for i in 0..80 {
        let builder = valid(READ_SCOPE);
        invalid.push(
            match i % 4 {
                0 => builder.signed_by_other_key(),
                1 => builder.issuer("https://maskinporten.no/"),
                2 => builder.tampered(),
                _ => builder.unsigned(),
            }
            .sign(),
        );
    }
    let tokens = Tokens {
        by_class: vec![
            (
                "valid",
                (0..300).map(|_| valid(READ_SCOPE).sign()).collect(),
            ),
            (
                "noscope",
                (0..20)
                    .map(|_| valid("nav:helse/sykepenger/afp.write").sign())
                    .collect(),
            ),
            ("invalid", invalid),
            (
                "expired",
                (0..50)
                    .map(|_| valid(READ_SCOPE).expired(Duration::from_secs(3600)).sign())
                    .collect(),
            ),
            (
                "malformed",
                (0..150 * ROUNDS).map(|i| junk(i, false)).collect(),
            ),
            ("forged", (0..50 * ROUNDS).map(|i| junk(i, true)).collect()),
        ],
    };
    println!(
        "minted {} tokens (valid 300; without the scope 20; invalid 80: another key, another \
         issuer, tampered, unsigned; expired 50; distinct junk: 1 500 malformed, 500 \
         forged) in {:.1} s",
        tokens.by_class.iter().map(|(_, t)| t.len()).sum::<usize>(),
        started.elapsed().as_secs_f64()
    );
    tokens
}

/// A distinct junk token for `i`. Forged: a compact JWS, RS256 with the
/// endpoint's kid, unexpired, from its issuer, with a signature nobody
/// made, which only the endpoint can refuse. Malformed: one of the shapes
/// the guard refuses without asking (not three parts, `alg: none`, no kid,
/// a payload that is not JSON, expired, another issuer).
fn junk(i: usize, forged: bool) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    let b64 = |json: serde_json::Value| URL_SAFE_NO_PAD.encode(json.to_string());
    let now = crate::unix_now();
    let rs256 =
        b64(serde_json::json!({"alg": "RS256", "kid": maskinporten_actix::testing::DEFAULT_KID}));
    let claims = |iss: &str, exp: i64| {
        b64(serde_json::json!({"iss": iss, "exp": exp, "iat": now, "jti": i}))
    };
    let signature: String = (0..342)
        .map(|k| if (i + k).is_multiple_of(3) { 'Q' } else { 'w' })
        .collect();
    if forged {
        return format!("{rs256}.{}.{signature}", claims(DEFAULT_ISSUER, now + 3600));
    }
    match i % 6 {
        0 => format!("{rs256}.{}", claims(DEFAULT_ISSUER, now + 3600)),
        1 => format!(
            "{}.{}.{signature}",
            b64(serde_json::json!({"alg": "none", "kid": "x"})),
            claims(DEFAULT_ISSUER, now + 3600)
        ),
        2 => format!(
            "{}.{}.{signature}",
            b64(serde_json::json!({"alg": "RS256"})),
            claims(DEFAULT_ISSUER, now + 3600)
        ),
        3 => format!("{rs256}.bm90LWpzb24{i}.{signature}"),
        4 => format!("{rs256}.{}.{signature}", claims(DEFAULT_ISSUER, now - 7200)),
        _ => format!(
            "{rs256}.{}.{signature}",
            claims("https://maskinporten.no/", now + 3600)
        ),
    }
}

/// The requests of one pass, in a fixed shuffled order: each class's tokens
/// in turn, as often as the mix says.
fn requests(tokens: &Tokens) -> Vec<Vec<(&'static str, String)>> {
    let mut list = Vec::new();
    for round in 0..ROUNDS {
        for (class, count) in MIX {
            let of_class = &tokens
                .by_class
                .iter()
                .find(|(c, _)| *c == class)
                .expect("every class minted")
                .1;
            for i in round * count..(round + 1) * count {
                list.push(vec![
                    (
                        "Authorization",
                        format!("Bearer {}", of_class[i % of_class.len()]),
                    ),
                    ("x-expect", class.to_owned()),
                ]);
            }
        }
    }
    // Fisher-Yates with a fixed xorshift: the same order every run.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for i in (1..list.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        list.swap(i, (state % (i as u64 + 1)) as usize);
    }
    list
}

/// Each class answered as it must be, once, before the run: a mix that is
/// wrong from the start would only measure the mistake.
async fn precheck(api: &Server, tokens: &Tokens) -> io::Result<()> {
    let mut conn = Conn::connect(api.addr).await?;
    for (class, list) in &tokens.by_class {
        let expected = CLASSES
            .iter()
            .find(|(c, _)| c == class)
            .map_or(0, |(_, allowed)| allowed[0]);
        for token in list {
            let status = conn.get("/afp", Some(token)).await?.status;
            if status != expected {
                return Err(io::Error::other(format!(
                    "before the run, a {class} token was answered {status}, not {expected}"
                )));
            }
        }
    }
    Ok(())
}

/// One sample per second.
struct Sample {
    at: Duration,
    rss: u64,
    stats: Stats,
    mode: Mode,
}

async fn soak(
    duration: Duration,
    outage: (Duration, Duration),
    pinning: &Pinning,
    scratch: &Scratch,
) -> io::Result<()> {
    let texas = Server::start("texas", pinning.load, &["texas".to_owned()])?;
    let proxy = OutageProxy::start(texas.addr).await?;
    let api = Server::start(
        "api",
        pinning.api,
        &[
            "api".to_owned(),
            "--introspection".to_owned(),
            proxy.url(),
            "--check".to_owned(),
            "--max-ttl-ms".to_owned(),
            MAX_TTL.as_millis().to_string(),
        ],
    )?;
    let tokens = mint(duration);
    precheck(&api, &tokens).await?;
    let script = wrk::write_script(
        scratch.path(),
        "soak.lua",
        &wrk::rotating_script("/afp", &requests(&tokens)),
    )?;
    drop(tokens);

    println!("-- soak; {}", load_line());
    let (url, cpu) = (api.url("/afp"), pinning.load);
    let first = Stats::fetch(api.addr).await?;
    let meter = CpuMeter::start(&[api.pid(), texas.pid()]);
    let started = Instant::now();
    let wrk = tokio::task::spawn_blocking(move || {
        wrk::Run {
            url,
            script: Some(&script),
            duration,
            connections: CONNECTIONS,
            threads: 1,
            cpu,
        }
        .run()
    });
    let samples = sample(&api, &proxy, started, duration, outage, &wrk).await;
    proxy.set(Mode::Up);
    let report = wrk.await.map_err(io::Error::other)??;
    let samples = samples?;
    let last = Stats::fetch(api.addr).await?;
    let peak = memory(api.pid())?;
    let (cpu, cores) = (meter.percent(), meter.cores_busy());
    println!(
        "   CPU over the run: api {:.0}%, texas {:.0}%; cores busy: {}",
        cpu[0],
        cpu[1],
        cores
            .iter()
            .enumerate()
            .map(|(i, p)| format!("cpu{i} {p:.0}%"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let wrong = print_results(&report, &first, &last, &samples, duration, outage, peak.hwm);
    // A wrong answer is a bug whatever the machine: fail the run.
    if wrong > 0 {
        return Err(io::Error::other(format!("{wrong} wrong answers")));
    }
    Ok(())
}

/// Samples memory and `/stats` each second and runs the outage schedule,
/// until wrk is done (or, should it hang, a bounded while after).
async fn sample(
    api: &Server,
    proxy: &OutageProxy,
    started: Instant,
    duration: Duration,
    outage: (Duration, Duration),
    wrk: &tokio::task::JoinHandle<io::Result<wrk::Report>>,
) -> io::Result<Vec<Sample>> {
    let middle = outage.0 + (outage.1 - outage.0) / 2;
    let deadline = duration + Duration::from_secs(30);
    let mut samples = Vec::new();
    let mut next = Duration::from_secs(1);
    let mut mode = Mode::Up;
    while !wrk.is_finished() && started.elapsed() < deadline {
        let now = started.elapsed();
        let wanted = if now >= outage.0 && now < middle {
            Mode::Reset
        } else if now >= middle && now < outage.1 {
            Mode::Failing
        } else {
            Mode::Up
        };
        if wanted != mode {
            proxy.set(wanted);
            mode = wanted;
        }
        if now >= next {
            samples.push(Sample {
                at: now,
                rss: memory(api.pid())?.rss,
                stats: Stats::fetch(api.addr).await?,
                mode,
            });
            next += Duration::from_secs(1);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(samples)
}

/// The sum of the checked answers whose class and status pass `filter`.
fn answers(stats: &Stats, filter: impl Fn(&str, u16) -> bool) -> u64 {
    let Some(checked) = stats.0["checked"].as_object() else {
        return 0;
    };
    checked
        .iter()
        .flat_map(|(class, statuses)| {
            statuses
                .as_object()
                .into_iter()
                .flatten()
                .map(move |(status, n)| (class, status, n))
        })
        .filter(|(class, status, _)| filter(class, status.parse().unwrap_or(0)))
        .map(|(_, _, n)| n.as_u64().unwrap_or(0))
        .sum()
}

fn print_results(
    report: &wrk::Report,
    first: &Stats,
    last: &Stats,
    samples: &[Sample],
    duration: Duration,
    outage: (Duration, Duration),
    peak: u64,
) -> u64 {
    println!();
    println!("== timeline (per second, averaged over 5 s; * = outage in this stretch)");
    println!(
        "| {:>7} | {:>9} | {:>9} | {:>9} | {:>9} | {:>9} | {:>9} | {:>9} | {:>8} |",
        "t (s)",
        "answers",
        "valid 200",
        "valid 503",
        "401/403",
        "other 503",
        "introspec",
        "failed",
        "VmRSS MiB"
    );
    println!(
        "|{:->9}|{:->11}|{:->11}|{:->11}|{:->11}|{:->11}|{:->11}|{:->11}|{:->10}|",
        ":", ":", ":", ":", ":", ":", ":", ":", ":"
    );
    let mut previous: Option<&Sample> = None;
    for chunk in samples.chunks(5) {
        let end = chunk.last().expect("a non-empty chunk");
        let (before, since) = match previous {
            Some(p) => (&p.stats, p.at),
            None => (first, Duration::ZERO),
        };
        let seconds = (end.at - since).as_secs_f64().max(1e-9);
        let rate = |f: &dyn Fn(&str, u16) -> bool| {
            (answers(&end.stats, f) - answers(before, f)) as f64 / seconds
        };
        let counter = |name| Stats::delta(before, &end.stats, name) as f64 / seconds;
        let down = chunk.iter().any(|s| s.mode != Mode::Up);
        println!(
            "| {:>6.0}{} | {:>9.0} | {:>9.0} | {:>9.0} | {:>9.0} | {:>9.0} | {:>9.0} | {:>9.0} | {:>9.1} |",
            end.at.as_secs_f64(),
            if down { "*" } else { " " },
            rate(&|_, _| true),
            rate(&|c, s| c == "valid" && s == 200),
            rate(&|c, s| c == "valid" && s == 503),
            rate(&|_, s| s == 401 || s == 403),
            rate(&|c, s| c != "valid" && s == 503),
            counter("introspections"),
            counter("validator_failures"),
            mib(end.rss)
        );
        previous = Some(end);
    }

    println!();
    println!("== answers by token class (counted by the API)");
    let mut by_class: BTreeMap<&str, BTreeMap<u16, u64>> = BTreeMap::new();
    for (class, _) in CLASSES {
        let statuses = by_class.entry(class).or_default();
        if let Some(checked) = last.0["checked"][class].as_object() {
            for (status, n) in checked {
                let before = first.0["checked"][class][status].as_u64().unwrap_or(0);
                statuses.insert(
                    status.parse().unwrap_or(0),
                    n.as_u64().unwrap_or(0) - before,
                );
            }
        }
    }
    for (class, allowed) in CLASSES {
        let statuses: Vec<String> = by_class[class]
            .iter()
            .map(|(status, n)| format!("{status}: {}", fmt_count(*n)))
            .collect();
        println!(
            "  {class:<8} (right: {}) {}",
            allowed
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(" or "),
            statuses.join(", ")
        );
    }
    let served = answers(last, |_, _| true) - answers(first, |_, _| true);
    let wrong = Stats::delta(first, last, "wrong");

    // Memory: after the warm-up, the first stretch against the last.
    // Whole seconds, to match the samples: up to 20 s after a short
    // warm-up, against the last stretch as long, the outage between them.
    let warm_up = Duration::from_secs((duration / 12).as_secs().clamp(1, 10));
    let room = outage
        .0
        .saturating_sub(warm_up)
        .min(duration.saturating_sub(outage.1));
    let window = Duration::from_secs(room.as_secs().clamp(1, 20));
    let mean = |from: Duration, to: Duration| {
        let picked: Vec<u64> = samples
            .iter()
            .filter(|s| s.at >= from && s.at < to)
            .map(|s| s.rss)
            .collect();
        picked.iter().sum::<u64>() as f64 / picked.len().max(1) as f64
    };
    let early = mean(warm_up, warm_up + window);
    let late = mean(duration - window, duration + Duration::from_secs(1));
    let growth = (late - early) / early.max(1.0);
    let flat = growth <= 0.05;

    println!();
    println!("== soak results");
    println!(
        "  requests served: {} by the API ({} by wrk's count, {:.0}/s), p50 {}, p99 {}, \
         {} socket errors",
        fmt_count(served),
        fmt_count(report.requests),
        report.rps,
        fmt_duration(report.p50),
        fmt_duration(report.p99),
        report.socket_errors
    );
    println!(
        "  introspections: {} ({} failed: {} in the seconds sampled during the outage from \
         {:.1} s to {:.1} s, {} outside it)",
        fmt_count(Stats::delta(first, last, "introspections")),
        fmt_count(Stats::delta(first, last, "validator_failures")),
        fmt_count(outage_counter(samples, "validator_failures")),
        outage.0.as_secs_f64(),
        outage.1.as_secs_f64(),
        fmt_count(
            Stats::delta(first, last, "validator_failures")
                - outage_counter(samples, "validator_failures")
        )
    );
    let malformed =
        answers(last, |c, _| c == "malformed") - answers(first, |c, _| c == "malformed");
    println!(
        "  junk: {} malformed requests, {} refused without asking the endpoint; {} forged \
         requests, {} answered 401 and {} answered 503",
        fmt_count(malformed),
        fmt_count(Stats::delta(first, last, "refused_without_validator")),
        fmt_count(answers(last, |c, _| c == "forged") - answers(first, |c, _| c == "forged")),
        fmt_count(
            answers(last, |c, s| c == "forged" && s == 401)
                - answers(first, |c, s| c == "forged" && s == 401)
        ),
        fmt_count(
            answers(last, |c, s| c == "forged" && s == 503)
                - answers(first, |c, s| c == "forged" && s == 503)
        ),
    );
    println!(
        "  valid tokens in the seconds sampled during the outage: {} answered 200 (cached), \
         {} answered 503 (not cached)",
        fmt_count(outage_answers(samples, |c, s| c == "valid" && s == 200)),
        fmt_count(outage_answers(samples, |c, s| c == "valid" && s == 503)),
    );
    println!(
        "  memory: peak VmHWM {:.1} MiB; mean VmRSS {:.1} MiB from {} s to {} s, {:.1} MiB in \
         the last {} s ({:+.1}%)",
        mib(peak),
        early / 1048576.0,
        warm_up.as_secs(),
        (warm_up + window).as_secs(),
        late / 1048576.0,
        window.as_secs(),
        growth * 100.0
    );
    println!();
    println!("== targets");
    println!(
        "  [{}] wrong answers: {wrong} (a valid token answered anything but 200/503, an \
         invalid or expired one anything but 401/503, one without the scope anything but \
         403/503)",
        if wrong == 0 { "MET" } else { "MISSED" }
    );
    println!(
        "  [{}] memory flat: the last {} s within 5% of the first {} s after warm-up",
        if flat { "MET" } else { "MISSED" },
        window.as_secs(),
        window.as_secs()
    );
    println!("{}", load_line());
    wrong
}

/// A counter's growth over the samples taken while the endpoint was down
/// (as [`outage_answers`]).
fn outage_counter(samples: &[Sample], name: &str) -> u64 {
    samples
        .windows(2)
        .filter(|pair| pair[1].mode != Mode::Up || pair[0].mode != Mode::Up)
        .map(|pair| Stats::delta(&pair[0].stats, &pair[1].stats, name))
        .sum()
}

/// Answers matching `filter` in the samples taken while the endpoint was
/// down (and the second after, whose sample covers the outage's end).
fn outage_answers(samples: &[Sample], filter: impl Fn(&str, u16) -> bool) -> u64 {
    let mut total = 0;
    for pair in samples.windows(2) {
        if pair[1].mode != Mode::Up || pair[0].mode != Mode::Up {
            total += answers(&pair[1].stats, &filter) - answers(&pair[0].stats, &filter);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outage_sits_in_the_middle() {
        let (start, end) = outage_window(Duration::from_secs(60));
        assert_eq!(
            (start, end),
            (Duration::from_millis(27_500), Duration::from_millis(32_500))
        );
        let (start, end) = outage_window(Duration::from_secs(10));
        assert!(start > Duration::from_secs(3) && end < Duration::from_secs(7));
    }
}
