//! Errors of the opening handshake: [`HandshakeError`] (a handshake that cannot go on, with
//! the HTTP status to answer) and [`InvalidHeader`] (our own side asked to write a header
//! that would break the HTTP framing).
//!
//! This is not where "need more bytes" lives: an incomplete head is `Ok(None)` from the
//! parsers, never an error. Nor is it the error type of frames or of the connection after
//! the 101 (see [`crate::error`]).

use std::borrow::Cow;
use std::fmt;

/// A handshake that cannot complete.
///
/// On the **server** side the peer sent a bad request: [`status`](Self::status) is the
/// status to answer (400, 403, 404, 431, ...), [`headers`](Self::headers) the extra
/// response headers that go with it (for example `Sec-WebSocket-Version: 13` after an
/// unsupported version), and [`reason`](Self::reason) a short human explanation of what
/// was wrong. [`to_response`](Self::to_response) turns it into the bytes to send.
///
/// On the **client** side the server's answer was not an acceptable 101: `status` is the
/// status code the server sent (101 when it sent 101 with bad headers), or 0 when no status
/// line could be read at all (malformed or oversized response head). Nothing is sent back
/// in that case; the client just closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeError {
    status: u16,
    reason: Cow<'static, str>,
    headers: Vec<(String, String)>,
}

impl HandshakeError {
    /// An error with `status` and a human `reason`, and no extra headers.
    pub fn new(status: u16, reason: impl Into<Cow<'static, str>>) -> Self {
        HandshakeError { status, reason: reason.into(), headers: Vec::new() }
    }

    /// `400 Bad Request` with `reason`: pywebsocket's answer to almost every bad handshake.
    pub fn bad_request(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(400, reason)
    }

    /// Adds a header to send with the error response.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The HTTP status: the one to answer with (server), or the one received (client, 0 if
    /// none).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// What was wrong, for logs and for the body of the error response.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Extra headers that belong in the error response, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The complete HTTP error response for this error (server side); see
    /// [`error_response`](super::error_response).
    pub fn to_response(&self) -> Vec<u8> {
        super::server::error_response(self.status, &self.reason, &self.headers)
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.status == 0 {
            write!(f, "opening handshake failed: {}", self.reason)
        } else {
            write!(f, "opening handshake failed ({}): {}", self.status, self.reason)
        }
    }
}

impl std::error::Error for HandshakeError {}

/// A header we were asked to write is not valid HTTP: a name that is not a token, or a
/// value (or request target) containing CR, LF, NUL or another control character.
///
/// Writing it would let the value end the header line and inject headers or a body
/// (response splitting, request smuggling), so the builders refuse and return this instead.
/// It is a bug or a policy decision on our own side, not the peer's fault: a server that
/// gets it from [`accept_response`](super::accept_response) should answer 500.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidHeader {
    field: String,
    reason: &'static str,
}

impl InvalidHeader {
    pub(crate) fn new(field: &str, reason: &'static str) -> Self {
        // The field name is ours, but may itself be the bad part: keep it short and printable.
        let field = field.chars().take(64).flat_map(char::escape_debug).collect();
        InvalidHeader { field, reason }
    }

    /// The header name (or `request-target`) that was refused, escaped for printing.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What was wrong with it.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for InvalidHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refusing to write header {}: {}", self.field, self.reason)
    }
}

impl std::error::Error for InvalidHeader {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_4_2_2_error_carries_status_reason_and_headers() {
        let e = HandshakeError::bad_request("unsupported version")
            .with_header("Sec-WebSocket-Version", "13");
        assert_eq!(e.status(), 400);
        assert_eq!(e.reason(), "unsupported version");
        assert_eq!(e.headers(), &[("Sec-WebSocket-Version".to_owned(), "13".to_owned())]);
        assert_eq!(e.to_string(), "opening handshake failed (400): unsupported version");
        let e = HandshakeError::new(0, format!("bad {}", "head"));
        assert_eq!(e.to_string(), "opening handshake failed: bad head");
    }

    #[test]
    fn invalid_header_escapes_the_field_name() {
        let e = InvalidHeader::new("X\r\nEvil", "name is not a token");
        assert_eq!(e.field(), "X\\r\\nEvil");
        assert!(e.to_string().contains("name is not a token"));
    }
}
