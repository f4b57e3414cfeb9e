//! The oracles of the cargo-fuzz targets that reach the HTTP side's parsers: `url_path`
//! (the request path, then the filesystem resolver) and `cgi_head` (a script's header
//! block, then the response head made from it).
//!
//! Built for `cargo test` and with the `fuzzing` feature only; it is not an API. Each
//! check panics on any outcome the parsers' docs do not allow; `fuzz/fuzz_targets/` hands
//! its bytes here, and this crate's tests replay every saved input through the same code.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use wshd_proto::HandshakeLimits;
use wshd_proto::handshake::{is_field_value, is_token, parse_response};

use super::cgi::{HeaderScan, parse_head, response_head};
use super::request::Persistence;
use super::response::Framing;
use super::static_files::{Lookup, resolve_blocking};
use super::url_path::{PathError, UrlPath, percent_encode_segment};

/// Runs the oracle of `target` on `input`; `false` if no target has that name here.
pub fn replay(target: &str, input: &[u8]) -> bool {
    match target {
        "url_path" => check_url_path(input),
        "cgi_head" => check_cgi_head(input),
        _ => return false,
    }
    true
}

/// The targets [`replay`] knows.
pub const TARGETS: &[&str] = &["url_path", "cgi_head"];

/// A request target (lossy UTF-8, as the request head gives a `str`).
///
/// Checks: refusals are 400 or 403 with a reason; an accepted path's segments are
/// non-empty, never `.` or `..`, and hold no `/`, `\` or NUL; the raw path starts with `/`
/// and the query is what follows the first `?` up to a `#`; re-encoding the segments
/// parses back to the same segments; and the resolver, run on a fixture tree that has
/// symlinks out of the root, back into it, to `/` and in a loop, only ever finds a
/// canonical path inside the canonical root.
pub fn check_url_path(data: &[u8]) {
    let target = String::from_utf8_lossy(data);
    let url = match UrlPath::parse(&target) {
        Ok(url) => url,
        Err(e) => {
            assert!(matches!(e.status(), 400 | 403), "{e:?}");
            assert!(!e.reason().is_empty());
            if let PathError::Forbidden(_) = e {
                assert!(target.contains(['.', '%', '\\', '\0']), "403 for {target:?}");
            }
            return;
        }
    };
    assert!(url.raw.starts_with('/'), "raw {:?}", url.raw);
    assert!(!url.raw.contains(['?', '#']), "raw {:?}", url.raw);
    assert!(!url.query.contains('#'), "query {:?}", url.query);
    for seg in &url.segments {
        assert!(!seg.is_empty());
        assert!(seg != b"." && seg != b"..", "segment {seg:?}");
        assert!(!seg.iter().any(|b| matches!(b, b'/' | b'\\' | 0)), "segment {seg:?}");
    }
    let mut encoded = String::new();
    for seg in &url.segments {
        encoded.push('/');
        encoded.push_str(&percent_encode_segment(seg));
    }
    let again = UrlPath::parse(if encoded.is_empty() { "/" } else { &encoded })
        .unwrap_or_else(|e| panic!("re-encoded {encoded:?} refused: {e:?}"));
    assert_eq!(again.segments, url.segments, "via {encoded:?}");

    let (root, outside) = fixture();
    let mut joined = root.to_path_buf();
    for seg in &url.segments {
        joined.push(std::ffi::OsStr::from_bytes(seg));
    }
    match resolve_blocking(root, &joined) {
        Lookup::Found(path, _) => {
            assert!(path.starts_with(root), "{} escapes {}", path.display(), root.display());
            assert!(!path.starts_with(outside), "{} is outside", path.display());
            assert_eq!(std::fs::canonicalize(&path).ok().as_ref(), Some(&path));
        }
        Lookup::Forbidden(why) => assert!(!why.is_empty()),
        Lookup::NotFound => {}
    }
}

/// The fixture tree, made once per process: `<tmp>/root` (canonical) with files, a
/// directory, and symlinks `out` → `../outside`, `secret` → `../outside/secret`,
/// `slash` → `/`, `back` → `dir`, `up` → `..`, `loop` → `loop`; `<tmp>/outside/secret`.
fn fixture() -> (&'static Path, &'static Path) {
    static TREE: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    let (root, outside) = TREE.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("wshd-fuzz-url-path-{}", std::process::id()));
        let root = base.join("root");
        let outside = base.join("outside");
        for dir in [root.join("dir/sub"), outside.clone()] {
            std::fs::create_dir_all(&dir).expect("fixture directory");
        }
        for file in [root.join("a.txt"), root.join("dir/b.txt"), outside.join("secret")] {
            std::fs::write(&file, b"x").expect("fixture file");
        }
        for (link, to) in [
            ("out", "../outside"),
            ("secret", "../outside/secret"),
            ("slash", "/"),
            ("back", "dir"),
            ("up", ".."),
            ("loop", "loop"),
        ] {
            let _ = std::os::unix::fs::symlink(to, root.join(link));
        }
        let root = std::fs::canonicalize(&root).expect("canonical fixture root");
        let outside = std::fs::canonicalize(&outside).expect("canonical fixture outside");
        (root, outside)
    });
    (root, outside)
}

/// A script's output: byte 0 = chunk size (0: all at once), then the bytes.
///
/// Checks: the blank line is found at the same offset however the output arrives, and it
/// is the end of the first line that is empty or a lone `\r`; a parsed head has a status
/// in 200..=599, a reason and header values that are field values (no CR, LF or NUL) and
/// header names that are tokens; and the response head built from it, for every framing,
/// parses back as HTTP with that status, the script's headers first and in order, and
/// exactly one way of framing the body.
pub fn check_cgi_head(data: &[u8]) {
    let Some((&chunk, output)) = data.split_first() else { return };
    let expected = output
        .split(|&b| b == b'\n')
        .scan(0usize, |start, line| {
            let end = *start + line.len();
            *start = end + 1;
            Some((line, end))
        })
        .take_while(|(_, end)| *end < output.len())
        .find(|(line, _)| line.is_empty() || *line == b"\r")
        .map(|(_, end)| end + 1);
    let mut scan = HeaderScan::default();
    let step = if chunk == 0 { output.len().max(1) } else { usize::from(chunk) };
    let mut found = None;
    let mut have = 0;
    while found.is_none() && have < output.len() {
        have = (have + step).min(output.len());
        found = scan.feed(&output[..have]);
    }
    assert_eq!(found, expected, "blank line of {output:?}");
    let Some(end) = found else { return };

    let Ok(head) = parse_head(&output[..end]) else { return };
    assert!((200..=599).contains(&head.status), "status {}", head.status);
    assert!(is_field_value(&head.reason), "reason {:?}", head.reason);
    for (name, value) in &head.headers {
        assert!(is_token(name), "name {name:?}");
        assert!(is_field_value(value), "value {value:?}");
    }
    let limits = HandshakeLimits { max_head_bytes: 1 << 20, max_headers: 1 << 16 };
    for (framing, persist) in [
        (
            Framing::Length(head.content_length.unwrap_or(0)),
            Persistence { keep_alive: true, http10: false },
        ),
        (Framing::Chunked, Persistence { keep_alive: true, http10: false }),
        (Framing::UntilClose, Persistence { keep_alive: false, http10: true }),
        (Framing::NoBody, Persistence { keep_alive: true, http10: true }),
    ] {
        let bytes = response_head(&head, framing, persist);
        let (response, len) = match parse_response(&bytes, &limits) {
            Ok(Some(parsed)) => parsed,
            other => panic!(
                "response head {:?} does not parse: {other:?}",
                String::from_utf8_lossy(&bytes)
            ),
        };
        assert_eq!(len, bytes.len(), "bytes after the response head");
        assert_eq!(response.status, head.status);
        let fields: Vec<(&str, &[u8])> = response.headers.iter().collect();
        assert!(fields.len() >= head.headers.len());
        for ((name, value), (got_name, got_value)) in head.headers.iter().zip(&fields) {
            assert!(name.eq_ignore_ascii_case(got_name), "{name} became {got_name}");
            assert_eq!(value.as_bytes(), *got_value, "value of {name}");
        }
        let lengths = response.headers.count("content-length");
        let chunked = response.headers.count("transfer-encoding");
        let expected = match framing {
            Framing::Length(_) => (1, 0),
            Framing::Chunked => (0, 1),
            Framing::UntilClose | Framing::NoBody => (0, 0),
        };
        assert_eq!((lengths, chunked), expected, "framing of {framing:?}");
        if framing == Framing::UntilClose {
            assert_eq!(response.headers.get("connection"), Some(&b"close"[..]));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn saved_fuzz_inputs_replay_through_their_oracles() {
        wshd_testkit::saved::replay_saved(super::TARGETS, super::replay);
    }
}
