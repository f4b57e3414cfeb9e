//! Helpers shared by the integration tests: client frames, draining a connection, a
//! fixed masking key. Not tests themselves.

use wshd_proto::frame::FrameHeader;
use wshd_proto::frame::mask::extend_masked;
use wshd_proto::{Connection, Event, Limits, MessageKind, ProtocolError};

/// The masking key of every client frame in the tests (RFC 6455 §5.7's example key).
pub use wshd_testkit::wire::KEY;

/// A frame as a client sends it, masked with [`KEY`] by the crate's encoder.
pub fn client_frame(fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    FrameHeader { fin, rsv, opcode, mask: Some(KEY), payload_len: payload.len() as u64 }
        .encode(&mut out);
    extend_masked(&mut out, payload, KEY, 0);
    out
}

/// A server connection with the default limits.
pub fn server() -> Connection {
    Connection::server(Limits::default())
}

/// Every event the connection has ready.
pub fn events(c: &mut Connection) -> Vec<Result<Event, ProtocolError>> {
    std::iter::from_fn(|| c.next_event()).collect()
}

/// Everything the connection wants to send, marked as sent.
pub fn take_output(c: &mut Connection) -> Vec<u8> {
    let out = c.data_to_send().to_vec();
    c.advance_sent(out.len());
    out
}

/// A data event, for comparisons.
pub fn data(kind: MessageKind, bytes: &[u8], fin: bool) -> Result<Event, ProtocolError> {
    Ok(Event::Data { kind, data: bytes.to_vec(), fin })
}

pub use wshd_testkit::wire::FixedMask;
