//! `maskinporten-bench quota`: the warm guarded path under a consumer quota,
//! local and shared in a real `redis-server`, each against the same path
//! without a quota (row 2 of `warm`), in alternating rounds; and the round
//! trips the shared quota makes to the server per 1 000 requests.
//!
//! The quota admits every request of the run (a million a second), so the
//! rows measure what deciding costs, not what refusing saves. The round
//! trips are read off the server (`INFO commandstats`: the scripts it ran,
//! leases and the replica's heartbeat alike), over the row's whole time.

use std::{
    io,
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::{
    api::QUOTA_PER_SECOND,
    args::Args,
    driver::{fmt_count, fmt_duration, print_header, runtime, valid_token, Scratch},
    procs::{load_line, Pinning},
    warm::{measure, median, Measured, Options, Stand},
    wrk,
};

/// The shared quota's throughput target against the same path without a
/// quota (issue 26).
const SHARED_TARGET: f64 = 0.80;

/// The rows of a round: the same request to three routes.
const ROWS: [(&str, &str); 3] = [
    ("2 ", "/afp"),
    ("2q", "/quota-local/afp"),
    ("2s", "/quota-shared/afp"),
];

/// A `redis-server` on a free loopback port, without persistence, stopped
/// with the run.
struct Valkey {
    port: u16,
    child: Child,
}

impl Valkey {
    fn start() -> io::Result<Valkey> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| {
                io::Error::other(format!(
                    "cannot start redis-server ({error}): apt-get install redis-server"
                ))
            })?;
        let valkey = Valkey { port, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while valkey.cli(&["PING"])?.trim() != "PONG" {
            if Instant::now() > deadline {
                return Err(io::Error::other("redis-server did not start"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(valkey)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn cli(&self, args: &[&str]) -> io::Result<String> {
        let output = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The scripts the server has run: every round trip of the quota.
    fn scripts(&self) -> io::Result<u64> {
        let stats = self.cli(&["INFO", "commandstats"])?;
        Ok(stats
            .lines()
            .filter(|line| {
                line.starts_with("cmdstat_evalsha:") || line.starts_with("cmdstat_eval:")
            })
            .filter_map(|line| {
                line.split("calls=")
                    .nth(1)?
                    .split(',')
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .sum())
    }
}

impl Drop for Valkey {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Round {
    plain: Measured,
    local: Measured,
    shared: Measured,
    /// The shared row's round trips to the server per 1 000 requests.
    round_trips: f64,
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
    args.finish()?;
    if rounds == 0 || duration == 0 || connections == 0 {
        return Err(crate::args::usage(
            "--rounds, --duration and --connections must be at least 1".into(),
        ));
    }
    wrk::ensure_installed()?;
    let options = Options {
        rounds,
        token_bytes: None,
        duration: Duration::from_secs(duration),
        connections,
    };
    let pinning = Pinning::detect();
    print_header(
        "quota",
        &pinning,
        &format!(
            "{rounds} rounds of rows 2, 2q and 2s, forwards then backwards, {duration} s each \
             (after 1 s unmeasured), {connections} connections, 1 wrk thread; a quota of \
             {} requests/s per organisation",
            fmt_count(u64::from(QUOTA_PER_SECOND))
        ),
    );
    let scratch = Scratch::new()?;
    let valkey = Valkey::start()?;
    let rounds = runtime()?.block_on(rounds_of(&options, &pinning, &scratch, &valkey))?;
    print_rounds(&rounds);
    Ok(())
}

async fn rounds_of(
    options: &Options,
    pinning: &Pinning,
    scratch: &Scratch,
    valkey: &Valkey,
) -> io::Result<Vec<Round>> {
    let token = valid_token();
    let warm: Vec<&str> = ROWS.iter().map(|(_, path)| *path).collect();
    let stand = Stand::start(
        pinning,
        scratch,
        &["--quota-valkey".to_owned(), valkey.url()],
        &token,
        &warm,
    )
    .await?;
    let (api, script) = (&stand.api, &stand.script);
    let mut rounds = Vec::new();
    for round in 0..options.rounds {
        println!("-- round {}; {}", round + 1, load_line());
        let mut measured = [None; 3];
        let mut round_trips = 0.0;
        let order: [usize; 3] = if round % 2 == 0 { [0, 1, 2] } else { [2, 1, 0] };
        for i in order {
            let (scripts, started) = (valkey.scripts()?, Instant::now());
            let m = measure(options, pinning, api, &api.url(ROWS[i].1), script)?;
            if i == 2 {
                // The scripts of the row's whole time (its unmeasured
                // second too) against its requests at the measured rate.
                let scripts = valkey.scripts()?.saturating_sub(scripts) as f64;
                round_trips = scripts / (m.rps * started.elapsed().as_secs_f64()) * 1000.0;
            }
            measured[i] = Some(m);
        }
        let [Some(plain), Some(local), Some(shared)] = measured else {
            unreachable!("every row measured");
        };
        for ((name, _), m) in ROWS.iter().zip([&plain, &local, &shared]) {
            println!(
                "   {name} {} requests/s, p99 {}, API CPU {:.2} us per request",
                fmt_count(m.rps.round() as u64),
                fmt_duration(m.p99),
                m.cpu_per_request.as_secs_f64() * 1e6,
            );
        }
        println!("   2s round trips to the server: {round_trips:.3} per 1 000 requests");
        rounds.push(Round {
            plain,
            local,
            shared,
            round_trips,
        });
    }
    Ok(rounds)
}

fn print_rounds(rounds: &[Round]) {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let ratio = |m: &Measured, base: &Measured| m.rps / base.rps;
    let cpu = |m: &Measured, base: &Measured| us(m.cpu_per_request) - us(base.cpu_per_request);
    println!();
    println!(
        "== rounds: row 2q (warm guard, local quota) and 2s (warm guard, shared quota) against \
         row 2 (warm guard, no quota)"
    );
    println!(
        "| round | 2 requests/s | 2q | 2s | rps 2q/2 | rps 2s/2 | API CPU 2q − 2 | 2s − 2 | \
         round trips per 1 000 (2s) |"
    );
    println!("|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for (i, r) in rounds.iter().enumerate() {
        println!(
            "| {} | {} | {} | {} | {:.3} | {:.3} | {:+.2} us | {:+.2} us | {:.3} |",
            i + 1,
            fmt_count(r.plain.rps.round() as u64),
            fmt_count(r.local.rps.round() as u64),
            fmt_count(r.shared.rps.round() as u64),
            ratio(&r.local, &r.plain),
            ratio(&r.shared, &r.plain),
            cpu(&r.local, &r.plain),
            cpu(&r.shared, &r.plain),
            r.round_trips,
        );
    }
    let of = |f: &dyn Fn(&Round) -> f64| median(rounds.iter().map(f).collect());
    let local = of(&|r| ratio(&r.local, &r.plain));
    let shared = of(&|r| ratio(&r.shared, &r.plain));
    let local_cpu = of(&|r| cpu(&r.local, &r.plain));
    let shared_cpu = of(&|r| cpu(&r.shared, &r.plain));
    let round_trips = of(&|r| r.round_trips);
    println!();
    println!("== medians over {} rounds", rounds.len());
    println!("  local quota: throughput {local:.3} x the warm guard without one, {local_cpu:+.2} us of API CPU per request");
    println!(
        "  [{}] shared quota: throughput >= {SHARED_TARGET:.2} x the warm guard without one: \
         {shared:.3} ({shared_cpu:+.2} us of API CPU per request)",
        if shared >= SHARED_TARGET {
            "MET"
        } else {
            "MISSED"
        }
    );
    println!("  shared quota: {round_trips:.3} round trips to the server per 1 000 requests");
    println!("{}", load_line());
}
