//! Frames built and split by hand, for tests that talk to wshd as a raw peer.
//!
//! Written byte by byte, independent of wshd-proto's encoder and parser, so that a test
//! never checks the core with the core: a bug in `FrameHeader` cannot hide itself by
//! being on both ends. Not a codec: no validation, no compression, no limits. Beside them,
//! [`FixedMask`] for client cores that tests drive by hand.

use wshd_proto::MaskSource;

/// The masking key of hand-built client frames (RFC 6455 §5.7's example key).
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Masks every frame of a client [`Connection`](wshd_proto::Connection) with [`KEY`], so
/// tests that drive a client core by hand see fixed bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct FixedMask;

impl MaskSource for FixedMask {
    fn next_mask(&mut self) -> [u8; 4] {
        KEY
    }
}

/// The first byte of a frame: FIN and the opcode (no RSV bits).
pub fn first(fin: bool, opcode: u8) -> u8 {
    (u8::from(fin) << 7) | (opcode & 0x0f)
}

/// A frame whose first byte is `first` (FIN, RSV bits, opcode), with the shortest length
/// encoding for `payload`, masked with `key` when one is given.
pub fn frame(first: u8, payload: &[u8], key: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(first);
    let mask_bit = if key.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match key {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A frame as a client sends it: first byte `first`, masked with [`KEY`].
pub fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    frame(first, payload, Some(KEY))
}

/// The first whole frame at the start of `buf` (masked or not, any length): its first
/// byte, its unmasked payload, and how many bytes of `buf` it took. `None` while the
/// frame is incomplete.
pub fn split_frame(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let (&first, rest) = buf.split_first()?;
    let (&second, rest) = rest.split_first()?;
    let (len, rest) = match second & 0x7f {
        126 => (u64::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?)), &rest[2..]),
        127 => (u64::from_be_bytes(rest.get(..8)?.try_into().ok()?), &rest[8..]),
        n => (u64::from(n), rest),
    };
    let len = usize::try_from(len).ok()?;
    let (key, rest) = match second & 0x80 {
        0 => (None, rest),
        _ => (Some(<[u8; 4]>::try_from(rest.get(..4)?).ok()?), &rest[4..]),
    };
    let body = rest.get(..len)?;
    let payload = match key {
        Some(key) => body.iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect(),
        None => body.to_vec(),
    };
    Some((first, payload, buf.len() - rest.len() + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_of_every_length_encoding_split_back_into_what_was_built() {
        for len in [0, 1, 125, 126, 65_535, 65_536] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for key in [None, Some(KEY)] {
                let mut wire = frame(first(true, 2), &payload, key);
                assert_eq!(split_frame(&wire[..wire.len() - 1]), None, "incomplete at {len}");
                wire.push(0x81);
                let (head, body, used) = split_frame(&wire).expect("a whole frame");
                assert_eq!((head, used), (0x82, wire.len() - 1), "length {len}");
                assert!(body == payload, "payload of {len} bytes");
            }
        }
    }

    #[test]
    fn the_rfc_6455_masked_example_is_built_byte_for_byte() {
        // RFC 6455 §5.7: a single-frame masked text message "Hello".
        let wire = masked(first(true, 1), b"Hello");
        assert_eq!(wire, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }
}
