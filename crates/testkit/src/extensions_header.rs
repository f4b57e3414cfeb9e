//! The header tokenizers: `parse_extensions` and `parse_token_list` on arbitrary text.
//!
//! Checks: no panic; an error points inside the value; every name and value parsed is an
//! RFC 7230 token; `format_extensions` of a parse result parses back to the same offers and
//! formats back to the same text; a token list joined with ", " parses back to itself.

use wshd_proto::handshake::{format_extensions, is_token, parse_extensions, parse_token_list};

/// The oracle: panics on any outcome the docs above do not allow.
pub fn check(data: &[u8]) {
    let value = String::from_utf8_lossy(data);

    match parse_extensions(&value) {
        Ok(offers) => {
            assert!(!offers.is_empty());
            for offer in &offers {
                assert!(is_token(&offer.name), "extension name {:?}", offer.name);
                for (name, v) in &offer.params {
                    assert!(is_token(name), "parameter name {name:?}");
                    assert!(v.as_deref().is_none_or(is_token), "parameter value {v:?}");
                }
            }
            let formatted = format_extensions(&offers);
            let again = parse_extensions(&formatted).expect("formatted offers parse");
            assert_eq!(again, offers, "round trip through {formatted:?}");
            assert_eq!(format_extensions(&again), formatted);
        }
        Err(e) => {
            assert!(e.position() <= value.len(), "error position past the end");
            assert!(!e.reason().is_empty());
        }
    }

    match parse_token_list(&value) {
        Ok(tokens) => {
            assert!(!tokens.is_empty());
            assert!(tokens.iter().all(|t| is_token(t)), "{tokens:?}");
            let joined = tokens.join(", ");
            assert_eq!(parse_token_list(&joined).as_ref(), Ok(&tokens), "via {joined:?}");
        }
        Err(e) => {
            assert!(e.position() <= value.len(), "error position past the end");
            assert!(!e.reason().is_empty());
        }
    }
}
