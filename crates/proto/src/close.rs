//! Close codes and close-frame payloads (RFC 6455 §5.5.1, §7.4).
//!
//! This module validates and encodes; it does not decide when to close. The closing
//! handshake itself is the state machine in [`crate::connection`].

use crate::error::{ProtocolError, UsageError};

/// A close status code (RFC 6455 §7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection was fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: no status code was present (never sent on the wire).
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: the connection closed without a close frame (never sent on the wire).
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: message data inconsistent with its type (bad UTF-8 in text).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: policy violation.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server met an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1015: TLS handshake failure (never sent on the wire).
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Whether a peer may put this code in a close frame (§7.4.1, §7.4.2, and the IANA
    /// registry's 1012-1014). 1005, 1006 and 1015 are reserved for local reporting.
    pub fn is_allowed_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<CloseCode> for u16 {
    fn from(c: CloseCode) -> u16 {
        c.0
    }
}

/// The body of a close frame: a status code and a reason (RFC 6455 §5.5.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason: UTF-8, at most 123 bytes on the wire.
    pub reason: String,
}

impl CloseFrame {
    /// A close with `code` and `reason`.
    pub fn new(code: CloseCode, reason: impl Into<String>) -> CloseFrame {
        CloseFrame { code, reason: reason.into() }
    }

    /// A close the peer sent, as applications see it: an empty body is 1005 (no status)
    /// with no reason (§7.1.5).
    pub fn received(body: Option<&(u16, String)>) -> CloseFrame {
        match body {
            Some((code, reason)) => CloseFrame::new(CloseCode(*code), reason.clone()),
            None => CloseFrame::new(CloseCode::NO_STATUS, ""),
        }
    }

    /// What goes on the wire for `frame`: its code and reason, or nothing for `None` (an
    /// empty close body).
    pub fn wire(frame: Option<&CloseFrame>) -> (Option<u16>, &str) {
        frame.map_or((None, ""), |f| (Some(f.code.0), f.reason.as_str()))
    }
}

/// Checks a close code and reason the local side wants to send.
pub(crate) fn check_outgoing(code: Option<u16>, reason: &str) -> Result<(), UsageError> {
    match code {
        None if !reason.is_empty() => Err(UsageError::ReasonWithoutCode),
        None => Ok(()),
        Some(c) if !CloseCode(c).is_allowed_on_wire() => Err(UsageError::InvalidCloseCode(c)),
        Some(_) if reason.len() > 123 => Err(UsageError::CloseReasonTooLong(reason.len())),
        Some(_) => Ok(()),
    }
}

/// Writes a close payload: nothing for `None`, else the code in network order and the reason.
pub(crate) fn encode_payload(code: Option<u16>, reason: &str, out: &mut Vec<u8>) {
    if let Some(c) = code {
        out.extend_from_slice(&c.to_be_bytes());
        out.extend_from_slice(reason.as_bytes());
    }
}

/// Parses a received close payload into its code and reason.
///
/// An empty payload is `None` (the application sees 1005). §5.5.1: a body, if present,
/// starts with a two-byte code; §7.4: codes outside the allowed set fail with 1002;
/// §8.1: the reason must be UTF-8, else 1007.
pub fn parse_payload(payload: &[u8]) -> Result<Option<(u16, String)>, ProtocolError> {
    match payload {
        [] => Ok(None),
        [_] => Err(ProtocolError::InvalidClosePayload),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !CloseCode(code).is_allowed_on_wire() {
                return Err(ProtocolError::InvalidCloseCode(code));
            }
            let reason = simdutf8::basic::from_utf8(reason)
                .map_err(|_| ProtocolError::InvalidUtf8)?
                .to_owned();
            Ok(Some((code, reason)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_7_4_1_defined_codes_are_allowed_and_reserved_ones_are_not() {
        for ok in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014] {
            assert!(CloseCode(ok).is_allowed_on_wire(), "{ok}");
        }
        for bad in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            assert!(!CloseCode(bad).is_allowed_on_wire(), "{bad}");
        }
    }

    #[test]
    fn rfc6455_7_4_2_application_ranges_are_allowed() {
        for ok in [3000, 3999, 4000, 4999] {
            assert!(CloseCode(ok).is_allowed_on_wire(), "{ok}");
        }
    }

    #[test]
    fn rfc6455_5_5_1_close_payload_parsing() {
        assert_eq!(parse_payload(&[]), Ok(None));
        assert_eq!(parse_payload(&[3]), Err(ProtocolError::InvalidClosePayload));
        assert_eq!(parse_payload(&[0x03, 0xe8]), Ok(Some((1000, String::new()))));
        assert_eq!(parse_payload(b"\x0d\x05sun"), Ok(Some((3333, "sun".into()))));
        assert_eq!(parse_payload(&[0x03, 0xe7]), Err(ProtocolError::InvalidCloseCode(999)));
        assert_eq!(parse_payload(&[0x03, 0xe8, 0xff]), Err(ProtocolError::InvalidUtf8));
    }

    #[test]
    fn rfc6455_5_5_1_outgoing_close_checks() {
        assert_eq!(check_outgoing(None, ""), Ok(()));
        assert_eq!(check_outgoing(None, "x"), Err(UsageError::ReasonWithoutCode));
        assert_eq!(check_outgoing(Some(1005), ""), Err(UsageError::InvalidCloseCode(1005)));
        assert_eq!(check_outgoing(Some(1000), &"a".repeat(123)), Ok(()));
        assert_eq!(
            check_outgoing(Some(1000), &"a".repeat(124)),
            Err(UsageError::CloseReasonTooLong(124))
        );
    }
}
