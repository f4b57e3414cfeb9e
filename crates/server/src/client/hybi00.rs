//! The client side of HyBi 00 (hixie-76), for [`super::ClientConfig::hybi00`]: the
//! Key1/Key2 challenge, checking the server's 101 and its 16-byte answer, and a
//! client-role connection on HyBi 00's frames. Not an RFC 6455 client (that is
//! `mod.rs`), and it offers no extensions.

use rand::Rng;
use rand::rngs::StdRng;
use std::net::SocketAddr;
use tokio::io::AsyncWriteExt;
use wshd_proto::framing::Hybi00Framing;
use wshd_proto::handshake::hybi00::{ClientChallenge, client_request, validate_client_response};
use wshd_proto::handshake::{ClientAccepted, HandshakeError, parse_response};
use wshd_proto::{Connection, Role};

use super::{ClientConfig, client_timing, invalid_request, read_more};
use crate::error::Error;
use crate::transport::Transport;
use crate::websocket::{Info, WebSocket};

/// Sends the HyBi 00 request on `io`, checks the answer, and returns the open socket.
pub(super) async fn handshake(
    mut io: Transport,
    addr: SocketAddr,
    host: Option<&str>,
    resource: &str,
    config: &ClientConfig,
    mut rng: StdRng,
) -> Result<(WebSocket, ClientAccepted), Error> {
    let challenge = ClientChallenge::new(|n| rng.random_range(0..n));
    let host = host.map_or_else(|| addr.to_string(), str::to_owned);
    let protocol = config.protocols.first().map(String::as_str);
    let request = client_request(&host, resource, config.origin.as_deref(), protocol, &challenge)
        .map_err(invalid_request)?;
    io.write_all(&request).await?;
    io.flush().await?;

    let mut buf = Vec::with_capacity(1024);
    let (response, used) = loop {
        if let Some(parsed) =
            parse_response(&buf, &config.handshake_limits).map_err(Error::Handshake)?
        {
            break parsed;
        }
        read_more(&mut io, &mut buf).await?;
    };
    let protocol = validate_client_response(&response).map_err(Error::Handshake)?;
    // The answer to the challenge follows the head.
    while buf.len() < used + 16 {
        read_more(&mut io, &mut buf).await?;
    }
    if buf[used..used + 16] != challenge.expected {
        return Err(Error::Handshake(HandshakeError::new(
            101,
            "the server's answer to the HyBi 00 challenge is wrong",
        )));
    }
    let framing = Box::new(Hybi00Framing::new(config.limits));
    let mut conn = Connection::with_framing(Role::Client, config.limits, framing);
    conn.set_close_timeout(Some(config.close_timeout));
    conn.receive_data(&buf[used + 16..]);
    let info = Info::new(resource.to_owned(), protocol.clone(), None, None, addr);
    let accepted = ClientAccepted { protocol, extensions: None };
    Ok((WebSocket::new(io, conn, info, client_timing(), None), accepted))
}
