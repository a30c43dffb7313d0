//! `maskinporten-bench warm`: the warm guard against the same request bytes
//! without a guard (rows 2 and 1b of `load`), measured in alternating
//! rounds, with the API's own CPU time per request beside the throughput,
//! and a control row (1h): the unguarded handler hashing the token with
//! SHA-256 as the guard's cache key does, and nothing else.
//!
//! One pair of rows, as `load` measures it, moves by up to 10 % from run to
//! run on a shared machine: more than the guard's whole cost. Rounds in
//! alternating order (1b then 2, then 2 then 1b) share whatever drifts, and
//! the median of the per-round ratios is the figure to judge a change by.
//! CPU time per request does not depend on whether wrk kept the API busy.

use std::{
    io,
    path::{Path, PathBuf},
    time::Duration,
};

use crate::{
    args::Args,
    driver::{
        fmt_count, fmt_duration, print_header, runtime, valid_token, valid_token_of_length, Scratch,
    },
    http,
    procs::{load_line, Pinning, Server},
    wrk,
};

/// The throughput target of the warm path against the same bytes (issue 12).
const THROUGHPUT_TARGET: f64 = 0.90;
/// Its latency target: p99 at most this times the unguarded p99.
const P99_TARGET: f64 = 1.2;

pub(crate) struct Options {
    pub(crate) rounds: usize,
    /// The token's length; the load run's token when `None`.
    pub(crate) token_bytes: Option<usize>,
    pub(crate) duration: Duration,
    pub(crate) connections: usize,
}

/// One measured row of one round.
#[derive(Clone, Copy)]
pub(crate) struct Measured {
    pub(crate) rps: f64,
    pub(crate) p99: Duration,
    /// The API's CPU time per answered request.
    pub(crate) cpu_per_request: Duration,
    /// Its share of its core, and how busy that core was (other work shows
    /// as the difference).
    api_percent: f64,
    core_percent: f64,
}

pub fn run(mut args: Args) -> io::Result<()> {
    let quick = args.flag("--quick");
    let rounds = args
        .parsed::<usize>("--rounds")?
        .unwrap_or(if quick { 2 } else { 6 });
    let duration = args
        .parsed::<u64>("--duration")?
        .unwrap_or(if quick { 2 } else { 5 });
    let connections = args.parsed::<usize>("--connections")?.unwrap_or(64);
    let token_bytes = args.parsed::<usize>("--token-bytes")?;
    args.finish()?;
    if rounds == 0 || duration == 0 || connections == 0 {
        return Err(crate::args::usage(
            "--rounds, --duration and --connections must be at least 1".into(),
        ));
    }
    wrk::ensure_installed()?;
    let options = Options {
        rounds,
        token_bytes,
        duration: Duration::from_secs(duration),
        connections,
    };
    let pinning = Pinning::detect();
    print_header(
        "warm",
        &pinning,
        &format!(
            "{rounds} rounds of rows 1b, 1h and 2, forwards then backwards, {duration} s each (after 1 s \
             unmeasured), {connections} connections, 1 wrk thread"
        ),
    );
    let scratch = Scratch::new()?;
    let rounds = runtime()?.block_on(rounds_of(&options, &pinning, &scratch))?;
    print_rounds(&rounds);
    Ok(())
}

async fn rounds_of(
    options: &Options,
    pinning: &Pinning,
    scratch: &Scratch,
) -> io::Result<Vec<Round>> {
    let token = match options.token_bytes {
        None => valid_token(),
        Some(len) => valid_token_of_length(len).ok_or_else(|| {
            crate::args::usage(format!(
                "--token-bytes {len}: the shortest token is {} bytes",
                valid_token().len()
            ))
        })?,
    };
    println!(
        "token: {} bytes (header {} bytes)",
        token.len(),
        token.len() + "Authorization: Bearer ".len()
    );
    let stand = Stand::start(pinning, scratch, &[], &token, &["/afp"]).await?;
    let (api, script) = (&stand.api, &stand.script);
    let row = |path: &str| measure(options, pinning, api, &api.url(path), script);
    let mut rounds = Vec::new();
    for round in 0..options.rounds {
        println!("-- round {}; {}", round + 1, load_line());
        // Forwards, then backwards: a drift within a round weighs on every
        // row alike over two rounds.
        let mut measured = [None; 3];
        let order: [usize; 3] = if round % 2 == 0 { [0, 1, 2] } else { [2, 1, 0] };
        for i in order {
            measured[i] = Some(row(ROWS[i].1)?);
        }
        let [Some(header), Some(hashed), Some(guarded)] = measured else {
            unreachable!("every row measured");
        };
        for ((name, _), m) in ROWS.iter().zip([&header, &hashed, &guarded]) {
            println!(
                "   {name} {} requests/s, p99 {}, API CPU {:.2} us per request, api {:.0}% of \
                 cpu{} (busy {:.0}%)",
                fmt_count(m.rps.round() as u64),
                fmt_duration(m.p99),
                m.cpu_per_request.as_secs_f64() * 1e6,
                m.api_percent,
                pinning.api.unwrap_or(0),
                m.core_percent,
            );
        }
        rounds.push(Round {
            header,
            hashed,
            guarded,
        });
    }
    Ok(rounds)
}

/// What a warm-path run measures against: a Texas-compatible endpoint, the
/// API introspecting through it, and a wrk script sending one token on
/// every request, cached by the API before anything is measured.
pub(crate) struct Stand {
    /// Kept for as long as the API asks it.
    _texas: Server,
    pub(crate) api: Server,
    pub(crate) script: PathBuf,
}

impl Stand {
    /// Starts both servers (the API with `api_args` more), writes the
    /// script for `token`, and asks each of `warm` once with it, wanting
    /// 200.
    pub(crate) async fn start(
        pinning: &Pinning,
        scratch: &Scratch,
        api_args: &[String],
        token: &str,
        warm: &[&str],
    ) -> io::Result<Stand> {
        let texas = Server::start("texas", pinning.load, &["texas".to_owned()])?;
        let mut args = vec![
            "api".to_owned(),
            "--introspection".to_owned(),
            texas.url("/api/v1/introspect"),
        ];
        args.extend_from_slice(api_args);
        let api = Server::start("api", pinning.api, &args)?;
        let script = wrk::write_script(
            scratch.path(),
            "one-token.lua",
            &wrk::static_script(
                "GET",
                &[("Authorization", &format!("Bearer {token}"))],
                None,
            ),
        )?;
        for path in warm {
            let warmed = http::Conn::connect(api.addr)
                .await?
                .get(path, Some(token))
                .await?;
            if warmed.status != 200 {
                return Err(io::Error::other(format!(
                    "the warming request to {path} answered {}",
                    warmed.status
                )));
            }
        }
        Ok(Stand {
            _texas: texas,
            api,
            script,
        })
    }
}

/// The rows of a round: the same request to three handlers.
const ROWS: [(&str, &str); 3] = [("1b", "/plain"), ("1h", "/plain-hashed"), ("2 ", "/afp")];

/// One round: row 1b (unguarded), 1h (unguarded, hashing the token as the
/// guard's cache key does: the control) and 2 (guarded, warm cache).
struct Round {
    header: Measured,
    hashed: Measured,
    guarded: Measured,
}

pub(crate) fn measure(
    options: &Options,
    pinning: &Pinning,
    api: &Server,
    url: &str,
    script: &Path,
) -> io::Result<Measured> {
    let run = wrk::Run {
        url: url.to_owned(),
        script: Some(script),
        duration: Duration::from_secs(1),
        connections: options.connections,
        threads: 1,
        cpu: pinning.load,
    };
    run.run()?;
    let wrk::Measured {
        report,
        cpu: used,
        percent: api_percent,
        core_percent,
    } = run.measured(options.duration, api.pid(), pinning.api)?;
    if report.non_2xx > 0 || report.socket_errors > 0 || report.requests == 0 {
        return Err(io::Error::other(format!(
            "{url}: {} non-2xx answers and {} socket errors in {} requests",
            report.non_2xx, report.socket_errors, report.requests
        )));
    }
    Ok(Measured {
        rps: report.rps,
        p99: report.p99,
        cpu_per_request: used / u32::try_from(report.requests).unwrap_or(u32::MAX),
        api_percent,
        core_percent,
    })
}

pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

fn print_rounds(rounds: &[Round]) {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let ratio = |m: &Measured, base: &Measured| m.rps / base.rps;
    let p99 = |m: &Measured, base: &Measured| m.p99.as_secs_f64() / base.p99.as_secs_f64();
    let cpu = |m: &Measured, base: &Measured| us(m.cpu_per_request) - us(base.cpu_per_request);
    println!();
    println!(
        "== rounds: row 2 (guarded, warm cache) and row 1h (unguarded, SHA-256 of the token \
         only) against row 1b (the same bytes, unguarded)"
    );
    println!(
        "| round | 1b requests/s | 1h | 2 | rps 1h/1b | rps 2/1b | p99 1b | p99 2 | p99 2/1b | \
         API CPU per request 1b | 1h − 1b | 2 − 1b |"
    );
    println!("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for (i, r) in rounds.iter().enumerate() {
        println!(
            "| {} | {} | {} | {} | {:.3} | {:.3} | {} | {} | {:.2} | {:.2} us | {:+.2} us | {:+.2} \
             us |",
            i + 1,
            fmt_count(r.header.rps.round() as u64),
            fmt_count(r.hashed.rps.round() as u64),
            fmt_count(r.guarded.rps.round() as u64),
            ratio(&r.hashed, &r.header),
            ratio(&r.guarded, &r.header),
            fmt_duration(r.header.p99),
            fmt_duration(r.guarded.p99),
            p99(&r.guarded, &r.header),
            us(r.header.cpu_per_request),
            cpu(&r.hashed, &r.header),
            cpu(&r.guarded, &r.header),
        );
    }
    let of = |f: &dyn Fn(&Round) -> f64| median(rounds.iter().map(f).collect());
    let throughput = of(&|r| ratio(&r.guarded, &r.header));
    let hashed = of(&|r| ratio(&r.hashed, &r.header));
    let latency = of(&|r| p99(&r.guarded, &r.header));
    let guard_cpu = of(&|r| cpu(&r.guarded, &r.header));
    let hash_cpu = of(&|r| cpu(&r.hashed, &r.header));
    let foreign = rounds
        .iter()
        .flat_map(|r| [&r.header, &r.hashed, &r.guarded])
        .map(|m| m.core_percent - m.api_percent)
        .fold(0.0, f64::max);
    println!();
    println!("== medians over {} rounds", rounds.len());
    println!(
        "  [{}] warm guard throughput >= {THROUGHPUT_TARGET:.2} x the same bytes unguarded: \
         {throughput:.3}",
        if throughput >= THROUGHPUT_TARGET {
            "MET"
        } else {
            "MISSED"
        }
    );
    println!(
        "  [{}] warm guard p99 <= {P99_TARGET:.1} x the same bytes unguarded: {latency:.2}",
        if latency <= P99_TARGET {
            "MET"
        } else {
            "MISSED"
        }
    );
    println!("  API CPU time the guard adds per request: {guard_cpu:+.2} us");
    println!(
        "  control: hashing the token alone, unguarded: throughput {hashed:.3} x, \
         {hash_cpu:+.2} us of API CPU per request"
    );
    if foreign > 3.0 {
        println!(
            "  note: the API's core was up to {foreign:.0} points busier than the API: other \
             work shared it, and the figures are suspect"
        );
    }
    println!("{}", load_line());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
