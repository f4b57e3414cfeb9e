//! The handler map file (`-m`): one `alias existing` pair per line.
//!
//! Semantics of pywebsocket 3's `_alias_handlers`: lines are handled top to bottom, a line
//! starting with `#` or holding only whitespace is skipped, a line must be exactly two
//! whitespace-separated fields with nothing before or after (`re.match(r'(\S+)\s+(\S+)$')`),
//! and the target must already be registered, so an alias may name an earlier alias.
//! A malformed line is logged at WARN (`Wrong format in map file:<line>`), an unknown target
//! at ERROR (`No handler for: '<path>'`); neither stops loading. This module does not scan
//! or execute handler files.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::error::LoadError;
use crate::loader::Handlers;

/// What one line of a map file says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum MapLine<'a> {
    /// A comment or a blank line.
    Skip,
    /// `alias existing`.
    Alias { alias: &'a str, existing: &'a str },
    /// Anything else.
    Malformed,
}

/// Parses one line, without its line terminator.
pub(crate) fn parse_line(line: &str) -> MapLine<'_> {
    if line.starts_with('#') || line.chars().all(is_python_space) {
        return MapLine::Skip;
    }
    // `(\S+)\s+(\S+)$` with re.match: no leading or trailing whitespace, two fields.
    if line.starts_with(is_python_space) || line.ends_with(is_python_space) {
        return MapLine::Malformed;
    }
    let mut fields = line.split(is_python_space).filter(|f| !f.is_empty());
    match (fields.next(), fields.next(), fields.next()) {
        (Some(alias), Some(existing), None) => MapLine::Alias { alias, existing },
        _ => MapLine::Malformed,
    }
}

/// Python's `str.isspace` and regex `\s`: Unicode White_Space plus the separators
/// U+001C to U+001F, which Rust's `char::is_whitespace` leaves out.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Reads the map file at `path` (UTF-8) and adds its aliases to `handlers`.
pub(crate) fn apply(
    path: &Path,
    handlers: &mut HashMap<String, Arc<Handlers>>,
) -> Result<(), LoadError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| LoadError::MapFile { path: path.to_path_buf(), source })?;
    for line in lines(&text) {
        match parse_line(line) {
            MapLine::Skip => {}
            MapLine::Malformed => tracing::warn!("Wrong format in map file:{line}"),
            MapLine::Alias { alias, existing } => match handlers.get(existing) {
                Some(found) => {
                    let found = Arc::clone(found);
                    handlers.insert(alias.to_owned(), found);
                }
                None => tracing::error!("No handler for: '{existing}'"),
            },
        }
    }
    Ok(())
}

/// The lines of `text` as Python's universal newlines read them: split at `\r\n`, `\r` or
/// `\n`, without the terminator.
pub(crate) fn lines(text: &str) -> impl Iterator<Item = &str> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    let mut rest = Some(text).filter(|t| !t.is_empty());
    std::iter::from_fn(move || {
        let t = rest?;
        match t.find(['\r', '\n']) {
            Some(i) => {
                let after = if t[i..].starts_with("\r\n") { i + 2 } else { i + 1 };
                rest = Some(&t[after..]);
                Some(&t[..i])
            }
            None => {
                rest = None;
                Some(t)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_fields_make_an_alias() {
        assert_eq!(parse_line("/ /echo"), MapLine::Alias { alias: "/", existing: "/echo" });
        assert_eq!(parse_line("/a\t \t/b"), MapLine::Alias { alias: "/a", existing: "/b" });
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        assert_eq!(parse_line("# /a /b"), MapLine::Skip);
        assert_eq!(parse_line(""), MapLine::Skip);
        assert_eq!(parse_line("   \t"), MapLine::Skip);
    }

    #[test]
    fn lines_end_at_cr_lf_or_crlf_as_python_reads_them() {
        let text = "/x /echo\r\n/y /x\r/z /y\n\n";
        assert_eq!(lines(text).collect::<Vec<_>>(), ["/x /echo", "/y /x", "/z /y", ""]);
        assert_eq!(lines("").count(), 0);
    }

    #[test]
    fn python_whitespace_includes_the_information_separators() {
        assert_eq!(parse_line("/a\u{1c}/b"), MapLine::Alias { alias: "/a", existing: "/b" });
        assert_eq!(parse_line("\u{1f}"), MapLine::Skip);
        assert_eq!(parse_line("/a /b\u{1d}"), MapLine::Malformed);
    }

    #[test]
    fn anything_else_is_malformed() {
        assert_eq!(parse_line("/only"), MapLine::Malformed);
        assert_eq!(parse_line("/a /b /c"), MapLine::Malformed);
        assert_eq!(parse_line(" /a /b"), MapLine::Malformed);
        assert_eq!(parse_line("/a /b "), MapLine::Malformed);
        assert_eq!(parse_line(" # not a comment"), MapLine::Malformed);
    }
}
