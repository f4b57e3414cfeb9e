//! The saved fuzz inputs: where they live and how `cargo test` replays them.
//!
//! Every cargo-fuzz target (`fuzz/Cargo.toml`) is listed in [`TARGETS`] with the crate
//! whose tests replay it. Its inputs are `fuzz/seeds/<target>/` (hand-written),
//! `fuzz/corpus/<target>/` (what a campaign grew, minimised) and
//! `fuzz/regressions/<target>/` (each crash found, minimised). [`replay_saved`] runs all of
//! them through the target's oracle, the code the fuzz target runs, so a bug a campaign
//! found fails `cargo test` if it comes back. It does not fuzz.

use std::path::{Path, PathBuf};

/// Every fuzz target, and the crate whose `cargo test` replays its saved inputs.
pub const TARGETS: &[(&str, &str)] = &[
    ("frame_reader_server", "wshd-proto"),
    ("frame_reader_client", "wshd-proto"),
    ("connection_ops", "wshd-proto"),
    ("inflate_server", "wshd-proto"),
    ("handshake_request", "wshd-proto"),
    ("extensions_header", "wshd-proto"),
    ("hybi00_frames", "wshd-proto"),
    ("hybi00_handshake", "wshd-proto"),
    ("utf8_stream", "wshd-proto"),
    ("close_payload", "wshd-proto"),
    ("url_path", "wshd-server"),
    ("cgi_head", "wshd-server"),
    ("map_file", "wshd-python"),
    ("python_frames", "wshd-python"),
    ("config_file", "wshd"),
];

/// The directories the saved inputs of fuzz targets are kept in, under `fuzz/`.
pub const KINDS: &[&str] = &["seeds", "corpus", "regressions"];

/// `fuzz/` at the repository root.
pub fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Runs every saved input of `targets` through `check` (which returns `false` for a target
/// it does not know, a test failure). Returns how many inputs ran; panics with the file's
/// path if an oracle does, and if there was no input at all.
pub fn replay_saved(targets: &[&str], check: impl Fn(&str, &[u8]) -> bool) -> usize {
    let mut replayed = 0;
    for target in targets {
        assert!(
            TARGETS.iter().any(|(t, _)| t == target),
            "{target} is not in wshd_testkit::saved::TARGETS"
        );
        for kind in KINDS {
            let dir = fuzz_dir().join(kind).join(target);
            for path in files_in(&dir) {
                let input =
                    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    check(target, &input)
                }));
                match ran {
                    Ok(true) => replayed += 1,
                    Ok(false) => panic!("{}: no oracle for {target}", path.display()),
                    Err(e) => {
                        eprintln!("the oracle of {target} failed on {}", path.display());
                        std::panic::resume_unwind(e)
                    }
                }
            }
        }
    }
    eprintln!("replayed {replayed} saved inputs of {targets:?}");
    assert!(replayed > 0, "no saved input for {targets:?}");
    replayed
}

/// The input files directly in `dir` (none if it does not exist), sorted; `.gitkeep` files
/// only keep empty directories in git and are not inputs.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"))
        .collect();
    files.sort();
    files
}
