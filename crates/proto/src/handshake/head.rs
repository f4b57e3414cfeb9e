//! Finding the end of an HTTP/1.x head in a buffer that grows as bytes arrive, in time
//! linear in the bytes received, and parsing it once with `httparse`.
//!
//! This is the defence against CVE-2023-43669 (tungstenite re-parsing the whole growing
//! buffer on every read): the caller tells us how much it had already shown us, we look for
//! the blank line only in the new bytes, and `httparse` runs only once the head is
//! complete. It is internal; [`super::parse_request_from`] and
//! [`super::parse_response_from`] are the public faces. It does not read bodies.

/// Why a head could not be found or parsed. The request and response parsers map these to
/// statuses (431/400 for a server, 0 for a client).
#[derive(Debug)]
pub(crate) enum HeadError {
    /// No complete head within `max_head_bytes`.
    TooLarge,
    /// More than `max_headers` header fields.
    TooManyHeaders,
    /// `httparse` refused the head.
    Malformed(httparse::Error),
    /// The blank line was found but `httparse` still wants more: the start line is broken.
    Truncated,
}

/// Looks for the blank line that ends a head and returns the head's length (blank line
/// included), `None` if it has not arrived yet, or [`HeadError::TooLarge`] if it cannot end
/// within `max_head_bytes`.
///
/// `already_scanned` is `buf.len()` at the previous call that returned `None` for this same
/// buffer (0 the first time); only bytes from there on are searched, so feeding a head one
/// byte at a time costs O(total bytes). A wrong value cannot cause a panic, only a missed
/// terminator. At most `max_head_bytes` bytes are ever looked at.
///
/// Line ends are LF with an optional CR before it, as `httparse` accepts them: the head ends
/// at the first LF that is followed by `LF` or `CR LF`. Empty lines before the start line,
/// which `httparse` skips (RFC 7230 §3.5), do not count as the end.
pub(crate) fn find_head_end(
    buf: &[u8],
    already_scanned: usize,
    max_head_bytes: usize,
) -> Result<Option<usize>, HeadError> {
    let window = &buf[..buf.len().min(max_head_bytes)];
    // Leading empty lines: normally none, so this stops at byte 0.
    if let Some(lead) = window.iter().position(|&b| b != b'\r' && b != b'\n') {
        // A terminator is at most 3 bytes (`\n\r\n`) and starts with `\n`; one that began in
        // the last 2 old bytes could not be confirmed last time, so look there again.
        let mut i = already_scanned.min(window.len()).saturating_sub(2).max(lead);
        while let Some(offset) = window[i..].iter().position(|&b| b == b'\n') {
            let lf = i + offset;
            match window.get(lf + 1..) {
                Some([b'\n', ..]) => return Ok(Some(lf + 2)),
                Some([b'\r', b'\n', ..]) => return Ok(Some(lf + 3)),
                _ => i = lf + 1,
            }
        }
    }
    // No terminator in the window. If the window is full, no head can fit in the limit.
    if buf.len() >= max_head_bytes { Err(HeadError::TooLarge) } else { Ok(None) }
}

/// How many `httparse::Header` slots to allocate for a head of `head_len` bytes.
///
/// A header line is at least 3 bytes (`a:\n`), so a head cannot hold more than
/// `head_len / 3` fields: sizing the array to that when it is below `max_headers` keeps the
/// allocation proportional to what was actually received, and `TooManyHeaders` still means
/// "more than `max_headers`".
pub(crate) fn header_slots(head_len: usize, max_headers: usize) -> usize {
    max_headers.min(head_len / 3 + 1)
}

/// Maps the result of an `httparse` parse of exactly the head found by [`find_head_end`].
pub(crate) fn check_parsed(
    parsed: Result<httparse::Status<usize>, httparse::Error>,
) -> Result<usize, HeadError> {
    match parsed {
        Ok(httparse::Status::Complete(n)) => Ok(n),
        Ok(httparse::Status::Partial) => Err(HeadError::Truncated),
        Err(httparse::Error::TooManyHeaders) => Err(HeadError::TooManyHeaders),
        Err(e) => Err(HeadError::Malformed(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(buf: &[u8]) -> Option<usize> {
        find_head_end(buf, 0, 1024).unwrap()
    }

    #[test]
    fn rfc7230_3_head_ends_at_the_first_empty_line() {
        assert_eq!(end(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest"), Some(27));
        assert_eq!(end(b"GET / HTTP/1.1\nHost: a\n\nrest"), Some(24));
        assert_eq!(end(b"GET / HTTP/1.1\nHost: a\n\r\nrest"), Some(25));
        assert_eq!(end(b"GET / HTTP/1.1\r\nHost: a\r\n\r"), None);
        assert_eq!(end(b"GET / HTTP/1.1\r\nHost: a\r\n"), None);
        assert_eq!(end(b""), None);
    }

    #[test]
    fn rfc7230_3_5_leading_empty_lines_are_not_the_end() {
        assert_eq!(end(b"\r\n\r\n\n"), None);
        assert_eq!(end(b"\r\n\r\nGET / HTTP/1.1\r\n\r\n"), Some(22));
    }

    #[test]
    fn terminator_split_across_calls_is_found() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        for split in 0..head.len() {
            let first = find_head_end(&head[..split], 0, 1024).unwrap();
            assert_eq!(first, None, "split {split}");
            assert_eq!(find_head_end(head, split, 1024).unwrap(), Some(head.len()), "{split}");
        }
    }

    #[test]
    fn limit_counts_the_whole_head() {
        let head = b"GET / HTTP/1.1\r\n\r\n";
        assert_eq!(find_head_end(head, 0, head.len()).unwrap(), Some(head.len()));
        assert!(matches!(find_head_end(head, 0, head.len() - 1), Err(HeadError::TooLarge)));
        assert!(matches!(find_head_end(&head[..10], 0, 10), Err(HeadError::TooLarge)));
        assert_eq!(find_head_end(&head[..9], 0, 10).unwrap(), None);
    }

    #[test]
    fn header_slots_bounded_by_head_size() {
        assert_eq!(header_slots(30, 100), 11);
        assert_eq!(header_slots(16 * 1024, 100), 100);
        assert_eq!(header_slots(0, 0), 0);
    }
}
