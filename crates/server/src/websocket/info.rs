//! What the opening handshake settled about a connection, kept for its life: the
//! resource, the agreed subprotocol and extensions, the handler's state and the peer's
//! address, laid out so an idle connection pays little for them. Not the handshake itself.

use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};

use super::HandlerState;

/// What the handshake settled, kept for the life of the connection.
#[derive(Debug)]
pub(crate) struct Info {
    pub(crate) resource: Box<str>,
    /// Subprotocol and extensions, boxed and present only when something was agreed:
    /// most connections have neither, and every idle connection pays for this struct.
    pub(crate) agreed: Option<Box<Agreed>>,
    peer: Peer,
}

/// The client's address in 16 bytes instead of `SocketAddr`'s 32: an IPv6 address is
/// boxed (every idle connection pays for this field, most peers are IPv4).
#[derive(Debug)]
enum Peer {
    V4(SocketAddrV4),
    V6(Box<SocketAddrV6>),
}

impl Peer {
    fn new(addr: SocketAddr) -> Peer {
        match addr {
            SocketAddr::V4(a) => Peer::V4(a),
            SocketAddr::V6(a) => Peer::V6(Box::new(a)),
        }
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Peer::V4(a) => SocketAddr::V4(*a),
            Peer::V6(a) => SocketAddr::V6(**a),
        }
    }
}

/// The subprotocol and `Sec-WebSocket-Extensions` value of the 101 response, and the
/// state the handler left for its transfer phase.
pub(crate) struct Agreed {
    pub(crate) protocol: Option<String>,
    pub(crate) extensions: Option<String>,
    pub(crate) state: Option<HandlerState>,
}

impl std::fmt::Debug for Agreed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agreed")
            .field("protocol", &self.protocol)
            .field("extensions", &self.extensions)
            .field("state", &self.state.is_some())
            .finish()
    }
}

impl Info {
    pub(crate) fn new(
        resource: String,
        protocol: Option<String>,
        extensions: Option<String>,
        state: Option<HandlerState>,
        peer_addr: SocketAddr,
    ) -> Info {
        let agreed = (protocol.is_some() || extensions.is_some() || state.is_some())
            .then(|| Box::new(Agreed { protocol, extensions, state }));
        Info { resource: resource.into_boxed_str(), agreed, peer: Peer::new(peer_addr) }
    }

    /// The peer's address.
    pub(crate) fn peer_addr(&self) -> SocketAddr {
        self.peer.addr()
    }
}
