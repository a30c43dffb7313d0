//! The API under test and the requests the tests send it: a server on
//! loopback, the HTTP client, [`ask`] (status, challenge, headers, body)
//! and [`raw_request`] for what no well-behaved client sends.

use std::{
    net::{SocketAddr, TcpListener as StdListener},
    time::Duration,
};

use actix_web::{
    body::MessageBody,
    dev::{ServerHandle, ServiceFactory, ServiceRequest, ServiceResponse},
    web, App, HttpServer,
};
use maskinporten_actix::Maskinporten;
use reqwest::{
    header::{HeaderMap, WWW_AUTHENTICATE},
    StatusCode,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An API under test, served over real HTTP on 127.0.0.1.
pub struct TestApi {
    base: String,
    addr: SocketAddr,
    handle: ServerHandle,
}

impl TestApi {
    /// Serves `configure` with `maskinporten` registered as app data (or no
    /// handle at all, with `None`), on one worker. Call from within an actix
    /// runtime.
    pub fn start<F>(maskinporten: Option<Maskinporten>, configure: F) -> TestApi
    where
        F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
    {
        TestApi::serve(1, move || {
            let app = App::new().configure(configure.clone());
            match maskinporten.clone() {
                Some(maskinporten) => app.app_data(maskinporten),
                None => app,
            }
        })
    }

    /// Serves the apps `factory` makes, on `workers` workers: for a test
    /// that wraps the whole `App` or spreads requests over workers. Call
    /// from within an actix runtime.
    pub fn serve<F, T, B>(workers: usize, factory: F) -> TestApi
    where
        F: Fn() -> App<T> + Send + Clone + 'static,
        T: ServiceFactory<
                ServiceRequest,
                Config = (),
                Response = ServiceResponse<B>,
                Error = actix_web::Error,
                InitError = (),
            > + 'static,
        B: MessageBody + 'static,
    {
        let listener = StdListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let server = HttpServer::new(factory)
            .workers(workers)
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

/// What a test reads of an answer: its status, its `WWW-Authenticate`
/// challenge, its headers, and its body as text and as JSON
/// (`Value::Null` when it is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub challenge: Option<String>,
    pub headers: HeaderMap,
    pub text: String,
    pub body: serde_json::Value,
}

impl Answer {
    /// Reads all of `response`.
    pub async fn read(response: reqwest::Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let challenge = headers
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().expect("a challenge in visible ASCII").to_owned());
        let text = response.text().await.expect("the body");
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        Answer {
            status,
            challenge,
            headers,
            text,
            body,
        }
    }

    /// Everything a caller sees, as text: the status, each header line, the
    /// body.
    pub fn seen(&self) -> String {
        let mut text = format!("{}\n", self.status);
        for (name, value) in &self.headers {
            text.push_str(&format!(
                "{name}: {}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        text.push_str(&self.text);
        text
    }

    /// The one value of header `name` as text; `None` when it is absent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("a header in visible ASCII"))
    }

    /// Asserts a consumer guard's refusal: 403 `access_denied` in JSON, and
    /// no challenge, since a new token would not help.
    #[track_caller]
    pub fn assert_access_denied(&self, what: &str) {
        assert_eq!(self.status, StatusCode::FORBIDDEN, "{what}: {}", self.text);
        assert_eq!(self.challenge, None, "{what}: a new token would not help");
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{what}"
        );
        assert_eq!(self.body["error"], "access_denied", "{what}");
        assert_eq!(
            self.body["error_description"], "the calling organisation may not use this resource",
            "{what}"
        );
    }

    /// Asserts the 503 of the rejection table: no challenge (not the
    /// caller's fault), a hint to retry, the fixed JSON body, never stored
    /// by a cache.
    #[track_caller]
    pub fn assert_unavailable(&self, what: &str) {
        assert_eq!(
            self.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{what}: {}",
            self.text
        );
        assert_eq!(self.challenge, None, "{what}: a 503 carries no challenge");
        assert_eq!(self.header("retry-after"), Some("1"), "{what}: Retry-After");
        assert_eq!(
            self.header("cache-control"),
            Some("no-store"),
            "{what}: Cache-Control"
        );
        assert_eq!(
            self.text,
            r#"{"error":"validator_unavailable","error_description":"the access token could not be validated right now"}"#,
            "{what}: body"
        );
    }

    /// The challenge's `error` attribute (`invalid_token`, ...), if any.
    pub fn error(&self) -> Option<&str> {
        let challenge = self.challenge.as_deref()?;
        let start = challenge.find("error=\"")? + "error=\"".len();
        let len = challenge[start..].find('"')?;
        Some(&challenge[start..start + len])
    }
}

impl TestApi {
    /// A GET of `path` with `token` as the bearer token: the request helper
    /// of every test that asks a guarded API.
    pub async fn ask(&self, path: &str, token: &str) -> Answer {
        ask(&self.url(path), Some(token)).await
    }

    /// A GET of `path` without any `Authorization` header.
    pub async fn ask_anonymously(&self, path: &str) -> Answer {
        ask(&self.url(path), None).await
    }

    /// A GET of `path` with one `Authorization` header per value (none, one,
    /// or several, as a misbehaving client sends them).
    pub async fn ask_with_authorizations(&self, path: &str, values: &[impl AsRef<str>]) -> Answer {
        let mut request = client().get(self.url(path));
        for value in values {
            request = request.header(reqwest::header::AUTHORIZATION, value.as_ref());
        }
        send(request).await
    }

    /// A GET of `path` with `header_lines` (each without its CRLF, sent
    /// byte for byte) on a raw connection: see [`raw_request`].
    pub async fn raw_get(&self, path: &str, header_lines: &[Vec<u8>]) -> RawResponse {
        let mut head = vec![
            format!("GET {path} HTTP/1.1").into_bytes(),
            format!("Host: {}", self.addr).into_bytes(),
        ];
        head.extend_from_slice(header_lines);
        raw_request(self.addr, &head).await
    }

    /// The status of [`ask`](Self::ask).
    pub async fn status(&self, path: &str, token: &str) -> StatusCode {
        self.ask(path, token).await.status
    }
}

/// Sends `request` (a `client()` request a GET of [`ask`] cannot express:
/// another method, a body, headers of the test's own) and reads the answer
/// whole.
pub async fn send(request: reqwest::RequestBuilder) -> Answer {
    Answer::read(request.send().await.expect("request")).await
}

/// A GET of `url`, with `token` as the bearer token when given, read whole.
pub async fn ask(url: &str, token: Option<&str>) -> Answer {
    let mut request = client().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    send(request).await
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
