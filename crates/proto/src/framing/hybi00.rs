//! HyBi 00's frames (draft-ietf-hybi-thewebsocketprotocol-00 §4.2 and §5.3), as a
//! [`Framing`] for [`Connection::with_framing`](crate::Connection::with_framing).
//!
//! The wire: a text message is `0x00`, its UTF-8 bytes and `0xFF`; the close is `0xFF
//! 0x00`. A frame whose type byte has the high bit set carries a length (7 bits a byte,
//! high bit set on all but the last) and is discarded, except `0xFF` with length 0, the
//! close; a frame of another type without the high bit runs to the next `0xFF` and is
//! discarded. There are no binary messages, fragments, pings, pongs or close codes.
//!
//! As the draft says, and as pywebsocket did, bytes of a text message that are not UTF-8
//! become U+FFFD: HyBi 00 has no way to fail a connection for them. Every frame counts
//! against [`Limits::max_message_size`], discarded ones too, so no frame can run on
//! without bound; a text message counts as delivered, its replacement characters
//! included. Not here: the opening handshake ([`crate::handshake::hybi00`]).

use crate::Limits;
use crate::connection::{Event, MessageKind};
use crate::error::{ProtocolError, UsageError};
use crate::framing::{Control, Events, Framing};

/// Starts a text message; any type byte without the high bit starts a frame that runs
/// to [`END`].
pub const TEXT: u8 = 0x00;
/// Ends a text message; as a type byte followed by a zero length, the close.
pub const END: u8 = 0xFF;
/// The close frame.
pub const CLOSE: [u8; 2] = [0xFF, 0x00];

/// What the parser is in the middle of.
#[derive(Debug)]
enum State {
    /// Between frames.
    Idle,
    /// A frame that runs to `END`: its bytes so far (kept only for a text message).
    Delimited { text: bool, len: usize, bytes: Vec<u8> },
    /// The length of a frame whose type byte has the high bit set.
    Length { frame_type: u8, length: usize },
    /// The rest of a discarded frame of known length.
    Skip { remaining: usize },
}

/// HyBi 00's framing, for one connection. See the module docs.
#[derive(Debug)]
pub struct Hybi00Framing {
    limits: Limits,
    state: State,
    /// Whether a text message we are sending has its `0x00` out and not its `0xFF`.
    sending: bool,
}

impl Hybi00Framing {
    /// A parser and encoder holding every frame to `limits.max_message_size`.
    pub fn new(limits: Limits) -> Hybi00Framing {
        Hybi00Framing { limits, state: State::Idle, sending: false }
    }
}

impl Framing for Hybi00Framing {
    fn receive(&mut self, mut data: &[u8], events: &mut Events<'_>) {
        while !data.is_empty() && !events.done() {
            match &mut self.state {
                State::Idle => {
                    let frame_type = data[0];
                    data = &data[1..];
                    self.state = if frame_type & 0x80 == 0 {
                        State::Delimited { text: frame_type == TEXT, len: 0, bytes: Vec::new() }
                    } else {
                        State::Length { frame_type, length: 0 }
                    };
                }
                State::Delimited { text, len, bytes } => {
                    let end = data.iter().position(|&b| b == END);
                    let piece = &data[..end.unwrap_or(data.len())];
                    *len += piece.len();
                    if *len > self.limits.max_message_size {
                        let max = self.limits.max_message_size;
                        events.fail(ProtocolError::MessageTooLarge { max });
                        return;
                    }
                    if *text {
                        bytes.extend_from_slice(piece);
                    }
                    data = &data[piece.len()..];
                    if end.is_some() {
                        data = &data[1..];
                        if *text {
                            let text = match String::from_utf8(std::mem::take(bytes)) {
                                Ok(text) => text.into_bytes(),
                                Err(e) => {
                                    String::from_utf8_lossy(e.as_bytes()).into_owned().into_bytes()
                                }
                            };
                            // Each replacement character takes 3 bytes where the bad
                            // byte took 1: the message is held to the limit as delivered.
                            let max = self.limits.max_message_size;
                            if text.len() > max {
                                events.fail(ProtocolError::MessageTooLarge { max });
                                return;
                            }
                            events.push(Event::Data {
                                kind: MessageKind::Text,
                                data: text,
                                fin: true,
                            });
                        }
                        self.state = State::Idle;
                    }
                }
                State::Length { frame_type, length } => {
                    let b = data[0];
                    data = &data[1..];
                    let grown =
                        length.checked_mul(128).and_then(|l| l.checked_add(usize::from(b & 0x7f)));
                    let max = self.limits.max_message_size;
                    let Some(grown) = grown.filter(|&l| l <= max) else {
                        events.fail(ProtocolError::MessageTooLarge { max });
                        return;
                    };
                    *length = grown;
                    let (frame_type, length) = (*frame_type, *length);
                    if b & 0x80 != 0 {
                        continue;
                    }
                    self.state = match (frame_type, length) {
                        (END, 0) => {
                            events.push(Event::Close(None));
                            State::Idle
                        }
                        (_, 0) => State::Idle,
                        (_, remaining) => State::Skip { remaining },
                    };
                }
                State::Skip { remaining } => {
                    let n = (*remaining).min(data.len());
                    *remaining -= n;
                    data = &data[n..];
                    if *remaining == 0 {
                        self.state = State::Idle;
                    }
                }
            }
        }
    }

    fn in_progress(&self) -> bool {
        !matches!(self.state, State::Idle)
    }

    fn read_hint(&self) -> usize {
        match self.state {
            State::Skip { remaining } => remaining,
            // A delimited frame's length is not known ahead: one byte at a time never
            // reads past its end.
            _ => 1,
        }
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
        // Never in UTF-8, which the connection checked a text message for; a message
        // holding it would end early on this wire.
        if data.contains(&END) {
            return Err(UsageError::NotInFraming("byte 0xFF inside a text message"));
        }
        // A message sent in pieces goes out as one frame, its end with the last piece.
        if !self.sending {
            out.push(TEXT);
        }
        out.extend_from_slice(data);
        self.sending = !fin;
        if fin {
            out.push(END);
        }
        Ok(())
    }

    fn encode_control(
        &mut self,
        _control: Control,
        _payload: &[u8],
        _out: &mut Vec<u8>,
    ) -> Result<(), UsageError> {
        Err(UsageError::NotInFraming("pings and pongs"))
    }

    fn encode_close(&mut self, _code: Option<u16>, _reason: &str, out: &mut Vec<u8>) {
        // A close in the middle of a message we send would sit inside its text.
        if std::mem::take(&mut self.sending) {
            out.push(END);
        }
        out.extend_from_slice(&CLOSE);
    }
}
