//! A test double of a wire format, for showing the framing seam at work: text lines.
//!
//! [`LineFraming`] plugs into [`Connection::with_framing`](wshd_proto::Connection::with_framing)
//! like a real second format (HyBi 00) would. Its wire is deliberately unlike RFC 6455's
//! so that a test passing through it cannot be passing through RFC 6455 by accident:
//!
//! - a text message is its UTF-8 bytes followed by `\n` (no `\n` inside);
//! - a ping is `0x10`, its payload and `\n`; a pong `0x11`, its payload and `\n`;
//! - the close is the single byte `0x04`, with no status;
//! - there are no binary messages, and any other leading control byte is malformed.
//!
//! It reports each message piece as its bytes arrive (one piece per `receive` call), so
//! the connection's whole-message assembly is exercised too. It is not a protocol anyone
//! speaks.

use wshd_proto::Limits;
use wshd_proto::MessageKind;
use wshd_proto::connection::Event;
use wshd_proto::error::{ProtocolError, UsageError};
use wshd_proto::framing::{Control, Events, Framing};
use wshd_proto::utf8::Utf8Validator;

/// The byte that ends every message and control line.
pub const END: u8 = b'\n';
/// The byte that starts a ping line.
pub const PING: u8 = 0x10;
/// The byte that starts a pong line.
pub const PONG: u8 = 0x11;
/// The close, a byte on its own.
pub const CLOSE: u8 = 0x04;

/// What the parser is in the middle of.
#[derive(Debug)]
enum Line {
    /// Between lines.
    None,
    /// A text message: bytes so far, and their validation.
    Text { len: usize, utf8: Box<Utf8Validator> },
    /// A ping or a pong: its payload so far.
    Control(Control, Vec<u8>),
}

/// The line wire format, for one connection. See the module docs.
#[derive(Debug)]
pub struct LineFraming {
    limits: Limits,
    line: Line,
}

impl LineFraming {
    /// A parser and encoder holding messages to `limits.max_message_size`.
    pub fn new(limits: Limits) -> LineFraming {
        LineFraming { limits, line: Line::None }
    }

    /// `text` as a message on this wire.
    pub fn message(text: &str) -> Vec<u8> {
        let mut out = text.as_bytes().to_vec();
        out.push(END);
        out
    }
}

impl Framing for LineFraming {
    fn receive(&mut self, mut data: &[u8], events: &mut Events<'_>) {
        while !data.is_empty() && !events.done() {
            match &mut self.line {
                Line::None => {
                    let first = data[0];
                    if first >= 0x20 || first == b'\t' {
                        // The first byte of a message: parsed with the rest of it.
                        let utf8 = Box::new(Utf8Validator::new());
                        self.line = Line::Text { len: 0, utf8 };
                        continue;
                    }
                    data = &data[1..];
                    match first {
                        CLOSE => events.push(Event::Close(None)),
                        PING => self.line = Line::Control(Control::Ping, Vec::new()),
                        PONG => self.line = Line::Control(Control::Pong, Vec::new()),
                        END => events.push(Event::Data {
                            kind: MessageKind::Text,
                            data: Vec::new(),
                            fin: true,
                        }),
                        _ => {
                            events.fail(ProtocolError::MalformedFrame("control byte between lines"))
                        }
                    }
                }
                Line::Text { .. } => {
                    let used = self.receive_text(data, events);
                    data = &data[used..];
                }
                Line::Control(control, payload) => {
                    let end = data.iter().position(|&b| b == END);
                    let piece = &data[..end.unwrap_or(data.len())];
                    let len = payload.len() + piece.len();
                    if len > 125 {
                        events.fail(ProtocolError::ControlFrameTooLong(len as u64));
                        return;
                    }
                    payload.extend_from_slice(piece);
                    data = &data[piece.len()..];
                    if end.is_some() {
                        data = &data[1..];
                        let payload = std::mem::take(payload);
                        events.push(match control {
                            Control::Ping => Event::Ping(payload),
                            Control::Pong => Event::Pong(payload),
                        });
                        self.line = Line::None;
                    }
                }
            }
        }
    }

    fn in_progress(&self) -> bool {
        !matches!(self.line, Line::None)
    }

    fn read_hint(&self) -> usize {
        // A line's length is not known ahead: one byte at a time never passes its end.
        1
    }

    fn encode_data(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), UsageError> {
        if kind == MessageKind::Binary {
            return Err(UsageError::NotInFraming("binary messages"));
        }
        if data.contains(&END) {
            return Err(UsageError::NotInFraming("line breaks inside a message"));
        }
        out.extend_from_slice(data);
        if fin {
            out.push(END);
        }
        Ok(())
    }

    fn encode_control(
        &mut self,
        control: Control,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), UsageError> {
        if payload.contains(&END) {
            return Err(UsageError::NotInFraming("line breaks inside a ping"));
        }
        out.push(if control == Control::Ping { PING } else { PONG });
        out.extend_from_slice(payload);
        out.push(END);
        Ok(())
    }

    fn encode_close(&mut self, _code: Option<u16>, _reason: &str, out: &mut Vec<u8>) {
        out.push(CLOSE);
    }
}

impl LineFraming {
    /// Takes message bytes from `data` up to and including the line's end, reporting them
    /// as one piece; returns how many bytes it used.
    fn receive_text(&mut self, data: &[u8], events: &mut Events<'_>) -> usize {
        let Line::Text { len, utf8 } = &mut self.line else { unreachable!("in a text line") };
        let end = data.iter().position(|&b| b == END);
        let piece = &data[..end.unwrap_or(data.len())];
        *len += piece.len();
        if *len > self.limits.max_message_size {
            events.fail(ProtocolError::MessageTooLarge { max: self.limits.max_message_size });
            return data.len();
        }
        let fin = end.is_some();
        if utf8.feed(piece).is_err() || (fin && utf8.finish().is_err()) {
            events.fail(ProtocolError::InvalidUtf8);
            return data.len();
        }
        if !piece.is_empty() || fin {
            events.push(Event::Data { kind: MessageKind::Text, data: piece.to_vec(), fin });
        }
        if fin {
            self.line = Line::None;
            return piece.len() + 1;
        }
        piece.len()
    }
}
