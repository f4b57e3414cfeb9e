//! The incremental UTF-8 validator (`wshd_proto::utf8::Utf8Validator`) fed in pieces.
//!
//! Input: byte 0's low 3 bits = how many cut positions follow (one byte each, taken as
//! offsets into the data, sorted), then the data. Checks: the validator agrees with
//! `std::str::from_utf8` on the whole; it fails at the first piece after which the bytes
//! seen cannot begin valid UTF-8, never earlier and never later; `finish` fails exactly
//! when the whole is valid only as an unfinished prefix.

use wshd_proto::utf8::Utf8Validator;

/// Whether `bytes` can begin valid UTF-8 (is valid, or valid up to a cut code point).
fn could_begin_utf8(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

/// The oracle: panics on any outcome the docs above do not allow.
pub fn check(data: &[u8]) {
    let Some((&head, rest)) = data.split_first() else { return };
    let n = usize::from(head & 7).min(rest.len());
    let (cuts, text) = rest.split_at(n);
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| usize::from(c).min(text.len())).collect();
    cuts.sort_unstable();
    cuts.push(text.len());

    let mut v = Utf8Validator::new();
    let mut start = 0;
    for &end in &cuts {
        let fed = v.feed(&text[start..end]);
        let possible = could_begin_utf8(&text[..end]);
        assert_eq!(fed.is_ok(), possible, "piece {start}..{end} of {text:?}");
        if fed.is_err() {
            assert!(std::str::from_utf8(text).is_err());
            return;
        }
        start = end;
    }
    let whole = std::str::from_utf8(text).is_ok();
    assert_eq!(v.finish().is_ok(), whole, "finish on {text:?}");
    // After finish the validator is at the start of a new message.
    assert!(v.feed("é".as_bytes()).is_ok() && v.finish().is_ok());
}
