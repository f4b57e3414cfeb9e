//! Encoding and parsing of one frame header (RFC 6455 §5.2).
//!
//! Parsing here is purely syntactic: it reads the bits and the length. Whether the bits
//! are allowed (reserved bits, masking direction, control-frame rules, limits) is decided
//! by the connection, which knows the role and the negotiated extensions.

use crate::error::ProtocolError;

/// The longest possible header: 2 bytes, an 8-byte extended length and a 4-byte mask key.
pub const MAX_HEADER_LEN: usize = 14;

/// One frame header, as found on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the final fragment of a message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3 as the three low bits (RSV1 = 0b100).
    pub rsv: u8,
    /// The raw 4-bit opcode; see [`super::OpCode::from_u8`].
    pub opcode: u8,
    /// The masking key, present when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Parses a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` is too short to hold the whole header, and the
    /// header with its length in bytes otherwise. The only syntactic error is a 64-bit
    /// length with its top bit set (§5.2). Non-minimal length encodings are accepted:
    /// RFC 6455 asks senders to use the minimal form but defines no failure for readers.
    pub fn parse(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        let [b0, b1, rest @ ..] = buf else {
            return Ok(None);
        };
        let masked = b1 & 0x80 != 0;
        let (payload_len, len_bytes) = match b1 & 0x7f {
            126 => match rest {
                [a, b, ..] => (u64::from(u16::from_be_bytes([*a, *b])), 2),
                _ => return Ok(None),
            },
            127 => match rest.get(..8) {
                Some(b) => {
                    let len = u64::from_be_bytes(b.try_into().expect("8 bytes"));
                    if len >> 63 != 0 {
                        return Err(ProtocolError::InvalidLength);
                    }
                    (len, 8)
                }
                None => return Ok(None),
            },
            n => (u64::from(n), 0),
        };
        let mut used = 2 + len_bytes;
        let mask = if masked {
            let Some(key) = buf.get(used..used + 4) else {
                return Ok(None);
            };
            used += 4;
            Some(key.try_into().expect("4 bytes"))
        } else {
            None
        };
        let header = FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0x7,
            opcode: b0 & 0x0f,
            mask,
            payload_len,
        };
        Ok(Some((header, used)))
    }

    /// Appends the encoded header to `out`, using the minimal length encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut buf = [0u8; MAX_HEADER_LEN];
        let n = self.encode_into(&mut buf);
        out.extend_from_slice(&buf[..n]);
    }

    /// Writes the encoded header to `buf` and returns its length.
    pub fn encode_into(&self, buf: &mut [u8; MAX_HEADER_LEN]) -> usize {
        buf[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0x7) << 4) | (self.opcode & 0x0f);
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut n = match self.payload_len {
            len @ 0..=125 => {
                buf[1] = mask_bit | len as u8;
                2
            }
            len @ 126..=0xffff => {
                buf[1] = mask_bit | 126;
                buf[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            len => {
                buf[1] = mask_bit | 127;
                buf[2..10].copy_from_slice(&len.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            buf[n..n + 4].copy_from_slice(&key);
            n += 4;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(len: u64, mask: Option<[u8; 4]>) -> FrameHeader {
        FrameHeader { fin: true, rsv: 0, opcode: 2, mask, payload_len: len }
    }

    #[test]
    fn rfc6455_5_2_length_encodings_round_trip_at_every_boundary() {
        for len in [0, 1, 125, 126, 127, 0xffff, 0x1_0000, 1 << 32, (1 << 63) - 1] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let h = header(len, mask);
                let mut out = Vec::new();
                h.encode(&mut out);
                let expected = 2 + if len < 126 {
                    0
                } else if len <= 0xffff {
                    2
                } else {
                    8
                };
                assert_eq!(out.len(), expected + if mask.is_some() { 4 } else { 0 });
                assert_eq!(FrameHeader::parse(&out), Ok(Some((h, out.len()))));
                for cut in 0..out.len() {
                    assert_eq!(FrameHeader::parse(&out[..cut]), Ok(None), "len {len} cut {cut}");
                }
            }
        }
    }

    #[test]
    fn rfc6455_5_2_bits_are_read_from_their_positions() {
        let (h, n) = FrameHeader::parse(&[0x71, 0x05]).unwrap().unwrap();
        assert_eq!(n, 2);
        assert_eq!((h.fin, h.rsv, h.opcode, h.payload_len), (false, 0b111, 1, 5));
    }

    #[test]
    fn rfc6455_5_2_64_bit_length_with_msb_set_is_invalid() {
        let buf = [0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(FrameHeader::parse(&buf), Err(ProtocolError::InvalidLength));
    }

    #[test]
    fn rfc6455_5_2_non_minimal_length_is_accepted() {
        let buf = [0x82, 126, 0, 5];
        assert_eq!(FrameHeader::parse(&buf).unwrap().unwrap().0.payload_len, 5);
    }
}
