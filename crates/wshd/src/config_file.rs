//! `--config FILE`: pywebsocket's INI configuration file, turned into command-line arguments.
//!
//! The file needs a `[pywebsocket]` section; each `key = value` in it becomes `--key=value`
//! for an option that takes a value, or `--key` for a flag (unless the value is `false`,
//! `no`, `off` or `0`). Keys are long option names in either spelling (`log_level` or
//! `log-level`), matched case-insensitively, or an unambiguous prefix of one. The
//! arguments go before the command line's, so the command line wins, and everything is
//! parsed once by clap: an option added to `Args` works here with no change to this file.
//!
//! The INI dialect is `crate::ini`'s.

use std::ffi::OsString;
use std::path::Path;

use clap::CommandFactory;

use crate::args::Args;
use crate::ini::section;

/// The section pywebsocket reads.
const SECTION: &str = "pywebsocket";

/// A configuration file that could not be used; the binary exits with status 2.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The arguments `path`'s `[pywebsocket]` section stands for, in file order.
pub fn arguments(path: &Path) -> Result<Vec<OsString>, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read the config file {}: {e}", path.display())))?;
    let entries = section(&text, SECTION)
        .map_err(|e| ConfigError(format!("config file {}: {e}", path.display())))?;
    let command = Args::command();
    let mut args = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let arg = find_option(&command, &key)
            .map_err(|e| ConfigError(format!("config file {}: {e}", path.display())))?;
        let long = arg.get_long().unwrap_or_default();
        if long == "config" {
            return Err(ConfigError(format!(
                "config file {}: 'config' cannot be set inside a config file",
                path.display()
            )));
        }
        if arg.get_action().takes_values() {
            args.push(OsString::from(format!("--{long}={value}")));
        } else if !is_false(&value) {
            args.push(OsString::from(format!("--{long}")));
        }
    }
    Ok(args)
}

/// pywebsocket turned a flag on whatever its value; wshd honours these as "off".
fn is_false(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "false" | "no" | "off" | "0")
}

/// The option `key` names: a long name or alias, exactly or as an unambiguous prefix,
/// with `_` and `-` equivalent and case ignored.
fn find_option<'a>(command: &'a clap::Command, key: &str) -> Result<&'a clap::Arg, String> {
    let norm = |s: &str| s.to_ascii_lowercase().replace('_', "-");
    let key = norm(key);
    let options: Vec<&clap::Arg> = command
        .get_arguments()
        .filter(|a| a.get_long().is_some())
        .filter(|a| !matches!(a.get_action(), clap::ArgAction::Help | clap::ArgAction::Version))
        .collect();
    let names = |a: &'a clap::Arg| {
        let mut names: Vec<String> = a.get_long().into_iter().map(norm).collect();
        names.extend(a.get_all_aliases().unwrap_or_default().into_iter().map(norm));
        names
    };
    if let Some(exact) = options.iter().find(|a| names(a).contains(&key)) {
        return Ok(exact);
    }
    let matches: Vec<&&clap::Arg> =
        options.iter().filter(|a| names(a).iter().any(|n| n.starts_with(&key))).collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("unknown option '{key}' in [{SECTION}] (see wshd --help)")),
        many => Err(format!(
            "option '{key}' in [{SECTION}] is ambiguous: it could be {}",
            many.iter()
                .filter_map(|a| a.get_long())
                .map(|l| format!("--{l}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_resolve_in_either_spelling_case_and_prefix() {
        let command = Args::command();
        let long = |k: &str| find_option(&command, k).unwrap().get_long().unwrap();
        assert_eq!(long("log_level"), "log-level");
        assert_eq!(long("Log-Level"), "log-level");
        assert_eq!(long("document_r"), "document-root");
        assert!(find_option(&command, "log").unwrap_err().contains("ambiguous"));
        assert!(find_option(&command, "nonsense").unwrap_err().contains("unknown"));
        assert!(find_option(&command, "help").is_err());
    }

    #[test]
    fn flags_take_a_dummy_value_and_false_turns_them_off() {
        let dir = std::env::temp_dir().join(format!("wshd-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.ini");
        std::fs::write(
            &path,
            "[pywebsocket]\nallow_handlers_outside_root_dir = True\nstrict = false\nport=-1\n",
        )
        .unwrap();
        let args = arguments(&path).unwrap();
        assert_eq!(args, vec!["--allow-handlers-outside-root-dir", "--port=-1"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
