//! Raw frames for the throughput modes: pre-built masked client frames, and a streaming
//! reader of the server's frames that counts whole echoed messages and checks each
//! against the payload that was sent.
//!
//! The generator must cost far less CPU than the server it loads, so these modes skip the
//! full protocol engine: every frame sent is the same bytes (one fixed masking key, as
//! uWS's `load_test` does), and the reader only decodes headers and compares payload
//! bytes in place, without copying or allocating. It is not a general WebSocket client:
//! no extensions, no sending of fragments, no UTF-8 validation (the server validates
//! what we send; what it echoes must equal it byte for byte). `wshd_server::client` is
//! the real client.

/// The masking key of every frame we send.
pub const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Opcode of a text frame.
pub const TEXT: u8 = 0x1;
/// Opcode of a binary frame.
pub const BINARY: u8 = 0x2;
const CONTINUATION: u8 = 0x0;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xa;

/// One final, masked client frame with `opcode` and `payload`.
pub fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(0x80 | opcode);
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&MASK);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i & 3]));
    out
}

/// Our close frame with status 1000.
pub fn close_1000() -> Vec<u8> {
    masked(CLOSE, &1000u16.to_be_bytes())
}

/// The payload every throughput mode sends: `size` bytes of printable ASCII, so the same
/// bytes are valid as text or binary.
pub fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'a' + (i % 26) as u8).collect()
}

/// What one call to [`EchoReader::feed`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fed {
    /// Whole messages that came back equal to the payload sent.
    pub messages: u64,
    /// The server's close frame, if it arrived: its status code, if it had one.
    pub close: Option<Option<u16>>,
}

/// Where the reader is inside the server's byte stream.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Collecting a frame header.
    Header,
    /// Inside a data frame's payload: bytes left, whether the frame ends its message.
    Data { left: u64, fin: bool },
    /// Inside a control frame's payload (skipped, or read for a close code).
    Control { opcode: u8, left: u64 },
}

/// Decodes the server's (unmasked) frames as they arrive and checks every message
/// against `expected` with `opcode`.
#[derive(Debug)]
pub struct EchoReader {
    expected: Vec<u8>,
    opcode: u8,
    state: State,
    head: [u8; 14],
    head_len: usize,
    /// Payload bytes of the current message seen so far (across fragments).
    offset: usize,
    in_message: bool,
    close_body: Vec<u8>,
}

impl EchoReader {
    /// A reader that expects every message to be `expected`, sent as `opcode`.
    pub fn new(expected: Vec<u8>, opcode: u8) -> EchoReader {
        EchoReader {
            expected,
            opcode,
            state: State::Header,
            head: [0; 14],
            head_len: 0,
            offset: 0,
            in_message: false,
            close_body: Vec::new(),
        }
    }

    /// Consumes bytes read from the server; fails on anything but exact echoes, pings,
    /// pongs and a close.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<Fed, String> {
        let mut fed = Fed::default();
        while !data.is_empty() {
            match self.state {
                State::Header => {
                    let want = self.header_len();
                    let take = (want - self.head_len).min(data.len());
                    self.head[self.head_len..self.head_len + take].copy_from_slice(&data[..take]);
                    self.head_len += take;
                    data = &data[take..];
                    // The length field's size is known once 2 bytes are in.
                    if self.head_len == want && self.header_len() == want {
                        self.start_frame()?;
                        self.finish_empty(&mut fed)?;
                    }
                }
                State::Data { left, fin } => {
                    let n = (left.min(data.len() as u64)) as usize;
                    let end = self.offset + n;
                    if end > self.expected.len() || data[..n] != self.expected[self.offset..end] {
                        return Err("echo differs from the message sent".to_owned());
                    }
                    self.offset = end;
                    data = &data[n..];
                    self.state = State::Data { left: left - n as u64, fin };
                    self.finish_empty(&mut fed)?;
                }
                State::Control { opcode, left } => {
                    let n = (left.min(data.len() as u64)) as usize;
                    if opcode == CLOSE {
                        self.close_body.extend_from_slice(&data[..n]);
                    }
                    data = &data[n..];
                    self.state = State::Control { opcode, left: left - n as u64 };
                    self.finish_empty(&mut fed)?;
                }
            }
        }
        Ok(fed)
    }

    /// Bytes of the header being collected: 2, or 4 / 10 once the length byte is known.
    fn header_len(&self) -> usize {
        if self.head_len < 2 {
            return 2;
        }
        match self.head[1] & 0x7f {
            126 => 4,
            127 => 10,
            _ => 2,
        }
    }

    fn start_frame(&mut self) -> Result<(), String> {
        let (b0, b1) = (self.head[0], self.head[1]);
        if b1 & 0x80 != 0 {
            return Err("the server sent a masked frame".to_owned());
        }
        if b0 & 0x70 != 0 {
            return Err("the server set RSV bits (no extension was negotiated)".to_owned());
        }
        let len = match b1 & 0x7f {
            126 => u16::from_be_bytes([self.head[2], self.head[3]]) as u64,
            127 => u64::from_be_bytes(self.head[2..10].try_into().expect("8 bytes")),
            n => n as u64,
        };
        self.head_len = 0;
        let (fin, opcode) = (b0 & 0x80 != 0, b0 & 0x0f);
        self.state = match opcode {
            CONTINUATION if self.in_message => State::Data { left: len, fin },
            o if o == self.opcode && !self.in_message => {
                self.in_message = true;
                self.offset = 0;
                State::Data { left: len, fin }
            }
            CLOSE | PING | PONG => {
                self.close_body.clear();
                State::Control { opcode, left: len }
            }
            o => return Err(format!("unexpected frame with opcode {o:#x} from the server")),
        };
        Ok(())
    }

    /// Ends the current frame if its payload is complete.
    fn finish_empty(&mut self, fed: &mut Fed) -> Result<(), String> {
        match self.state {
            State::Data { left: 0, fin } => {
                self.state = State::Header;
                if fin {
                    if self.offset != self.expected.len() {
                        return Err(format!(
                            "echo of {} bytes, {} were sent",
                            self.offset,
                            self.expected.len()
                        ));
                    }
                    self.in_message = false;
                    fed.messages += 1;
                }
            }
            State::Control { opcode, left: 0 } => {
                self.state = State::Header;
                if opcode == CLOSE {
                    let code = (self.close_body.len() >= 2)
                        .then(|| u16::from_be_bytes([self.close_body[0], self.close_body[1]]));
                    fed.close = Some(code);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An unmasked server frame.
    fn server(b0: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = masked(b0 & 0x0f, payload);
        f[0] = b0;
        f[1] &= 0x7f;
        let mask_at = f.len() - payload.len() - 4;
        f.drain(mask_at..mask_at + 4);
        let start = f.len() - payload.len();
        f[start..].copy_from_slice(payload);
        f
    }

    #[test]
    fn masked_frames_unmask_to_the_payload() {
        for size in [0, 20, 125, 126, 65535, 65536] {
            let p = payload(size);
            let f = masked(BINARY, &p);
            let head = match size {
                0..=125 => 2,
                126..=65535 => 4,
                _ => 10,
            };
            assert_eq!(f.len(), head + 4 + size);
            let body: Vec<u8> =
                f[head + 4..].iter().enumerate().map(|(i, b)| b ^ MASK[i & 3]).collect();
            assert_eq!(body, p);
        }
    }

    #[test]
    fn counts_echoes_split_at_every_byte() {
        let p = payload(300);
        let mut stream = server(0x82, &p);
        stream.extend(server(0x89, b"hi"));
        stream.extend(server(0x02, &p[..100]));
        stream.extend(server(0x80, &p[100..]));
        stream.extend(server(0x88, &1000u16.to_be_bytes()));
        for cut in 0..stream.len() {
            let mut r = EchoReader::new(p.clone(), BINARY);
            let a = r.feed(&stream[..cut]).unwrap();
            let b = r.feed(&stream[cut..]).unwrap();
            assert_eq!(a.messages + b.messages, 2, "cut at {cut}");
            assert_eq!(b.close.or(a.close), Some(Some(1000)));
        }
    }

    #[test]
    fn rejects_wrong_echoes() {
        let p = payload(20);
        let mut r = EchoReader::new(p.clone(), BINARY);
        assert!(r.feed(&server(0x81, &p)).is_err(), "text for binary");
        let mut r = EchoReader::new(p.clone(), BINARY);
        assert!(r.feed(&server(0x82, &p[..19])).is_err(), "short");
        let mut r = EchoReader::new(p.clone(), BINARY);
        let mut other = p.clone();
        other[7] ^= 1;
        assert!(r.feed(&server(0x82, &other)).is_err(), "changed byte");
        let mut r = EchoReader::new(p, BINARY);
        assert!(r.feed(&masked(BINARY, b"x")).is_err(), "masked");
    }
}
