//! A WebSocket client on the same core: enough for tests, benchmarks and the echo client.
//!
//! [`connect`] opens a TCP connection (optionally from a chosen local address, so a load
//! generator can spread connections over 127.0.0.0/8), performs the client side of the
//! opening handshake and returns a client-role [`WebSocket`], over TLS when
//! [`ClientConfig::tls`] is set (`wss://`). It does not follow redirects or retry, and
//! trusts no CA by default: a `wss://` client names its roots in [`ClientTls`]. With
//! [`ClientConfig::hybi00`] it speaks HyBi 00 instead, for legacy servers (`hybi00.rs`).

mod hybi00;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
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
    /// Speak TLS (`wss://`) with this configuration (default: plain TCP).
    pub tls: Option<ClientTls>,
    /// Speak HyBi 00 (hixie-76) instead of RFC 6455, to a legacy server (default: off).
    /// The first of `protocols` is sent as its one subprotocol; `extensions` and
    /// `headers` are not sent, and only text messages can be sent.
    pub hybi00: bool,
}

/// The TLS side of a `wss://` client: which CAs it trusts, the certificate it presents
/// if any, and the name it checks the server's certificate against.
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// The rustls client configuration.
    pub config: Arc<rustls::ClientConfig>,
    /// The name sent as SNI and verified against the server's certificate. Default
    /// (`None`): the host of the `Host` header (or URL) without its port, else the
    /// IP address connected to.
    pub server_name: Option<ServerName<'static>>,
}

impl ClientTls {
    /// TLS 1.2 and 1.3 trusting the CA certificates `roots`, presenting `identity` (a
    /// certificate chain and its key) when the server asks for a client certificate.
    pub fn new(
        roots: &[CertificateDer<'static>],
        identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    ) -> Result<ClientTls, rustls::Error> {
        let mut store = rustls::RootCertStore::empty();
        for root in roots {
            store.add(root.clone())?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_root_certificates(store);
        let config = match identity {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key)?,
            None => builder.with_no_client_auth(),
        };
        Ok(ClientTls { config: Arc::new(config), server_name: None })
    }
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
            tls: None,
            hybi00: false,
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

/// Connects to a `ws://host:port/path` or `wss://host:port/path` URL (`wss` needs
/// [`ClientConfig::tls`]).
pub async fn connect_url(
    url: &str,
    config: &ClientConfig,
) -> Result<(WebSocket, ClientAccepted), Error> {
    let invalid = || {
        Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not a ws:// or wss:// URL: {url}"),
        ))
    };
    let (rest, default_port) = match url.strip_prefix("wss://") {
        Some(rest) if config.tls.is_some() => (rest, 443),
        Some(_) => {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{url}: a wss:// URL needs ClientConfig::tls (the CAs to trust)"),
            )));
        }
        None => (url.strip_prefix("ws://").ok_or_else(invalid)?, 80),
    };
    let (authority, resource) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let with_port = if authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        authority.to_owned()
    } else {
        format!("{authority}:{default_port}")
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
    let mut io = match &config.tls {
        None => Transport::Tcp(stream),
        Some(tls) => {
            let name = tls_server_name(tls, host, addr)?;
            let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
            Transport::Tls(Box::new(connector.connect(name, stream).await?.into()))
        }
    };

    let mut rng = StdRng::from_os_rng();
    if config.hybi00 {
        // Boxed: a rarely used path, kept out of every RFC 6455 handshake's future.
        return Box::pin(hybi00::handshake(io, addr, host, resource, config, rng)).await;
    }
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
    let bytes = request.to_bytes().map_err(invalid_request)?;
    io.write_all(&bytes).await?;
    io.flush().await?;

    let mut buf = Vec::with_capacity(1024);
    let (response, used) = loop {
        read_more(&mut io, &mut buf).await?;
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
    Ok((WebSocket::new(io, conn, info, client_timing(), None), accepted))
}

/// A client socket's lingering and write batching.
fn client_timing() -> Arc<Timing> {
    Arc::new(Timing { linger: Duration::from_secs(2), write_high_water: 64 * 1024 })
}

/// A request header we were asked to send that is not valid HTTP.
fn invalid_request(e: wshd_proto::handshake::InvalidHeader) -> Error {
    Error::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("invalid client request header: {e}"),
    ))
}

/// Reads more of the server's answer into `buf`; the end of the stream is an error.
async fn read_more(io: &mut Transport, buf: &mut Vec<u8>) -> Result<(), Error> {
    if buf.len() == buf.capacity() {
        buf.reserve(4096);
    }
    if io.read_buf(buf).await? == 0 {
        return Err(Error::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "server closed the connection during the opening handshake",
        )));
    }
    Ok(())
}

/// The name a TLS client asks for and verifies: the configured one, else the `Host`
/// without its port, else the address connected to.
fn tls_server_name(
    tls: &ClientTls,
    host: Option<&str>,
    addr: SocketAddr,
) -> Result<ServerName<'static>, Error> {
    if let Some(name) = &tls.server_name {
        return Ok(name.clone());
    }
    let Some(host) = host else { return Ok(ServerName::IpAddress(addr.ip().into())) };
    let bare = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host
            .rsplit_once(':')
            .map_or(host, |(h, p)| if p.parse::<u16>().is_ok() { h } else { host }),
    };
    ServerName::try_from(bare.to_owned()).map_err(|e| {
        Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{host:?} is not a valid TLS server name: {e}"),
        ))
    })
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
