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
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An API under test, served over real HTTP on 127.0.0.1.
pub struct TestApi {
    base: String,
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
            handle,
        }
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

/// A plain HTTP client for the tests: no pooling surprises, no proxy.
pub fn client() -> reqwest::Client {
    // The workspace builds reqwest without a default TLS provider; the test
    // client talks plain HTTP but reqwest wants one all the same.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
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
}

/// A misbehaving introspection endpoint on loopback, for the faults a real
/// sidecar can show: error statuses, garbage, silence, slowness.
pub struct FaultServer {
    addr: SocketAddr,
    fault: Arc<Mutex<Fault>>,
    requests: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultServer {
    /// Starts answering with `fault`. Call from within a tokio runtime.
    pub async fn start(fault: Fault) -> FaultServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let fault = Arc::new(Mutex::new(fault));
        let requests = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn({
            let fault = Arc::clone(&fault);
            let requests = Arc::clone(&requests);
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let fault = fault.lock().expect("fault lock").clone();
                    let requests = Arc::clone(&requests);
                    tokio::spawn(async move { answer(stream, fault, requests).await });
                }
            }
        });
        FaultServer {
            addr,
            fault,
            requests,
            task,
        }
    }

    /// The introspection URL to configure.
    pub fn url(&self) -> String {
        format!("http://{}/api/v1/introspect", self.addr)
    }

    /// Changes how later requests are answered.
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().expect("fault lock") = fault;
    }

    /// Requests read so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(mut stream: tokio::net::TcpStream, fault: Fault, requests: Arc<AtomicU64>) {
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
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return;
        }
        Fault::Raw(bytes) => bytes,
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

/// A loopback URL where nothing listens.
pub fn refused_url() -> String {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    format!("http://{addr}/api/v1/introspect")
}
