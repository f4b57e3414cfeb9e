//! A WebSocket client on the same core: enough for tests, benchmarks and the echo client.
//!
//! [`connect`] opens a TCP connection (optionally from a chosen local address, so a load
//! generator can spread connections over 127.0.0.0/8), performs the client side of the
//! opening handshake and returns a client-role [`WebSocket`]. It does not follow
//! redirects, speak TLS yet, or retry.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use wshd_proto::deflate::{
    Compression, DeflateConfig, Negotiated, PERMESSAGE_DEFLATE, accept_response,
};
use wshd_proto::handshake::{
    ClientAccepted, ClientRequest, HandshakeError, generate_key, parse_response, validate_response,
};
use wshd_proto::handshake::{ExtensionOffer, parse_extensions};
use wshd_proto::{Connection, HandshakeLimits, Limits, MaskSource};

use crate::error::Error;
use crate::transport::Transport;
use crate::websocket::{Info, Timing, WebSocket};

/// Options of [`connect`]; `ClientConfig::default()` documents each default.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Frame and message limits for what the server sends (default 16 MiB each).
    pub limits: Limits,
    /// Limits on the server's response head (default 16 KiB, 100 headers).
    pub handshake_limits: HandshakeLimits,
    /// Subprotocols to offer (default none).
    pub protocols: Vec<String>,
    /// The `Sec-WebSocket-Extensions` offer (default none). If the server accepts
    /// `permessage-deflate`, messages are compressed and inflated from then on, e.g. with
    /// `Some("permessage-deflate; client_max_window_bits".into())`.
    pub extensions: Option<String>,
    /// Level and memory level of our compressor when permessage-deflate is accepted; the
    /// window comes from the negotiation (default: `DeflateConfig::default()`).
    pub deflate: DeflateConfig,
    /// The `Origin` header (default none).
    pub origin: Option<String>,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// Local address to connect from (default: chosen by the OS).
    pub local_addr: Option<IpAddr>,
    /// Time allowed for TCP connect plus the opening handshake (default 10 s).
    pub handshake_timeout: Duration,
    /// Time to wait for the server's close frame after ours (default 10 s).
    pub close_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            limits: Limits::default(),
            handshake_limits: HandshakeLimits::default(),
            protocols: Vec::new(),
            extensions: None,
            deflate: DeflateConfig::default(),
            origin: None,
            headers: Vec::new(),
            local_addr: None,
            handshake_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(10),
        }
    }
}

/// Masking keys from a cryptographically secure generator seeded by the OS (§10.3).
struct RandomMasks(StdRng);

impl MaskSource for RandomMasks {
    fn next_mask(&mut self) -> [u8; 4] {
        self.0.random()
    }
}

/// Connects to `addr` and opens a WebSocket on `resource` (e.g. `/echo?x=1`).
///
/// `host` is the `Host` header; `None` uses `addr`. Returns the socket and what the
/// server accepted (subprotocol, extensions).
pub async fn connect(
    addr: SocketAddr,
    host: Option<&str>,
    resource: &str,
    config: &ClientConfig,
) -> Result<(WebSocket, ClientAccepted), Error> {
    tokio::time::timeout(config.handshake_timeout, handshake(addr, host, resource, config))
        .await
        .map_err(|_| Error::Timeout)?
}

/// Connects to a `ws://host:port/path` URL.
pub async fn connect_url(
    url: &str,
    config: &ClientConfig,
) -> Result<(WebSocket, ClientAccepted), Error> {
    let invalid = || {
        Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not a ws:// URL: {url}"),
        ))
    };
    let rest = url.strip_prefix("ws://").ok_or_else(invalid)?;
    let (authority, resource) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let with_port = if authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let addr = tokio::net::lookup_host(with_port).await?.next().ok_or_else(invalid)?;
    connect(addr, Some(authority), resource, config).await
}

async fn handshake(
    addr: SocketAddr,
    host: Option<&str>,
    resource: &str,
    config: &ClientConfig,
) -> Result<(WebSocket, ClientAccepted), Error> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    if let Some(ip) = config.local_addr {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = socket.connect(addr).await?;
    let _ = stream.set_nodelay(true);
    let mut io = Transport::Tcp(stream);

    let mut rng = StdRng::from_os_rng();
    let key = generate_key(rng.random());
    let request = ClientRequest {
        host: host.map_or_else(|| addr.to_string(), str::to_owned),
        resource: resource.to_owned(),
        key: key.clone(),
        origin: config.origin.clone(),
        protocols: config.protocols.clone(),
        extensions: config.extensions.clone(),
        headers: config.headers.clone(),
    };
    let bytes = request.to_bytes().map_err(|e| {
        Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("invalid client request header: {e}"),
        ))
    })?;
    io.write_all(&bytes).await?;

    let mut buf = Vec::with_capacity(1024);
    let (response, used) = loop {
        if buf.len() == buf.capacity() {
            buf.reserve(4096);
        }
        if io.read_buf(&mut buf).await? == 0 {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "server closed the connection during the opening handshake",
            )));
        }
        if let Some(parsed) =
            parse_response(&buf, &config.handshake_limits).map_err(Error::Handshake)?
        {
            break parsed;
        }
    };
    let accepted: ClientAccepted = validate_response(&response, &key, &config.protocols)
        .map_err(|e: HandshakeError| Error::Handshake(e))?;

    let compression =
        accepted_compression(accepted.extensions.as_deref(), config.extensions.as_deref())?;
    let mut conn = Connection::client(config.limits, Box::new(RandomMasks(rng)));
    if let Some(agreed) = compression {
        conn.set_compression(&Compression::PerMessage(agreed.for_client()), &config.deflate);
    }
    conn.set_close_timeout(Some(config.close_timeout));
    conn.receive_data(&buf[used..]);
    let info = Info::new(
        resource.to_owned(),
        accepted.protocol.clone(),
        response.headers.get_str("Sec-WebSocket-Extensions").map(str::to_owned),
        None,
        addr,
    );
    let timing = Timing { linger: Duration::from_secs(2), write_high_water: 64 * 1024 };
    Ok((WebSocket::new(io, conn, info, timing, None), accepted))
}

/// Checks the extensions the server accepted against what we offered (RFC 6455 §4.1: a
/// client MUST fail the connection on an extension it did not ask for) and returns the
/// permessage-deflate agreement, if any.
fn accepted_compression(
    accepted: Option<&[ExtensionOffer]>,
    offered: Option<&str>,
) -> Result<Option<Negotiated>, Error> {
    let refuse = |why: String| Error::Handshake(HandshakeError::new(101, why));
    let Some(accepted) = accepted.filter(|a| !a.is_empty()) else { return Ok(None) };
    let offered = offered.map(parse_extensions).transpose().ok().flatten().unwrap_or_default();
    match accepted {
        [one] if one.name == PERMESSAGE_DEFLATE && offered.iter().any(|o| o.name == one.name) => {
            accept_response(one).map(Some).ok_or_else(|| {
                refuse(format!("invalid permessage-deflate response: {:?}", one.params))
            })
        }
        _ => Err(refuse(format!(
            "server accepted extensions that were not offered or are not supported: {}",
            wshd_proto::handshake::format_extensions(accepted)
        ))),
    }
}
