//! A quota the fleet shares (`ConsumerQuota::shared`), against a real
//! `redis-server` (Redis 7 speaks the Valkey protocol) that each test starts
//! on a free loopback port: the burst and then 429; another organisation
//! unaffected; three replicas in this process sharing one server, with
//! requests spread over them or all on one, admitting the quota once; and
//! the server stopped mid-test, then started again.
//!
//! The tests need `redis-server` on the PATH, which a machine may lack: they
//! are ignored in the default run and say why; `.ci/run` installs the
//! server and runs them with `--ignored`
//! (`cargo test -p maskinporten-tests --test it -- --ignored quota_shared::`).

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use maskinporten_actix::{quota::ConsumerQuota, testing::LocalTexas};
use maskinporten_tests::{ask, client, logs, read_token_from, TestApi, LISTED, STRANGER};

const CUSTOMER: &str = LISTED;
const OTHER: &str = STRANGER;
/// A timeout no answer of a loopback server misses on a busy machine: a
/// replica that fell back for a slow answer would blur what is counted.
/// A stopped server refuses connections at once, whatever the timeout.
const PATIENT: Duration = Duration::from_secs(1);

/// A `redis-server` on 127.0.0.1, without persistence, stopped on drop.
struct Valkey {
    port: u16,
    child: Option<Child>,
}

impl Valkey {
    fn start() -> Valkey {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let mut valkey = Valkey { port, child: None };
        valkey.restart();
        valkey
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on its port, and waits until it answers.
    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on the PATH (apt-get install redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.cli(&["PING"]).as_deref() != Some("PONG") {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A command through `redis-cli` (the same package), its answer.
    fn cli(&self, args: &[&str]) -> Option<String> {
        let output = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// How many scripts the server ran: the replicas' round trips.
    fn script_calls(&self) -> u64 {
        let stats = self.cli(&["INFO", "commandstats"]).unwrap_or_default();
        stats
            .lines()
            .filter(|line| {
                line.starts_with("cmdstat_evalsha:") || line.starts_with("cmdstat_eval:")
            })
            .filter_map(|line| {
                let calls = line.split("calls=").nth(1)?;
                calls.split(',').next()?.parse::<u64>().ok()
            })
            .sum()
    }
}

impl Drop for Valkey {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A replica: an API whose `/afp/summary` is under `quota`.
fn replica(texas: &LocalTexas, quota: &ConsumerQuota) -> TestApi {
    crate::quota::api(texas, quota.clone())
}

/// Sends from `clients` concurrent loops for `duration`, each request to
/// `urls[pick(i)]`; returns the statuses counted and the seconds from the
/// first request to the last answer.
async fn load(
    urls: Vec<String>,
    token: &str,
    clients: usize,
    duration: Duration,
    pick: fn(usize, usize) -> usize,
) -> (Vec<(u16, usize)>, f64) {
    let sent = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (urls, token, sent) = (urls.clone(), token.to_owned(), Arc::clone(&sent));
        tasks.push(actix_web::rt::spawn(async move {
            let client = client();
            let mut statuses = Vec::new();
            while start.elapsed() < duration {
                let i = sent.fetch_add(1, Ordering::Relaxed);
                let url = &urls[pick(i, urls.len())];
                let response = client.get(url).bearer_auth(&token).send().await.unwrap();
                statuses.push(response.status().as_u16());
            }
            statuses
        }));
    }
    let mut counted: Vec<(u16, usize)> = Vec::new();
    for task in tasks {
        for status in task.await.unwrap() {
            match counted.iter_mut().find(|(s, _)| *s == status) {
                Some((_, n)) => *n += 1,
                None => counted.push((status, 1)),
            }
        }
    }
    (counted, start.elapsed().as_secs_f64())
}

fn count(counted: &[(u16, usize)], status: u16) -> usize {
    counted
        .iter()
        .find(|(s, _)| *s == status)
        .map_or(0, |(_, n)| *n)
}

#[actix_web::test]
#[ignore = "needs redis-server: .ci/run installs it and runs these with --ignored"]
async fn the_burst_then_429_from_the_shared_quota() {
    let valkey = Valkey::start();
    let texas = LocalTexas::start();
    let quota = ConsumerQuota::per_minute(4)
        .name("burst")
        .shared(&valkey.url())
        .unwrap();
    let api = replica(&texas, &quota);
    let url = api.url("/afp/summary");

    let customer = read_token_from(&texas, CUSTOMER);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(ask(&url, Some(&customer)).await.status);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429]);
    let refused = ask(&url, Some(&customer)).await;
    assert_eq!(refused.status, 429);
    let retry_after: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    // One request every 15 s at the even pace.
    assert!((1..=15).contains(&retry_after), "{retry_after}");
    assert_eq!(
        refused.header("ratelimit-policy"),
        Some("\"burst\";q=4;w=60")
    );
    // The quota is the server's: its key for the organisation is there.
    let key = format!("maskinporten-quota:burst:{CUSTOMER}");
    assert_eq!(valkey.cli(&["EXISTS", &key]).as_deref(), Some("1"));
    assert!(!quota.in_fallback());

    // Another organisation is not slowed.
    let other = read_token_from(&texas, OTHER);
    for _ in 0..4 {
        assert_eq!(ask(&url, Some(&other)).await.status, 200);
    }
    assert_eq!(ask(&url, Some(&other)).await.status, 429);
}

/// Three replicas of one API share one server; whether the consumer's
/// requests spread over them or all land on one, the fleet admits its
/// quota once (the burst, then the rate), within 10 %.
#[actix_web::test]
#[ignore = "needs redis-server: .ci/run installs it and runs these with --ignored"]
async fn three_replicas_admit_the_quota_once() {
    let valkey = Valkey::start();
    let texas = LocalTexas::start();
    let rate = 200.0;
    for (name, pick) in [
        ("spread", (|i, n| i % n) as fn(usize, usize) -> usize),
        ("skewed", |_, _| 0),
    ] {
        // A quota of its own per replica, as separate processes have,
        // sharing only the server.
        let replicas: Vec<TestApi> = (0..3)
            .map(|_| {
                let quota = ConsumerQuota::per_second(rate as u32)
                    .name(name)
                    .valkey_timeout(PATIENT)
                    .shared(&valkey.url())
                    .unwrap();
                replica(&texas, &quota)
            })
            .collect();
        // Every replica says it is there within a heartbeat.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let urls: Vec<String> = replicas.iter().map(|r| r.url("/afp/summary")).collect();
        let customer = read_token_from(&texas, CUSTOMER);
        let (counted, seconds) = load(urls, &customer, 12, Duration::from_secs(2), pick).await;
        let admitted = count(&counted, 200) as f64;
        let expected = rate + rate * seconds;
        assert_eq!(
            count(&counted, 200) + count(&counted, 429),
            counted.iter().map(|(_, n)| n).sum::<usize>(),
            "{name}: only 200 and 429: {counted:?}"
        );
        assert!(
            count(&counted, 429) > 0,
            "{name}: the load must exceed the quota: {counted:?}"
        );
        assert!(
            (admitted - expected).abs() <= expected * 0.1,
            "{name}: admitted {admitted}, expected {expected:.0} over {seconds:.2} s: {counted:?}"
        );
    }
}

/// The server stopped mid-test: each replica falls back to its share (the
/// quota over the three replicas it knew of), answers 200 or 429, never
/// 5xx, says so once in the log, and decides on the shared quota again once
/// the server is back.
#[actix_web::test]
#[ignore = "needs redis-server: .ci/run installs it and runs these with --ignored"]
async fn the_server_stopped_mid_test() {
    let logs = logs();
    let mut valkey = Valkey::start();
    let texas = LocalTexas::start();
    let rate = 30;
    let quotas: Vec<ConsumerQuota> = (0..3)
        .map(|_| {
            ConsumerQuota::per_second(rate)
                .name("stopped")
                .valkey_timeout(PATIENT)
                .shared(&valkey.url())
                .unwrap()
        })
        .collect();
    let replicas: Vec<TestApi> = quotas.iter().map(|q| replica(&texas, q)).collect();
    let urls: Vec<String> = replicas.iter().map(|r| r.url("/afp/summary")).collect();
    let customer = read_token_from(&texas, CUSTOMER);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (counted, _) = load(
        urls.clone(),
        &customer,
        6,
        Duration::from_millis(500),
        |i, n| i % n,
    )
    .await;
    assert!(count(&counted, 200) > 0, "{counted:?}");
    assert!(quotas.iter().all(|q| !q.in_fallback()));

    valkey.stop();
    // Wait out the quota spent so far, then load each replica alike.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (counted, seconds) = load(
        urls.clone(),
        &customer,
        6,
        Duration::from_millis(1500),
        |i, n| i % n,
    )
    .await;
    let total: usize = counted.iter().map(|(_, n)| n).sum();
    assert_eq!(
        count(&counted, 200) + count(&counted, 429),
        total,
        "only 200 and 429 with the server down: {counted:?}"
    );
    assert!(quotas.iter().all(ConsumerQuota::in_fallback));
    // Each replica admits a third of the quota: the fleet, about one.
    let admitted = count(&counted, 200) as f64;
    let expected = f64::from(rate) * (1.0 + seconds);
    assert!(
        admitted <= expected * 1.2 && admitted >= expected * 0.6,
        "admitted {admitted} on the shares, the quota is {expected:.0}: {counted:?}"
    );
    let said = logs.text().matches("Valkey cannot be reached").count();
    assert_eq!(said, 3, "once per replica:\n{}", logs.text());

    valkey.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while quotas.iter().any(ConsumerQuota::in_fallback) {
        assert!(Instant::now() < deadline, "never back on the shared quota");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        logs.text().matches("Valkey can be reached again").count(),
        3
    );
    assert_eq!(ask(&urls[0], Some(&customer)).await.status, 200);
    let key = format!("maskinporten-quota:stopped:{CUSTOMER}");
    assert_eq!(valkey.cli(&["EXISTS", &key]).as_deref(), Some("1"));
}

/// Most requests make no round trip to the server: a replica spends its
/// lease in memory.
#[actix_web::test]
#[ignore = "needs redis-server: .ci/run installs it and runs these with --ignored"]
async fn most_requests_make_no_round_trip() {
    let valkey = Valkey::start();
    let texas = LocalTexas::start();
    let quota = ConsumerQuota::per_second(100_000)
        .name("leases")
        .shared(&valkey.url())
        .unwrap();
    let api = replica(&texas, &quota);
    let url = api.url("/afp/summary");
    let customer = read_token_from(&texas, CUSTOMER);
    assert_eq!(ask(&url, Some(&customer)).await.status, 200);
    let before = valkey.script_calls();
    for _ in 0..500 {
        assert_eq!(ask(&url, Some(&customer)).await.status, 200);
    }
    let calls = valkey.script_calls() - before;
    // Heartbeats (one a second) and a lease now and then.
    assert!(calls < 50, "{calls} scripts for 500 requests");
}
