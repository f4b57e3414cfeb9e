//! Incremental UTF-8 validation for text messages that arrive in pieces (RFC 6455 §8.1).
//!
//! A text message may be split across frames and across reads, and a code point may be
//! split with it. [`Utf8Validator`] keeps at most three bytes of an unfinished code point
//! between calls and fails as soon as the bytes seen so far cannot begin valid UTF-8, so
//! a bad message is rejected at the first bad byte rather than at its end. It validates;
//! it never copies or decodes the message.

/// Returned when the bytes seen so far cannot be the start of valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Error;

/// Validates a byte stream as UTF-8, piece by piece.
#[derive(Debug, Default, Clone)]
pub struct Utf8Validator {
    pending: [u8; 4],
    pending_len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Validates the next piece of the stream.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), Utf8Error> {
        if self.pending_len > 0 {
            let have = usize::from(self.pending_len);
            let need = sequence_len(self.pending[0]).ok_or(Utf8Error)?;
            let take = (need - have).min(data.len());
            let mut seq = self.pending;
            seq[have..have + take].copy_from_slice(&data[..take]);
            match simdutf8::compat::from_utf8(&seq[..have + take]) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_none() => {
                    // Still a valid but unfinished code point: the piece ran out.
                    self.pending = seq;
                    self.pending_len = (have + take) as u8;
                    return Ok(());
                }
                Err(_) => return Err(Utf8Error),
            }
            data = &data[take..];
        }
        if simdutf8::basic::from_utf8(data).is_ok() {
            return Ok(());
        }
        match simdutf8::compat::from_utf8(data) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let tail = &data[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len() as u8;
                Ok(())
            }
            Err(_) => Err(Utf8Error),
        }
    }

    /// Ends the stream: fails if a code point is left unfinished.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        let unfinished = self.pending_len != 0;
        self.pending_len = 0;
        if unfinished { Err(Utf8Error) } else { Ok(()) }
    }
}

/// The length of the sequence a lead byte starts, or `None` if it cannot lead one.
fn sequence_len(lead: u8) -> Option<usize> {
    match lead {
        0xc2..=0xdf => Some(2),
        0xe0..=0xef => Some(3),
        0xf0..=0xf4 => Some(4),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn validate_in_pieces(data: &[u8], cuts: &[usize]) -> Result<(), Utf8Error> {
        let mut v = Utf8Validator::new();
        let mut start = 0;
        for &c in cuts {
            let c = c.clamp(start, data.len());
            v.feed(&data[start..c])?;
            start = c;
        }
        v.feed(&data[start..])?;
        v.finish()
    }

    #[test]
    fn rfc6455_8_1_split_code_points_are_accepted_at_every_cut() {
        let text = "κόσμε 𝄞 €uro \u{10ffff}".as_bytes();
        for a in 0..=text.len() {
            for b in a..=text.len() {
                assert_eq!(validate_in_pieces(text, &[a, b]), Ok(()), "cuts {a} {b}");
            }
        }
    }

    #[test]
    fn rfc6455_8_1_fails_fast_on_the_first_impossible_byte() {
        let mut v = Utf8Validator::new();
        v.feed("κόσμε".as_bytes()).unwrap();
        // 0xed 0xa0 starts a UTF-16 surrogate: impossible, even though the sequence is cut.
        assert_eq!(v.feed(&[0xed]), Ok(()));
        assert_eq!(v.feed(&[0xa0]), Err(Utf8Error));
        assert_eq!(Utf8Validator::new().feed(&[0xf4, 0x90]), Err(Utf8Error)); // > U+10FFFF
        assert_eq!(Utf8Validator::new().feed(&[0xc0]), Err(Utf8Error)); // overlong lead
        assert_eq!(Utf8Validator::new().feed(&[0xff]), Err(Utf8Error));
    }

    #[test]
    fn rfc6455_8_1_truncated_code_point_fails_at_the_end() {
        let mut v = Utf8Validator::new();
        v.feed(&[0xe2, 0x82]).unwrap();
        assert_eq!(v.finish(), Err(Utf8Error));
    }

    proptest! {
        #[test]
        fn rfc6455_8_1_pieces_agree_with_whole_validation(
            data in proptest::collection::vec(any::<u8>(), 0..64),
            cuts in proptest::collection::vec(0usize..64, 0..5),
        ) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let whole = std::str::from_utf8(&data).is_ok();
            prop_assert_eq!(validate_in_pieces(&data, &cuts).is_ok(), whole);
        }

        #[test]
        fn rfc6455_8_1_valid_strings_pass_in_pieces(s in "\\PC{0,40}", cuts in proptest::collection::vec(0usize..200, 0..5)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            prop_assert_eq!(validate_in_pieces(s.as_bytes(), &cuts), Ok(()));
        }
    }
}
