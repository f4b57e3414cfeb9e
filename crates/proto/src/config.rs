//! Limits that bound what a peer can make the core allocate or parse.
//!
//! Every limit has a documented default and can be changed by the embedding server.
//! This module holds the values, and one rule shared by everyone who reassembles messages
//! ([`Limits::append_to_message`]: buffers grow, but never past the message limit). The
//! checks that refuse a peer live where the bytes are parsed.

/// Default maximum payload of one frame, and of one reassembled message: 16 MiB.
///
/// Autobahn|Testsuite's group 9 sends single messages of exactly 16 MiB, so this is the
/// smallest default that passes it.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;

/// Limits on frames and messages after the opening handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest payload accepted in a single frame. A larger declared length fails the
    /// connection with close code 1009 before any payload byte is buffered.
    pub max_frame_size: usize,
    /// Largest reassembled message. Exceeding it fails the connection with 1009.
    pub max_message_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
        }
    }
}

impl Limits {
    /// Appends `extra` to a message buffer, growing it like `Vec` does (doubling) but
    /// never to a capacity past `max_message_size`, so reassembling a message of the
    /// largest allowed size never reserves twice the limit.
    pub fn append_to_message(&self, buf: &mut Vec<u8>, extra: &[u8]) {
        let needed = buf.len() + extra.len();
        if needed > buf.capacity() {
            let target =
                needed.max(buf.capacity().saturating_mul(2)).min(self.max_message_size.max(needed));
            buf.reserve_exact(target - buf.len());
        }
        buf.extend_from_slice(extra);
    }
}

/// Limits on the HTTP head of the opening handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeLimits {
    /// Largest request or response head in bytes, request line and final CRLF included
    /// (default 16 KiB). A larger head is answered with 431.
    pub max_head_bytes: usize,
    /// Most header fields accepted (default 100, as Apache and hyper). More gives 431.
    pub max_headers: usize,
}

impl Default for HandshakeLimits {
    fn default() -> Self {
        HandshakeLimits { max_head_bytes: 16 * 1024, max_headers: 100 }
    }
}
