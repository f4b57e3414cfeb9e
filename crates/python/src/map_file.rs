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
    if line.starts_with('#') || line.trim().is_empty() {
        return MapLine::Skip;
    }
    // `(\S+)\s+(\S+)$` with re.match: no leading or trailing whitespace, two fields.
    if line.starts_with(char::is_whitespace) || line.ends_with(char::is_whitespace) {
        return MapLine::Malformed;
    }
    let mut fields = line.split_whitespace();
    match (fields.next(), fields.next(), fields.next()) {
        (Some(alias), Some(existing), None) => MapLine::Alias { alias, existing },
        _ => MapLine::Malformed,
    }
}

/// Reads the map file at `path` (UTF-8) and adds its aliases to `handlers`.
pub(crate) fn apply(
    path: &Path,
    handlers: &mut HashMap<String, Arc<Handlers>>,
) -> Result<(), LoadError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| LoadError::MapFile { path: path.to_path_buf(), source })?;
    // `lines()` splits on `\n` and drops a `\r` before it, like Python's universal newlines.
    for line in text.lines() {
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
    fn anything_else_is_malformed() {
        assert_eq!(parse_line("/only"), MapLine::Malformed);
        assert_eq!(parse_line("/a /b /c"), MapLine::Malformed);
        assert_eq!(parse_line(" /a /b"), MapLine::Malformed);
        assert_eq!(parse_line("/a /b "), MapLine::Malformed);
        assert_eq!(parse_line(" # not a comment"), MapLine::Malformed);
    }
}
