//! Opening and closing a bare client connection for the throughput modes: TCP connect
//! from a chosen source address, our own opening handshake (request built and response
//! checked by `wshd_proto::handshake`), and a closing handshake with 1000.
//!
//! After the handshake the caller owns the `TcpStream` and writes pre-built frames
//! (`frames`) itself. This module does not frame, mask or parse messages.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use wshd_proto::HandshakeLimits;
use wshd_proto::handshake::{ClientRequest, generate_key, parse_response, validate_response};

use crate::connect::Target;
use crate::frames::{self, EchoReader};

/// Time allowed for connect plus handshake, and for the server's close after ours.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A connection whose opening handshake succeeded.
pub struct Opened {
    /// The socket, positioned after the server's 101 response.
    pub stream: TcpStream,
    /// Bytes the server sent after its response head (frames already on their way).
    pub leftover: Vec<u8>,
}

/// Connects to `target` from `source` (or an address the OS picks) and performs the
/// opening handshake; no subprotocol or extension is offered.
pub async fn open(target: &Target, source: Option<IpAddr>) -> io::Result<Opened> {
    tokio::time::timeout(TIMEOUT, handshake(target, source))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no handshake within 10 s"))?
}

async fn handshake(target: &Target, source: Option<IpAddr>) -> io::Result<Opened> {
    let socket = if target.addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let mut stream = socket.connect(target.addr).await?;
    stream.set_nodelay(true)?;
    let key = generate_key(key_bytes());
    let request = ClientRequest {
        host: target.host.clone(),
        resource: target.resource.clone(),
        key: key.clone(),
        ..ClientRequest::default()
    };
    let bytes = request.to_bytes().map_err(|e| invalid(format!("bad request header: {e}")))?;
    stream.write_all(&bytes).await?;
    let limits = HandshakeLimits::default();
    let mut buf = Vec::with_capacity(512);
    loop {
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection during the opening handshake",
            ));
        }
        if let Some((response, used)) =
            parse_response(&buf, &limits).map_err(|e| invalid(e.to_string()))?
        {
            validate_response(&response, &key, &[]).map_err(|e| invalid(e.to_string()))?;
            return Ok(Opened { stream, leftover: buf.split_off(used) });
        }
    }
}

/// Sends our close (1000), reads until the server's close frame arrives (discarding
/// echoes still in flight through `reader`), and returns the server's status code.
pub async fn close(stream: &mut TcpStream, reader: &mut EchoReader) -> io::Result<Option<u16>> {
    let run = async {
        stream.write_all(&frames::close_1000()).await?;
        let mut buf = vec![0; 16 * 1024];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed the TCP connection without a close frame",
                ));
            }
            if let Some(code) = reader.feed(&buf[..n]).map_err(invalid)?.close {
                return Ok(code);
            }
        }
    };
    tokio::time::timeout(TIMEOUT, run)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no close frame within 10 s"))?
}

/// 16 bytes for a `Sec-WebSocket-Key`: unique per connection, not secret (a benchmark
/// client only needs the server to accept it).
fn key_bytes() -> [u8; 16] {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0x5eed_0fb3_c4d5_e6f7);
    let n = NEXT.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    let mut out = [0; 16];
    out[..8].copy_from_slice(&n.to_le_bytes());
    out[8..].copy_from_slice(&(!n).rotate_left(17).to_le_bytes());
    out
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// Opens `n` connections with at most `in_flight` attempts at a time, connection `i` from
/// `sources[i % sources.len()]`; returns them in attempt order, and the failures counted
/// by message.
pub async fn open_all(
    target: &Target,
    n: usize,
    sources: &[Option<IpAddr>],
    in_flight: usize,
) -> (Vec<Opened>, std::collections::BTreeMap<String, usize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (target, sources) = (Arc::new(target.clone()), Arc::new(sources.to_vec()));
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..in_flight.clamp(1, n.max(1)) {
        let (target, sources, next) = (target.clone(), sources.clone(), next.clone());
        workers.spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return done;
                }
                done.push((i, open(&target, sources[i % sources.len()]).await));
            }
        });
    }
    let mut all = Vec::with_capacity(n);
    while let Some(joined) = workers.join_next().await {
        all.extend(joined.expect("connect worker panicked"));
    }
    all.sort_unstable_by_key(|(i, _)| *i);
    let mut errors = std::collections::BTreeMap::new();
    let mut opened = Vec::with_capacity(n);
    for (_, result) in all {
        match result {
            Ok(o) => opened.push(o),
            Err(e) => *errors.entry(format!("open: {e}")).or_insert(0) += 1,
        }
    }
    (opened, errors)
}
