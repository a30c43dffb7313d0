//! Servers inside the driver: a fake introspection endpoint for the memory
//! scenario, and a proxy that takes the real one down for the soak run.

use std::{
    io,
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering::Relaxed},
        Arc,
    },
    time::{SystemTime, UNIX_EPOCH},
};

use tokio::{
    io::{AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

use crate::http::read_request;

/// Answers every token `active: true` with the claims of a real Maskinporten
/// token (a unique `jti` and `client_id` each), without looking at it:
/// minting and verifying 100 000 RS256 tokens would take minutes, and the
/// memory scenario measures the cache, not the endpoint.
pub struct FakeIntrospection {
    pub addr: SocketAddr,
    pub answered: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl FakeIntrospection {
    pub async fn start() -> io::Result<FakeIntrospection> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let answered = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&answered);
        let task = tokio::spawn(async move {
            // Ends when the value is dropped (the task is aborted).
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_fake(stream, Arc::clone(&counter)));
            }
        });
        Ok(FakeIntrospection {
            addr,
            answered,
            task,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}/api/v1/introspect", self.addr)
    }
}

impl Drop for FakeIntrospection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_fake(stream: TcpStream, counter: Arc<AtomicU64>) {
    let _ = stream.set_nodelay(true);
    let mut stream = BufReader::new(stream);
    while let Ok(Some(_body)) = read_request(&mut stream).await {
        let n = counter.fetch_add(1, Relaxed);
        let answer = realistic_answer(n);
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            answer.len()
        );
        if stream.get_mut().write_all(head.as_bytes()).await.is_err()
            || stream.get_mut().write_all(answer.as_bytes()).await.is_err()
        {
            return;
        }
    }
}

/// An active introspection answer as Texas gives it for a Maskinporten
/// token: every claim of the token plus `active`.
pub fn realistic_answer(n: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    serde_json::json!({
        "active": true,
        "iss": "https://test.maskinporten.no/",
        "client_id": uuid_like(n.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        "client_amr": "private_key_jwt",
        "consumer": {"authority": "iso6523-actorid-upis", "ID": "0192:991825827"},
        "scope": "nav:helse/sykepenger/afp.read",
        "token_type": "Bearer",
        "exp": now + 3600,
        "iat": now,
        "jti": uuid_like(n),
    })
    .to_string()
}

/// A uuid-shaped (version 4 layout) identifier derived from `n`.
fn uuid_like(n: u64) -> String {
    let a = n.wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ 0x5851_f42d_4c95_7f2d;
    let b = a.rotate_left(29).wrapping_mul(0x94d0_49bb_1331_11eb);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

/// What the outage proxy does with connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Passes bytes both ways to the endpoint.
    Up,
    /// Closes every connection, open ones included, as a restarting sidecar
    /// does.
    Reset,
    /// Answers every request `500 Internal Server Error`.
    Failing,
}

/// A TCP proxy in front of the introspection endpoint that can be taken
/// down: the soak run's outage.
pub struct OutageProxy {
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    task: JoinHandle<()>,
}

impl OutageProxy {
    pub async fn start(upstream: SocketAddr) -> io::Result<OutageProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (mode, watcher) = watch::channel(Mode::Up);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let mode = *watcher.borrow();
                match mode {
                    Mode::Up => {
                        tokio::spawn(pipe(stream, upstream, watcher.clone()));
                    }
                    Mode::Reset => drop(stream),
                    Mode::Failing => {
                        tokio::spawn(fail(stream));
                    }
                }
            }
        });
        Ok(OutageProxy { addr, mode, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}/api/v1/introspect", self.addr)
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for OutageProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Passes one connection through until either side closes it or the mode
/// changes: a change drops both sockets, so that pooled connections do not
/// outlive an outage's start (and none opened during one survives it).
async fn pipe(mut client: TcpStream, upstream: SocketAddr, mut mode: watch::Receiver<Mode>) {
    // Marks the current mode seen, so that only a later change ends the pipe.
    if *mode.borrow_and_update() != Mode::Up {
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = mode.changed() => {}
    }
}

async fn fail(stream: TcpStream) {
    let mut stream = BufReader::new(stream);
    // One request, one answer, then the connection is closed.
    if let Ok(Some(_)) = read_request(&mut stream).await {
        let _ = stream
            .get_mut()
            .write_all(
                b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\n\
                  content-length: 2\r\nconnection: close\r\n\r\n{}",
            )
            .await;
    }
    let _ = stream.get_mut().shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_realistic_and_unique() {
        let a: serde_json::Value = serde_json::from_str(&realistic_answer(1)).unwrap();
        let b: serde_json::Value = serde_json::from_str(&realistic_answer(2)).unwrap();
        assert_eq!(a["active"], true);
        assert_ne!(a["jti"], b["jti"]);
        assert_eq!(a["jti"].as_str().unwrap().len(), 36);
        assert!(a["exp"].as_u64() > a["iat"].as_u64());
    }
}
