//! Running `wrk` and reading its `--latency` report.

use std::{
    io::{self, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use crate::procs::{pinned_command, CpuMeter};

/// Fails with the install command when `wrk` is not on the PATH.
pub fn ensure_installed() -> io::Result<()> {
    match Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(io::Error::other(
            "wrk is not installed: the load generator of this benchmark. Install it with \
             `apt-get install wrk` (Debian/Ubuntu), then run again.",
        )),
        Err(e) => Err(io::Error::other(format!("cannot run wrk: {e}"))),
    }
}

/// One wrk run.
#[derive(Clone)]
pub struct Run<'a> {
    pub url: String,
    pub script: Option<&'a Path>,
    pub duration: Duration,
    pub connections: usize,
    pub threads: usize,
    pub cpu: Option<usize>,
}

/// What wrk reported.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    pub requests: u64,
    pub rps: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub non_2xx: u64,
    /// connect, read, write and timeout errors, added up.
    pub socket_errors: u64,
}

/// A run measured with the CPU of the process under load.
pub struct Measured {
    pub report: Report,
    /// The CPU time the process used over the run.
    pub cpu: Duration,
    /// Its share of one CPU over the run.
    pub percent: f64,
    /// How busy the core it is pinned to was (NaN when it is not pinned):
    /// above `percent`, someone else's work ran there too.
    pub core_percent: f64,
}

impl Run<'_> {
    /// This run again for `duration`, with the CPU of `pid`, pinned to
    /// `core`, measured over it.
    pub fn measured(
        &self,
        duration: Duration,
        pid: u32,
        core: Option<usize>,
    ) -> io::Result<Measured> {
        let meter = CpuMeter::start(&[pid]);
        let report = Run {
            duration,
            ..self.clone()
        }
        .run()?;
        let cpu = meter.cpu_used()[0];
        let percent = meter.percent()[0];
        let core_percent = core
            .and_then(|cpu| meter.cores_busy().get(cpu).copied())
            .unwrap_or(f64::NAN);
        Ok(Measured {
            report,
            cpu,
            percent,
            core_percent,
        })
    }

    pub fn run(&self) -> io::Result<Report> {
        let mut command = pinned_command(self.cpu, "wrk");
        command
            .arg("--latency")
            .arg(format!("-t{}", self.threads))
            .arg(format!("-c{}", self.connections))
            .arg(format!("-d{}s", self.duration.as_secs().max(1)))
            // Longer than the guard's own 2 s introspection timeout, so that
            // a slow answer shows as a 503 rather than a wrk timeout.
            .arg("--timeout")
            .arg("5s");
        if let Some(script) = self.script {
            command.arg("-s").arg(script);
        }
        let output = command.arg(&self.url).stdin(Stdio::null()).output()?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(io::Error::other(format!(
                "wrk failed ({}): {}{}",
                output.status,
                text,
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        parse(&text).ok_or_else(|| io::Error::other(format!("cannot read wrk's report:\n{text}")))
    }
}

/// Reads wrk's report; `None` when a figure is missing.
pub fn parse(text: &str) -> Option<Report> {
    let mut report = Report::default();
    let (mut p50, mut p99, mut rps, mut requests) = (None, None, None, None);
    for line in text.lines().map(str::trim) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["50%", value] => p50 = parse_time(value),
            ["99%", value] => p99 = parse_time(value),
            ["Requests/sec:", value] => rps = value.parse().ok(),
            [count, "requests", "in", ..] => requests = count.parse().ok(),
            ["Non-2xx", "or", "3xx", "responses:", count] => report.non_2xx = count.parse().ok()?,
            ["Socket", "errors:", rest @ ..] => {
                report.socket_errors = rest
                    .iter()
                    .filter_map(|f| f.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            _ => {}
        }
    }
    report.p50 = p50?;
    report.p99 = p99?;
    report.rps = rps?;
    report.requests = requests?;
    Some(report)
}

/// wrk's times: `812.00us`, `1.23ms`, `2.00s`, `1.00m`, `1.00h`.
fn parse_time(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

/// A Lua script for wrk, written to a file in the run's scratch directory.
/// Tokens go into these files, never onto a command line or the output.
pub fn write_script(dir: &Path, name: &str, lua: &str) -> io::Result<PathBuf> {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path)?;
    file.write_all(lua.as_bytes())?;
    Ok(path)
}

/// A script that sends one fixed request: wrk builds it once and sends the
/// same bytes every time, its fastest mode.
pub fn static_script(method: &str, headers: &[(&str, &str)], body: Option<&str>) -> String {
    let mut lua = format!("wrk.method = {}\n", lua_string(method));
    for (name, value) in headers {
        lua.push_str(&format!(
            "wrk.headers[{}] = {}\n",
            lua_string(name),
            lua_string(value)
        ));
    }
    if let Some(body) = body {
        lua.push_str(&format!("wrk.body = {}\n", lua_string(body)));
    }
    lua
}

/// A script that cycles through GET requests of `path`, one per entry of
/// `requests` (each a list of headers). The requests are formatted once, in
/// `init`, so that `request()` costs wrk a table look-up.
pub fn rotating_script(path: &str, requests: &[Vec<(&str, String)>]) -> String {
    let mut lua = String::from("local headers = {\n");
    for headers in requests {
        lua.push_str("  {");
        for (name, value) in headers {
            lua.push_str(&format!("[{}] = {}, ", lua_string(name), lua_string(value)));
        }
        lua.push_str("},\n");
    }
    lua.push_str(&format!(
        "}}\n\
         local requests = {{}}\n\
         local n = 0\n\
         function init(args)\n\
         \x20 for i, h in ipairs(headers) do requests[i] = wrk.format(\"GET\", {}, h) end\n\
         \x20 headers = nil\n\
         end\n\
         function request()\n\
         \x20 n = n % #requests + 1\n\
         \x20 return requests[n]\n\
         end\n",
        lua_string(path)
    ));
    lua
}

/// A Lua string literal. Tokens and JSON here are printable ASCII; quotes
/// and backslashes are escaped all the same.
fn lua_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 10s test @ http://127.0.0.1:1234/plain
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   612.34us  101.20us   4.21ms   91.02%
    Req/Sec   104.50k     3.10k  110.01k    71.00%
  Latency Distribution
     50%  598.00us
     75%  640.00us
     90%  701.00us
     99%    1.02ms
  1040123 requests in 10.00s, 120.13MB read
  Non-2xx or 3xx responses: 17
  Socket errors: connect 0, read 2, write 0, timeout 3
Requests/sec: 104002.12
Transfer/sec:     12.01MB
";

    #[test]
    fn reads_the_latency_report() {
        let report = parse(REPORT).unwrap();
        assert_eq!(report.requests, 1_040_123);
        assert!((report.rps - 104_002.12).abs() < 1e-6);
        assert_eq!(report.p50, Duration::from_micros(598));
        assert_eq!(report.p99, Duration::from_micros(1020));
        assert_eq!((report.non_2xx, report.socket_errors), (17, 5));
    }

    #[test]
    fn reads_every_time_unit() {
        assert_eq!(parse_time("2.00s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_time("1.50m"), Some(Duration::from_secs(90)));
        assert_eq!(parse_time("12.00us"), Some(Duration::from_micros(12)));
        assert_eq!(parse_time("fast"), None);
    }

    #[test]
    fn a_report_without_latencies_is_refused() {
        assert!(parse("Requests/sec: 5.0\n").is_none());
    }

    #[test]
    fn lua_strings_are_escaped() {
        assert_eq!(lua_string(r#"{"a":"b\c"}"#), r#""{\"a\":\"b\\c\"}""#);
    }
}
