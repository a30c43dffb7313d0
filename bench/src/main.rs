//! `maskinporten-bench`: the load, burst, memory and soak benchmarks of
//! maskinporten-actix, over real HTTP on 127.0.0.1 with `wrk` as the load
//! generator. See BENCHMARKS.md for what each run measures and its figures.
//!
//! ```text
//! cargo run --release -p maskinporten-bench -- load [--duration S] [--quick] [--connections N]
//! cargo run --release -p maskinporten-bench -- soak [--duration S] [--quick]
//! cargo run --release -p maskinporten-bench -- warm [--rounds N] [--duration S] [--quick] [--token-bytes N]
//! cargo run --release -p maskinporten-bench -- local [--duration S] [--quick] [--connections N]
//! cargo run --release -p maskinporten-bench -- quota [--rounds N] [--duration S] [--quick]
//! cargo run --release -p maskinporten-bench -- flood [--duration S] [--reject-duration S] [--quick]
//! ```
//!
//! The driver starts its servers from its own executable: `api` (the API
//! under test) and `texas` (the local Texas-compatible endpoint, which also
//! reports on a second port what it was asked).

mod api;
mod args;
mod driver;
mod fake;
mod flood;
mod http;
mod load;
mod local;
mod procs;
mod quota;
mod soak;
mod warm;
mod wrk;

use std::process::ExitCode;

const USAGE: &str = "usage:
  maskinporten-bench load [--duration SECONDS] [--quick] [--connections N]
      the load scenarios, each for SECONDS (default 10; --quick: 2)
  maskinporten-bench local [--duration SECONDS] [--quick] [--connections N]
      local validation against the JWKS, beside introspection
  maskinporten-bench warm [--rounds N] [--duration SECONDS] [--quick] [--connections N] [--token-bytes N]
      the warm guard (row 2) against the same bytes unguarded (row 1b), in alternating
      rounds, with the API's CPU time per request (default 6 rounds of 5 s; --quick: 2 of 2 s)
  maskinporten-bench quota [--rounds N] [--duration SECONDS] [--quick] [--connections N]
      the warm guard under a local and a shared consumer quota (a redis-server it starts)
      against none, in alternating rounds, and the shared quota's round trips per 1 000
      requests (default 6 rounds of 5 s; --quick: 2 of 2 s)
  maskinporten-bench soak [--duration SECONDS] [--quick]
      mixed valid/invalid/expired tokens with an endpoint outage (default 60 s; --quick: 10)
  maskinporten-bench flood [--duration SECONDS] [--reject-duration SECONDS] [--quick]
                           [--forged-per-second N] [--genuine-per-second N] [--sidecar-ms MS] [--connections N]
      forged tokens (500/s) while new genuine ones arrive (10/s), against a sidecar taking 20 ms
      per introspection: introspection without and with the signature check, and local
      validation (default 30 s each; --quick: 4); then forged tokens rejected per second and per
      CPU-second, the API on one core (default 10 s per row; --quick: 2)
internal, started by the driver:
  maskinporten-bench api (--introspection URL [--jwks URL] | --jwks URL) [--no-cache] [--capacity N] [--max-ttl-ms MS] [--check] [--quota-valkey URL]
      --introspection with --jwks: introspection, each new token's signature checked first
  maskinporten-bench texas [--port PORT] [--latency-ms MS]";

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    let command = argv.next();
    let args = args::Args::new(argv);
    let result = match command.as_deref() {
        Some("load") => load::run(args),
        Some("soak") => soak::run(args),
        Some("local") => local::run(args),
        Some("warm") => warm::run(args),
        Some("quota") => quota::run(args),
        Some("flood") => flood::run(args),
        Some("api") => api::run_api(args),
        Some("texas") => api::run_texas(args),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("maskinporten-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Seconds since the Unix epoch, for the claims of minted tokens.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}
