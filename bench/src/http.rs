//! Just enough HTTP/1.1 over tokio sockets for the driver: a keep-alive
//! client, and the request reader of the fake endpoint and the outage proxy.
//!
//! Hand-written rather than a client library because the driver needs exact
//! control of its connections: 200 sockets opened and warmed before a burst,
//! requests written back to back on them, and a proxy that resets them.

use std::{io, net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

/// No single exchange of the driver may take longer: a hung server fails the
/// run instead of stalling it.
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(15);

/// Heads and bodies larger than these are not what any server here sends.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 1024 * 1024;

/// An answer: the status and the body.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One keep-alive connection to a server on loopback.
pub struct Conn {
    stream: BufReader<TcpStream>,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let stream = within(TcpStream::connect(addr)).await??;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream: BufReader::new(stream),
        })
    }

    /// Writes a request without waiting for its answer.
    pub async fn send(&mut self, request: &[u8]) -> io::Result<()> {
        within(self.stream.get_mut().write_all(request)).await?
    }

    /// Reads the next answer on the connection.
    pub async fn receive(&mut self) -> io::Result<Response> {
        within(read_response(&mut self.stream)).await?
    }

    /// A GET, with a bearer token when given.
    pub async fn get(&mut self, path: &str, bearer: Option<&str>) -> io::Result<Response> {
        self.send(&get_request(path, bearer)).await?;
        self.receive().await
    }
}

/// The bytes of a POST request with a JSON body.
pub fn post_json_request(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The bytes of a GET request.
pub fn get_request(path: &str, bearer: Option<&str>) -> Vec<u8> {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    if let Some(token) = bearer {
        request.push_str("Authorization: Bearer ");
        request.push_str(token);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.into_bytes()
}

/// A GET on a fresh connection, for occasional look-ups like `/stats`.
pub async fn get_once(addr: SocketAddr, path: &str) -> io::Result<Response> {
    Conn::connect(addr).await?.get(path, None).await
}

pub async fn within<F: std::future::Future>(future: F) -> io::Result<F::Output> {
    tokio::time::timeout(EXCHANGE_TIMEOUT, future)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer within 15 s"))
}

/// The head of a message: its first line and the headers that matter here.
struct Head {
    first_line: String,
    content_length: Option<usize>,
    chunked: bool,
}

/// Reads a head; `None` on a clean end of the stream before it.
async fn read_head<R: AsyncBufReadExt + Unpin>(reader: &mut R) -> io::Result<Option<Head>> {
    let mut first_line = String::new();
    if reader.read_line(&mut first_line).await? == 0 {
        return Ok(None);
    }
    let mut head = Head {
        first_line: first_line.trim_end().to_owned(),
        content_length: None,
        chunked: false,
    };
    let mut size = first_line.len();
    loop {
        let mut line = String::new();
        let read = reader.read_line(&mut line).await?;
        size += read;
        if read == 0 {
            return Err(broken("the stream ended inside a head"));
        }
        if size > MAX_HEAD {
            return Err(broken("head too large"));
        }
        let line = line.trim_end();
        if line.is_empty() {
            return Ok(Some(head));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(broken("a header line without a colon"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let length = value
                .parse()
                .map_err(|_| broken("content-length is not a number"))?;
            if length > MAX_BODY {
                return Err(broken("body too large"));
            }
            head.content_length = Some(length);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
}

async fn read_body<R: AsyncBufReadExt + Unpin>(reader: &mut R, head: &Head) -> io::Result<Vec<u8>> {
    if head.chunked {
        let mut body = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| broken("a chunk size that is not hex"))?;
            if body.len() + size > MAX_BODY {
                return Err(broken("body too large"));
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..]).await?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf).await?;
            if size == 0 {
                return Ok(body);
            }
        }
    }
    let mut body = vec![0; head.content_length.unwrap_or(0)];
    reader.read_exact(&mut body).await?;
    Ok(body)
}

async fn read_response<R: AsyncBufReadExt + Unpin>(reader: &mut R) -> io::Result<Response> {
    let head = read_head(reader)
        .await?
        .ok_or_else(|| broken("the connection closed before an answer"))?;
    let status = head
        .first_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| broken("no status in the answer"))?;
    let body = read_body(reader, &head).await?;
    Ok(Response { status, body })
}

/// Reads one request and returns its body; `None` when the client closed the
/// connection between requests.
pub async fn read_request<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
) -> io::Result<Option<Vec<u8>>> {
    match read_head(reader).await? {
        None => Ok(None),
        Some(head) => read_body(reader, &head).await.map(Some),
    }
}

fn broken(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_sized_and_chunked_answers() {
        let raw: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloHTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let mut reader = BufReader::new(raw);
        let first = read_response(&mut reader).await.unwrap();
        assert_eq!((first.status, first.body.as_slice()), (200, &b"hello"[..]));
        let second = read_response(&mut reader).await.unwrap();
        assert_eq!(
            (second.status, second.body.as_slice()),
            (401, &b"abcde"[..])
        );
        assert!(read_response(&mut reader).await.is_err());
    }

    #[tokio::test]
    async fn reads_requests_until_the_client_closes() {
        let raw: &[u8] = b"POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}GET / HTTP/1.1\r\n\r\n";
        let mut reader = BufReader::new(raw);
        assert_eq!(
            read_request(&mut reader).await.unwrap(),
            Some(b"{}".to_vec())
        );
        assert_eq!(read_request(&mut reader).await.unwrap(), Some(Vec::new()));
        assert_eq!(read_request(&mut reader).await.unwrap(), None);
    }
}
