//! WebSocket frames (RFC 6455 §5): opcodes, the frame header and masking.
//!
//! This module encodes and parses single frame headers and masks payloads. It does not
//! know about messages, fragmentation rules or the closing handshake: those live in
//! [`crate::connection`], which drives these pieces.

mod header;
pub mod mask;

pub use header::{FrameHeader, MAX_HEADER_LEN};

/// A frame opcode (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation = 0x0,
    /// 0x1: first frame of a text message.
    Text = 0x1,
    /// 0x2: first frame of a binary message.
    Binary = 0x2,
    /// 0x8: connection close.
    Close = 0x8,
    /// 0x9: ping.
    Ping = 0x9,
    /// 0xA: pong.
    Pong = 0xA,
}

impl OpCode {
    /// The opcode for a 4-bit value, or `None` for the values RFC 6455 reserves.
    pub fn from_u8(v: u8) -> Option<OpCode> {
        Some(match v {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// Control frames are those whose opcode has the high bit set (§5.5).
    pub fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}
