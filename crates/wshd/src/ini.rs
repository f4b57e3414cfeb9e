//! The INI dialect of `--config` files: the subset of Python's `configparser` that
//! pywebsocket configuration files use. `[section]` headers, `key = value` or `key: value`,
//! whole-line `#` and `;` comments, indented continuation lines, and a `[DEFAULT]` section
//! whose keys apply to every section. There is no `%(name)s` interpolation, and this is not
//! a general INI library: it reads one section's entries, which `config_file` turns into
//! arguments.
//!
//! It has no dependencies, so the `config_file` fuzz target builds this file on its own
//! (`fuzz/fuzz_targets/config_file.rs`); [`check`] is that target's oracle.

/// The `key = value` entries of `name` (keys lowercased), `[DEFAULT]` entries first.
pub(crate) fn section(text: &str, name: &str) -> Result<Vec<(String, String)>, String> {
    let mut defaults: Vec<(String, String)> = Vec::new();
    let mut wanted: Option<Vec<(String, String)>> = None;
    // Which list the current section's entries go to: 0 none, 1 DEFAULT, 2 the wanted one.
    let mut current = 0u8;
    let mut in_section = false;
    for (number, raw) in text.lines().enumerate() {
        let number = number + 1;
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let list = match current {
            1 => Some(&mut defaults),
            2 => wanted.as_mut(),
            _ => None,
        };
        let indented = line.starts_with([' ', '\t']);
        let list = match list {
            // Indented after an option: a continuation of its value.
            Some(l) if indented && !l.is_empty() => {
                if let Some(last) = l.last_mut() {
                    last.1.push('\n');
                    last.1.push_str(trimmed);
                }
                continue;
            }
            // Inside a section this file does not use.
            None if indented && in_section => continue,
            list => list,
        };
        if let Some(header) = trimmed.strip_prefix('[') {
            let Some(section) = header.strip_suffix(']') else {
                return Err(format!("line {number}: a section header must end with ']'"));
            };
            in_section = true;
            current = if section == "DEFAULT" {
                1
            } else if section == name {
                if wanted.is_some() {
                    return Err(format!("line {number}: section [{name}] appears twice"));
                }
                wanted = Some(Vec::new());
                2
            } else {
                0
            };
            continue;
        }
        if !in_section {
            return Err(format!(
                "line {number}: '{trimmed}' comes before any section header (it needs [{name}])"
            ));
        }
        let Some(split) = trimmed.find(['=', ':']) else {
            return Err(format!("line {number}: expected 'option = value', got '{trimmed}'"));
        };
        let key = trimmed[..split].trim().to_ascii_lowercase();
        let value = trimmed[split + 1..].trim().to_owned();
        if key.is_empty() {
            return Err(format!("line {number}: an option name is missing before '='"));
        }
        if let Some(list) = list {
            if list.iter().any(|(k, _)| *k == key) {
                return Err(format!("line {number}: option '{key}' is set twice"));
            }
            list.push((key, value));
        }
    }
    let Some(entries) = wanted else {
        return Err(format!("no [{name}] section (pywebsocket config files need one)"));
    };
    let mut all: Vec<(String, String)> =
        defaults.into_iter().filter(|(k, _)| !entries.iter().any(|(e, _)| e == k)).collect();
    all.extend(entries);
    Ok(all)
}

/// The `config_file` fuzz target's oracle: a file's text (lossy UTF-8), read for the
/// `pywebsocket` section. Checks: no panic; a refusal says why, and a line it names exists;
/// the entries have keys that are lowercased, trimmed, non-empty, hold no `=` or `:` and
/// appear once, and values whose lines are trimmed and, after the first, not empty; and
/// the entries,
/// written back as a file (continuation lines indented), read back the same.
#[cfg(any(test, fuzzing))]
pub(crate) fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let entries = match section(&text, "pywebsocket") {
        Ok(entries) => entries,
        Err(why) => {
            assert!(!why.is_empty());
            if let Some(rest) = why.strip_prefix("line ") {
                let number: usize =
                    rest.split(':').next().and_then(|n| n.parse().ok()).expect("a line number");
                assert!(number >= 1 && number <= text.lines().count(), "{why}");
            }
            return;
        }
    };
    let mut written = String::from("[pywebsocket]\n");
    for (i, (key, value)) in entries.iter().enumerate() {
        assert!(!key.is_empty() && key.trim() == key && !key.contains(['=', ':']), "key {key:?}");
        assert_eq!(key.to_ascii_lowercase(), *key);
        assert!(!entries[..i].iter().any(|(k, _)| k == key), "{key} twice");
        // configparser's reading: an empty first line stays (`k =` then an indented line
        // is "\nv"); every line is trimmed, and no later line is empty.
        assert!(value.split('\n').all(|l| l.trim() == l), "value {value:?}");
        assert!(!value.split('\n').skip(1).any(str::is_empty), "value {value:?}");
        written.push_str(&format!("{key} = {}\n", value.replace('\n', "\n\t")));
    }
    let again = section(&written, "pywebsocket").unwrap_or_else(|e| panic!("{written:?}: {e}"));
    assert_eq!(again, entries, "written back as {written:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_section_with_comments_continuations_and_defaults() {
        let text = "# comment\n[DEFAULT]\nport = 1\nqueue = 7\n[other]\nport = 2\n\
                    [pywebsocket]\n; comment\nPort: 3\nlog_level = debug\n  more\n";
        let entries = section(text, "pywebsocket").unwrap();
        assert_eq!(
            entries,
            vec![
                ("queue".into(), "7".into()),
                ("port".into(), "3".into()),
                ("log_level".into(), "debug\nmore".into()),
            ]
        );
    }

    #[test]
    fn refuses_files_without_the_section_or_with_garbage() {
        assert!(
            section("[other]\nport=1\n", "pywebsocket").unwrap_err().contains("no [pywebsocket]")
        );
        assert!(section("port=1\n", "pywebsocket").unwrap_err().contains("before any section"));
        assert!(section("[pywebsocket]\njunk\n", "pywebsocket").unwrap_err().contains("line 2"));
        assert!(section("[pywebsocket]\na=1\na=2\n", "pywebsocket").unwrap_err().contains("twice"));
    }

    #[test]
    fn saved_fuzz_inputs_replay_through_the_oracle() {
        wshd_testkit::saved::replay_saved(&["config_file"], |_, input| {
            check(input);
            true
        });
    }
}
