//! Child processes and what `/proc` says about them and about the machine.
//!
//! The driver starts its servers from its own executable so that every
//! process runs the same release build, pins each to a core with `taskset`,
//! and kills them on every way out: dropping a [`Server`] kills it, and a
//! server whose standard input closes (the driver died) exits by itself.

use std::{
    io::{self, BufRead, BufReader, Read},
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    process::{Child, ChildStdin, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// How long a server may take to say which port it listens on.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the processes of a run go: the machine has two cores, one for the
/// server under test and one for the load generator (and the introspection
/// endpoint, which then competes with the load generator alike in the
/// scenarios that are compared with each other).
#[derive(Clone, Copy, Debug)]
pub struct Pinning {
    pub api: Option<usize>,
    pub load: Option<usize>,
}

impl Pinning {
    /// CPU 0 for the API, CPU 1 for the rest, when there are two CPUs and
    /// `taskset` is there; no pinning otherwise (and the report says so).
    pub fn detect() -> Pinning {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let taskset = Command::new("taskset")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if cpus >= 2 && taskset {
            Pinning {
                api: Some(0),
                load: Some(1),
            }
        } else {
            eprintln!(
                "note: not pinning processes ({cpus} CPU(s) available, taskset {}found; \
                 it is in util-linux)",
                if taskset { "" } else { "not " }
            );
            Pinning {
                api: None,
                load: None,
            }
        }
    }

    pub fn describe(&self) -> String {
        match (self.api, self.load) {
            (Some(api), Some(load)) => format!(
                "taskset: API server on CPU {api}; wrk and the introspection endpoint on CPU \
                 {load}; the driver unpinned (idle while wrk runs)"
            ),
            _ => "none (fewer than 2 CPUs or no taskset): figures are noisier".to_owned(),
        }
    }
}

/// A command, run under `taskset -c <cpu>` when pinned. `taskset` execs the
/// program, so the child's pid is the program's own.
pub fn pinned_command(cpu: Option<usize>, program: impl Into<PathBuf>) -> Command {
    match cpu {
        Some(cpu) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(cpu.to_string()).arg(program.into());
            command
        }
        None => Command::new(program.into()),
    }
}

/// A server started from this executable; killed when dropped.
pub struct Server {
    pub addr: SocketAddr,
    /// Where a server that counts what it was asked answers the counters
    /// (`texas` does: `listening <port> stats <port>`).
    pub stats_addr: Option<SocketAddr>,
    child: Child,
    // Held so that the child sees its standard input close only when the
    // server is dropped (or the driver dies).
    _stdin: Option<ChildStdin>,
}

impl Server {
    /// Starts `<this executable> <args>` pinned to `cpu`, and waits for the
    /// line `listening <port>` on its standard output.
    pub fn start(name: &'static str, cpu: Option<usize>, args: &[String]) -> io::Result<Server> {
        let exe = std::env::current_exe()?;
        let mut child = pinned_command(cpu, exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        // A thread, so that a child that never says anything cannot hang the
        // driver: the wait below is bounded.
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = tx.send(reader.read_line(&mut line).map(|_| line));
            // Keep reading until the child exits, so that it never writes
            // into a closed pipe.
            let _ = io::copy(&mut reader, &mut io::sink());
        });
        let mut server = Server {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            stats_addr: None,
            child,
            _stdin: stdin,
        };
        let line = rx
            .recv_timeout(START_TIMEOUT)
            .map_err(|_| io::Error::other(format!("{name}: did not start within 30 s")))??;
        let did_not_start = || io::Error::other(format!("{name}: did not start (said {line:?})"));
        let mut words = line
            .trim()
            .strip_prefix("listening ")
            .ok_or_else(did_not_start)?
            .split(' ');
        let port = words.next().and_then(|p| p.parse::<u16>().ok());
        server.addr.set_port(port.ok_or_else(did_not_start)?);
        match (words.next(), words.next()) {
            (None, _) => {}
            (Some("stats"), Some(port)) => {
                let port = port.parse::<u16>().map_err(|_| did_not_start())?;
                server.stats_addr = Some(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
            }
            _ => return Err(did_not_start()),
        }
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Blocks until standard input ends, i.e. until the driver drops the
/// [`Server`] or dies: the children's way never to outlive it.
pub fn exit_when_stdin_closes() {
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        let mut stdin = io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        std::process::exit(0);
    });
}

/// Resident memory of a process, from `/proc/<pid>/status`, in bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// Resident now.
    pub rss: u64,
    /// The most ever resident.
    pub hwm: u64,
}

pub fn memory(pid: u32) -> io::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kib| kib * 1024)
            .ok_or_else(|| io::Error::other(format!("no {name} in /proc/{pid}/status")))
    };
    Ok(Memory {
        rss: field("VmRSS:")?,
        hwm: field("VmHWM:")?,
    })
}

/// CPU time a process has used so far (user + system).
pub fn cpu_time(pid: u32) -> io::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; the fields after it do not.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| io::Error::other("unexpected /proc/<pid>/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line; `rest` starts
    // at field 3.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let ticks = ticks(11) + ticks(12);
    Ok(Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64))
}

fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

/// Busy and total time of each CPU so far, in ticks, from `/proc/stat`.
fn core_times() -> Vec<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    stat.lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .map(|line| {
            let ticks: Vec<u64> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|f| f.parse().ok())
                .collect();
            let total: u64 = ticks.iter().sum();
            // idle and iowait are the 4th and 5th numbers.
            let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
            (total - idle, total)
        })
        .collect()
}

/// Measures the share of one CPU that processes use over a stretch of time,
/// and how busy each core was: a core busier than the processes pinned to
/// it ran someone else's work too.
pub struct CpuMeter {
    pids: Vec<u32>,
    start: Instant,
    used: Vec<Duration>,
    cores: Vec<(u64, u64)>,
}

impl CpuMeter {
    pub fn start(pids: &[u32]) -> CpuMeter {
        CpuMeter {
            pids: pids.to_vec(),
            start: Instant::now(),
            used: pids
                .iter()
                .map(|&p| cpu_time(p).unwrap_or_default())
                .collect(),
            cores: core_times(),
        }
    }

    /// Per core, the percentage of the time it was busy since `start`.
    pub fn cores_busy(&self) -> Vec<f64> {
        core_times()
            .iter()
            .zip(&self.cores)
            .map(|(&(busy, total), &(busy0, total0))| {
                busy.saturating_sub(busy0) as f64 / total.saturating_sub(total0).max(1) as f64
                    * 100.0
            })
            .collect()
    }

    /// Per process, the CPU time used since `start`.
    pub fn cpu_used(&self) -> Vec<Duration> {
        self.pids
            .iter()
            .zip(&self.used)
            .map(|(&pid, &before)| cpu_time(pid).unwrap_or(before).saturating_sub(before))
            .collect()
    }

    /// Per process, the percentage of one CPU used since `start`.
    pub fn percent(&self) -> Vec<f64> {
        let wall = self.start.elapsed().as_secs_f64().max(1e-9);
        self.pids
            .iter()
            .zip(&self.used)
            .map(|(&pid, &before)| {
                let now = cpu_time(pid).unwrap_or(before);
                now.saturating_sub(before).as_secs_f64() / wall * 100.0
            })
            .collect()
    }
}

/// The machine, as the report states it.
pub struct Machine {
    pub cpu_model: String,
    pub cpus: usize,
    pub kernel: String,
}

impl Machine {
    pub fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map_or("unknown".to_owned(), |(_, model)| model.trim().to_owned());
        let cpus = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or("unknown".to_owned(), |k| k.trim().to_owned());
        Machine {
            cpu_model,
            cpus,
            kernel,
        }
    }
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut fields = text
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(f64::NAN));
    [(); 3].map(|_| fields.next().unwrap_or(f64::NAN))
}

/// The load average line printed before each run. Past the first, the
/// one-minute figure includes the run's own earlier scenarios; the busy time
/// of each core, printed with each scenario, tells foreign work apart.
pub fn load_line() -> String {
    let [one, five, fifteen] = load_average();
    format!("load average {one:.2} {five:.2} {fifteen:.2}")
}

/// The load average before anything starts; a busy machine is called out,
/// since other work on these cores skews every figure.
pub fn quiet_check() -> String {
    let mut line = load_line();
    if load_average()[0] > 0.5 {
        line.push_str("  (busy machine: figures are suspect, re-run when it is quiet)");
    }
    line
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
