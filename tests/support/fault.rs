//! A controllable, misbehaving introspection endpoint, and the broken HTTP
//! answers it can send.

use std::{
    net::{SocketAddr, TcpListener as StdListener},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    task::JoinHandle,
};

/// How the fault server answers.
#[derive(Clone, Debug)]
pub enum Fault {
    /// An HTTP answer with this status and body (JSON content type).
    Answer(u16, String),
    /// Waits, then answers 200 with this body.
    Slow(Duration, String),
    /// Reads the request and never answers.
    Hang,
    /// Writes these bytes verbatim, then closes the connection.
    Raw(Vec<u8>),
    /// Accepts the connection and never reads from it nor answers: the
    /// request is not counted in [`FaultServer::requests`], only in
    /// [`FaultServer::connections`].
    Silent,
    /// Reads the request (counted) and holds it until
    /// [`FaultServer::release`], then answers 200 with this body: a flight
    /// that lasts until the test has seen every caller join it.
    Held(String),
    /// Answers 200 with this body's full `Content-Length` at once, then sends
    /// the body one byte per interval: an endpoint that starts answering in
    /// time but never finishes.
    Trickle(Duration, String),
}

/// A misbehaving introspection endpoint on loopback, for the faults a real
/// sidecar can show: error statuses, garbage, silence, slowness, and outages
/// (see [`stop`](Self::stop) and [`restart`](Self::restart)).
pub struct FaultServer {
    addr: SocketAddr,
    fault: Arc<Mutex<Fault>>,
    requests: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
    open: Arc<OpenConnections>,
    gate: Arc<Gate>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// What [`Fault::Held`] requests wait for.
#[derive(Default)]
struct Gate {
    open: std::sync::atomic::AtomicBool,
    opened: tokio::sync::Notify,
}

impl Gate {
    async fn passed(&self) {
        loop {
            // Created before the check: `notify_waiters` wakes it even if
            // the gate opens between the check and the await.
            let opened = self.opened.notified();
            if self.open.load(Ordering::SeqCst) {
                return;
            }
            opened.await;
        }
    }
}

/// Connections open now, and the most that were ever open at once.
#[derive(Default)]
struct OpenConnections {
    now: AtomicU64,
    most: AtomicU64,
}

/// Counts one open connection for as long as it lives.
struct OpenGuard(Arc<OpenConnections>);

impl OpenGuard {
    fn new(open: &Arc<OpenConnections>) -> Self {
        let now = open.now.fetch_add(1, Ordering::SeqCst) + 1;
        open.most.fetch_max(now, Ordering::SeqCst);
        OpenGuard(Arc::clone(open))
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

impl FaultServer {
    /// Starts answering with `fault`. Call from within a tokio runtime.
    pub async fn start(fault: Fault) -> FaultServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let server = FaultServer {
            addr,
            fault: Arc::new(Mutex::new(fault)),
            requests: Arc::new(AtomicU64::new(0)),
            connections: Arc::new(AtomicU64::new(0)),
            open: Arc::default(),
            gate: Arc::default(),
            task: Mutex::new(None),
        };
        server.serve(listener);
        server
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let fault = Arc::clone(&self.fault);
        let requests = Arc::clone(&self.requests);
        let connections = Arc::clone(&self.connections);
        let open = Arc::clone(&self.open);
        let gate = Arc::clone(&self.gate);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                connections.fetch_add(1, Ordering::SeqCst);
                let guard = OpenGuard::new(&open);
                let fault = fault.lock().expect("fault lock").clone();
                let requests = Arc::clone(&requests);
                let gate = Arc::clone(&gate);
                tokio::spawn(async move {
                    answer(stream, fault, requests, &gate).await;
                    drop(guard);
                });
            }
        });
        *self.task.lock().expect("task lock") = Some(task);
    }

    /// The introspection URL to configure.
    pub fn url(&self) -> String {
        format!("http://{}/api/v1/introspect", self.addr)
    }

    /// The address it listens on (kept across [`stop`](Self::stop) and
    /// [`restart`](Self::restart)).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Lets every [`Fault::Held`] request be answered, now and from now on.
    pub fn release(&self) {
        self.gate.open.store(true, Ordering::SeqCst);
        self.gate.opened.notify_waiters();
    }

    /// Changes how later requests are answered.
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().expect("fault lock") = fault;
    }

    /// Requests read so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Connections accepted so far, whether or not a request was read.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    /// Connections open right now (accepted and not yet closed by either
    /// side).
    pub fn open_connections(&self) -> u64 {
        self.open.now.load(Ordering::SeqCst)
    }

    /// The most connections that were open at once so far.
    pub fn most_open_connections(&self) -> u64 {
        self.open.most.load(Ordering::SeqCst)
    }

    /// Stops listening: from its return on, connections to the port are
    /// refused (connections already accepted keep their fault).
    pub async fn stop(&self) {
        let task = self.task.lock().expect("task lock").take();
        if let Some(task) = task {
            task.abort();
            // Awaiting the aborted task waits until its future, and with it
            // the listening socket, has been dropped.
            let _ = task.await;
        }
    }

    /// Listens again on the same address after [`stop`](Self::stop).
    pub async fn restart(&self) {
        assert!(
            self.task.lock().expect("task lock").is_none(),
            "restart() needs a stop() first"
        );
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .expect("bind the same loopback port again");
        self.serve(listener);
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().expect("task lock").take() {
            task.abort();
        }
    }
}

async fn answer(
    mut stream: tokio::net::TcpStream,
    fault: Fault,
    requests: Arc<AtomicU64>,
    gate: &Gate,
) {
    if let Fault::Silent = fault {
        // Hold the connection open, unread, until the test is long over.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(stream);
        return;
    }
    // Read one request: the head, then Content-Length bytes of body.
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= head_end + 4 + length {
                break;
            }
        }
    }
    requests.fetch_add(1, Ordering::SeqCst);
    let response = match fault {
        Fault::Answer(status, body) => http_response(status, &body),
        Fault::Slow(delay, body) => {
            tokio::time::sleep(delay).await;
            http_response(200, &body)
        }
        Fault::Held(body) => {
            gate.passed().await;
            http_response(200, &body)
        }
        Fault::Hang | Fault::Silent => {
            // Never answer, but notice when the client gives up and closes.
            let mut sink = [0u8; 1024];
            let _ = tokio::time::timeout(Duration::from_secs(3600), async {
                while let Ok(n) = stream.read(&mut sink).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
            return;
        }
        Fault::Raw(bytes) => bytes,
        Fault::Trickle(every, body) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for byte in body.bytes() {
                tokio::time::sleep(every).await;
                if stream.write_all(&[byte]).await.is_err() {
                    return;
                }
            }
            Vec::new()
        }
    };
    let _ = stream.write_all(&response).await;
    let _ = stream.shutdown().await;
}

/// A complete HTTP/1.1 response that closes the connection.
pub fn http_response(status: u16, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A 200 response with a chunked body (`Transfer-Encoding: chunked`, no
/// `Content-Length`), in chunks of at most `chunk_size` bytes.
pub fn chunked_response(body: &str, chunk_size: usize) -> Vec<u8> {
    let mut out = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for chunk in body.as_bytes().chunks(chunk_size.max(1)) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// A 200 response announcing all of `body` (`Content-Length`), of which only
/// the first `sent` bytes are written before the connection closes.
pub fn truncated_response(body: &str, sent: usize) -> Vec<u8> {
    let mut out = http_response(200, body);
    out.truncate(out.len() - body.len() + sent.min(body.len()));
    out
}

/// A loopback URL where nothing listens.
pub fn refused_url() -> String {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    format!("http://{addr}/api/v1/introspect")
}
