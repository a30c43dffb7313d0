//! Shared parts of the integration tests: an API server on loopback and a
//! controllable, misbehaving introspection endpoint.

use std::{
    net::{SocketAddr, TcpListener as StdListener},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use actix_web::{dev::ServerHandle, web, App, HttpServer};
use maskinporten_actix::Maskinporten;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    task::JoinHandle,
};

/// An API under test, served over real HTTP on 127.0.0.1.
pub struct TestApi {
    base: String,
    addr: SocketAddr,
    handle: ServerHandle,
}

impl TestApi {
    /// Serves `configure` with `maskinporten` registered as app data (or no
    /// handle at all, with `None`). Call from within an actix runtime.
    pub fn start<F>(maskinporten: Option<Maskinporten>, configure: F) -> TestApi
    where
        F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
    {
        let listener = StdListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let server = HttpServer::new(move || {
            let app = App::new().configure(configure.clone());
            match maskinporten.clone() {
                Some(maskinporten) => app.app_data(maskinporten),
                None => app,
            }
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        TestApi {
            base: format!("http://{addr}"),
            addr,
            handle,
        }
    }

    /// The address the API listens on, for [`raw_request`].
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for TestApi {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::spawn(async move { handle.stop(false).await });
    }
}

/// The scopes the tests' handles expose: every scope their guards name.
/// A handle takes exactly the scopes it is given, so a token that holds none
/// of these (a token for another API) is refused before any guard.
pub const EXPOSED: [&str; 11] = [
    "nav:helse/sykepenger/afp.read",
    "nav:helse/sykepenger/afp.write",
    "nav:helse/sykepenger/afp.readwrite",
    "nav:helse/sykepenger/særfradrag.read",
    "nav:helse/sykepenger/annet",
    "nav:helse/sykepenger/other.read",
    "nav:helse/ping",
    "nav:helse/many",
    "nav:helse/echo",
    "nav:helse:afp.read",
    "nav:helse/blåbær:søknad.lås",
];

/// The handle most tests use: introspection through `texas`, exposing
/// [`EXPOSED`].
pub fn handle(texas: &maskinporten_actix::testing::LocalTexas) -> Maskinporten {
    texas
        .maskinporten_builder()
        .exposed_scopes(EXPOSED)
        .build()
        .expect("a handle for the local endpoint")
}

/// [`handle`] validating locally, against `texas`' JWKS.
pub fn local_handle(texas: &maskinporten_actix::testing::LocalTexas) -> Maskinporten {
    texas
        .maskinporten_local_builder()
        .exposed_scopes(EXPOSED)
        .build()
        .expect("a handle for the local endpoint's JWKS")
}

/// A plain HTTP client for the tests: no pooling surprises, no proxy.
pub fn client() -> reqwest::Client {
    client_with_timeout(Duration::from_secs(20))
}

/// [`client`] with a timeout of its own.
pub fn client_with_timeout(timeout: Duration) -> reqwest::Client {
    // The workspace builds reqwest without a default TLS provider; the test
    // client talks plain HTTP but reqwest wants one all the same.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        // Plain HTTP on loopback: no certificate to trust. Reading the
        // system's roots made each client cost about 20 ms in a debug
        // build, and many tests build one per request.
        .tls_certs_only(std::iter::empty())
        .build()
        .expect("client")
}

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
    task: Mutex<Option<JoinHandle<()>>>,
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
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                connections.fetch_add(1, Ordering::SeqCst);
                let guard = OpenGuard::new(&open);
                let fault = fault.lock().expect("fault lock").clone();
                let requests = Arc::clone(&requests);
                tokio::spawn(async move {
                    answer(stream, fault, requests).await;
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

async fn answer(mut stream: tokio::net::TcpStream, fault: Fault, requests: Arc<AtomicU64>) {
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

/// An HTTP response read off the wire by [`raw_request`].
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The status code of the status line.
    pub status: u16,
    /// Every header, in order, names lower-cased, values as sent.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body, de-chunked if it was chunked.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// Every value of the header `name` (any case), as text.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    /// The one value of the header `name`; `None` when absent, a panic when
    /// it is there more than once.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut values = self.header_values(name);
        assert!(values.len() <= 1, "{name} sent {} times", values.len());
        values.pop()
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `head` (the request line and header lines, each without its CRLF)
/// and no body to `addr` on a fresh connection, with `Connection: close`
/// added, and reads the response. For requests a well-behaved client (like
/// reqwest) refuses to send: non-UTF-8 bytes, control characters, malformed
/// header lines.
pub async fn raw_request(addr: SocketAddr, head: &[Vec<u8>]) -> RawResponse {
    let mut request = Vec::new();
    for line in head {
        request.extend_from_slice(line);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"Connection: close\r\n\r\n");
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (mut read, mut write) = stream.into_split();
        // Write and read at once: a server may answer (and close) before it
        // has read a large request. Write errors are then expected.
        let writer = async move {
            let _ = write.write_all(&request).await;
            write
        };
        let reader = async move {
            let mut response = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                match read.read(&mut chunk).await {
                    Ok(0) => break,
                    Ok(n) => response.extend_from_slice(&chunk[..n]),
                    // A reset after a complete response is fine; before one,
                    // the parse below says so.
                    Err(_) => break,
                }
            }
            response
        };
        let (_write, response) = tokio::join!(writer, reader);
        response
    };
    let response = tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .expect("the server answered within 20 s");
    parse_response(&response).unwrap_or_else(|| {
        panic!(
            "not an HTTP response: {:?}",
            String::from_utf8_lossy(&response)
        )
    })
}

fn parse_response(bytes: &[u8]) -> Option<RawResponse> {
    let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = &bytes[..head_end];
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = std::str::from_utf8(lines.next()?).ok()?;
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    let mut headers = Vec::new();
    for line in lines {
        let colon = line.iter().position(|&b| b == b':')?;
        let name = String::from_utf8_lossy(&line[..colon]).to_ascii_lowercase();
        let value = line[colon + 1..].trim_ascii().to_vec();
        headers.push((name, value));
    }
    let rest = &bytes[head_end + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case(b"chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else if let Some((_, length)) = headers.iter().find(|(n, _)| n == "content-length") {
        let length: usize = std::str::from_utf8(length).ok()?.parse().ok()?;
        rest.get(..length)?.to_vec()
    } else {
        rest.to_vec()
    };
    Some(RawResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

static TEST_THREADS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static STRAY_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Starts recording panics on threads other than the tests' own (the API's
/// workers, runtime threads, the local endpoint), which no status code would
/// show: a panic in a spawned task only ends that task. Call at the start of
/// every test of a binary that checks [`assert_no_stray_panics`].
pub fn watch_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    if let Some(name) = std::thread::current().name() {
        TEST_THREADS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(name.to_owned());
    }
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("<unnamed>").to_owned();
            let is_test = TEST_THREADS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&name);
            if !is_test {
                STRAY_PANICS
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(format!("{name}: {info}"));
            }
            previous(info);
        }));
    });
}

/// Fails if any thread but a test's own panicked since [`watch_panics`].
pub fn assert_no_stray_panics() {
    let panics = STRAY_PANICS.lock().unwrap_or_else(|e| e.into_inner());
    assert!(panics.is_empty(), "panics outside the tests: {panics:#?}");
}

/// Every log line of a test binary, at TRACE: the one `tracing` subscriber
/// of the binary, set on first use. For tests that assert what is logged,
/// and that a token never is.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The binary's log capture; see [`LogCapture`].
pub fn logs() -> &'static LogCapture {
    static CAPTURE: std::sync::OnceLock<LogCapture> = std::sync::OnceLock::new();
    CAPTURE.get_or_init(|| {
        use tracing_subscriber::util::SubscriberInitExt;
        let capture = LogCapture::default();
        let writer = capture.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish()
            .try_init()
            .expect("the only subscriber of this binary");
        capture
    })
}

/// What a test reads of an answer: its status, its `WWW-Authenticate`
/// challenge, and its body as JSON (`Value::Null` when it is not JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub challenge: Option<String>,
    pub body: serde_json::Value,
}

impl TestApi {
    /// A GET of `path` with `token` as the bearer token: the request helper
    /// of every test that asks a guarded API.
    pub async fn ask(&self, path: &str, token: &str) -> Answer {
        let response = get(&self.url(path), Some(token)).await;
        Answer {
            status: response.status().as_u16(),
            challenge: challenge(&response),
            body: response.json().await.unwrap_or(serde_json::Value::Null),
        }
    }
}

/// A GET of `url`, with `token` as the bearer token when given.
pub async fn get(url: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = client().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("request")
}

/// The `WWW-Authenticate` challenge of a response, if it has one.
pub fn challenge(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// Now, in Unix seconds, as the guard reads `exp` and `iat`.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// `json`, written out and encoded as unpadded base64url: a part of a
/// compact JWS made by hand.
pub fn b64_json(json: &serde_json::Value) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// Whether two lists of scopes are equal, in order, as a constant: the UI
/// cases checked against a NAIS manifest assert what `exposed_scopes!()`
/// gives while they compile, since they are checked and not run.
pub const fn same_scopes(a: &[&str], b: &[&str]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        let (x, y) = (a[i].as_bytes(), b[i].as_bytes());
        if x.len() != y.len() {
            return false;
        }
        let mut j = 0;
        while j < x.len() {
            if x[j] != y[j] {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}
