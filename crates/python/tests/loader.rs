//! Pins pywebsocket's `dispatch.py` loading and lookup behaviour on handler trees built in
//! temporary directories.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use pyo3::prelude::*;
use wshd_python::{HandlerTree, Handlers, LoadError, LoadOptions, Lookup, SourceWarning};
use wshd_testkit::files::TempTree;

/// A valid handler file whose `web_socket_transfer_data` returns `tag`.
fn handler(tag: &str) -> String {
    format!(
        "def web_socket_do_extra_handshake(request):\n    pass\n\n\
         def web_socket_transfer_data(request):\n    return {tag:?}\n"
    )
}

fn options(root: &Path) -> LoadOptions {
    LoadOptions { root: root.to_path_buf(), ..LoadOptions::default() }
}

fn load(options: &LoadOptions) -> (HandlerTree, Vec<SourceWarning>) {
    HandlerTree::load(options).expect("load")
}

fn found<'a>(tree: &'a HandlerTree, target: &str) -> &'a Handlers {
    match tree.lookup(target) {
        Lookup::Found(handlers) => handlers,
        other => panic!("{target}: expected Found, got {other:?}"),
    }
}

fn not_found(tree: &HandlerTree, target: &str) -> bool {
    matches!(tree.lookup(target), Lookup::NotFound)
}

/// Calls `web_socket_transfer_data(None)` and returns its string result.
fn transfer_tag(handlers: &Handlers) -> String {
    Python::attach(|py| {
        handlers.transfer_data.call1(py, (py.None(),)).unwrap().extract::<String>(py).unwrap()
    })
}

fn single_warning(warnings: &[SourceWarning]) -> &SourceWarning {
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    &warnings[0]
}

#[test]
fn plain_handler_file_serves_its_name() {
    let root = TempTree::empty("plain");
    let file = root.write("echo_wsh.py", handler("echo"));
    let (tree, warnings) = load(&options(root.path()));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(tree.resources(), ["/echo"]);
    let handlers = found(&tree, "/echo");
    assert_eq!(handlers.path, file);
    assert_eq!(transfer_tag(handlers), "echo");
    assert!(handlers.passive_closing_handshake.is_none());
}

#[test]
fn root_wsh_py_serves_slash() {
    let root = TempTree::empty("slash");
    root.write("_wsh.py", handler("root"));
    let (tree, _) = load(&options(root.path()));
    assert_eq!(transfer_tag(found(&tree, "/")), "root");
}

#[test]
fn sub_wsh_py_serves_sub_with_trailing_slash_only() {
    let root = TempTree::empty("sub");
    root.write("sub/_wsh.py", handler("sub"));
    root.write("sub/deeper/chat_wsh.py", handler("chat"));
    let (tree, _) = load(&options(root.path()));
    assert_eq!(tree.resources(), ["/sub/", "/sub/deeper/chat"]);
    assert_eq!(transfer_tag(found(&tree, "/sub/")), "sub");
    assert!(not_found(&tree, "/sub"));
    assert_eq!(transfer_tag(found(&tree, "/sub/deeper/chat")), "chat");
}

#[test]
fn query_is_ignored_by_lookup() {
    let root = TempTree::empty("query");
    root.write("echo_wsh.py", handler("echo"));
    let (tree, _) = load(&options(root.path()));
    assert_eq!(transfer_tag(found(&tree, "/echo?x=1")), "echo");
    assert_eq!(transfer_tag(found(&tree, "/echo?")), "echo");
}

#[test]
fn fragment_on_handled_resource_is_rejected() {
    let root = TempTree::empty("fragment");
    root.write("echo_wsh.py", handler("echo"));
    let (tree, _) = load(&options(root.path()));
    assert!(matches!(tree.lookup("/echo#frag"), Lookup::FragmentOnHandled));
    assert!(matches!(tree.lookup("/echo?x=1#frag"), Lookup::FragmentOnHandled));
    // The fragment is split off before the query: `?` inside it is part of the fragment.
    assert!(matches!(tree.lookup("/echo#frag?x=1"), Lookup::FragmentOnHandled));
    // pywebsocket tests the fragment for truth, so an empty one is served.
    assert_eq!(transfer_tag(found(&tree, "/echo#")), "echo");
}

#[test]
fn fragment_on_unhandled_resource_is_not_found() {
    let root = TempTree::empty("fragment-unhandled");
    root.write("echo_wsh.py", handler("echo"));
    let (tree, _) = load(&options(root.path()));
    assert!(not_found(&tree, "/nothing#frag"));
}

#[test]
fn lookup_is_case_sensitive() {
    let root = TempTree::empty("case");
    root.write("echo_wsh.py", handler("echo"));
    let (tree, _) = load(&options(root.path()));
    assert!(not_found(&tree, "/ECHO"));
    assert!(not_found(&tree, "/Echo"));
}

#[test]
fn upper_case_suffix_is_executed_but_not_registered() {
    let root = TempTree::empty("upper");
    let marker = root.path().join("marker");
    root.write(
        "Foo_WSH.py",
        format!("open({:?}, 'w').write('ran')\n{}", marker.to_str().unwrap(), handler("foo")),
    );
    let (tree, warnings) = load(&options(root.path()));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(fs::read_to_string(&marker).unwrap(), "ran");
    assert!(tree.resources().is_empty(), "{:?}", tree.resources());
    assert!(not_found(&tree, "/Foo"));
    assert!(not_found(&tree, "/Foo_WSH.py"));
}

#[test]
fn syntax_error_is_a_source_warning_and_others_still_load() {
    let root = TempTree::empty("syntax");
    root.write("echo_wsh.py", handler("echo"));
    let bad = root.write("bad_wsh.py", "def web_socket_transfer_data(request:\n");
    let (tree, warnings) = load(&options(root.path()));
    let warning = single_warning(&warnings);
    assert_eq!(warning.path, bad);
    assert!(warning.message.starts_with("Error in sourcing handler:"), "{}", warning.message);
    assert!(warning.message.contains("SyntaxError"), "{}", warning.message);
    assert!(warning.to_string().starts_with(&format!("{}: Error", bad.display())));
    assert_eq!(tree.resources(), ["/echo"]);
}

#[test]
fn exception_at_import_is_a_source_warning_and_others_still_load() {
    let root = TempTree::empty("raise");
    root.write("echo_wsh.py", handler("echo"));
    root.write("raise_wsh.py", format!("{}raise ValueError('boom at import')\n", handler("x")));
    let (tree, warnings) = load(&options(root.path()));
    let warning = single_warning(&warnings);
    assert!(warning.message.starts_with("Error in sourcing handler:"), "{}", warning.message);
    assert!(warning.message.contains("ValueError: boom at import"), "{}", warning.message);
    assert_eq!(tree.resources(), ["/echo"]);
}

#[test]
fn missing_function_is_a_source_warning_and_others_still_load() {
    let root = TempTree::empty("missing");
    root.write("echo_wsh.py", handler("echo"));
    root.write("no_transfer_wsh.py", "def web_socket_do_extra_handshake(request):\n    pass\n");
    root.write("nothing_wsh.py", "x = 1\n");
    let (tree, warnings) = load(&options(root.path()));
    let messages: Vec<&str> = warnings.iter().map(|w| w.message.as_str()).collect();
    // Sorted scan order: no_transfer_wsh.py, then nothing_wsh.py. do_extra_handshake is
    // checked before transfer_data, as pywebsocket does.
    assert_eq!(
        messages,
        [
            "web_socket_transfer_data is not defined.",
            "web_socket_do_extra_handshake is not defined."
        ]
    );
    assert_eq!(tree.resources(), ["/echo"]);
}

#[test]
fn non_callable_function_is_a_source_warning_and_others_still_load() {
    let root = TempTree::empty("noncallable");
    root.write("echo_wsh.py", handler("echo"));
    root.write(
        "number_wsh.py",
        "web_socket_do_extra_handshake = 42\ndef web_socket_transfer_data(request):\n    pass\n",
    );
    let (tree, warnings) = load(&options(root.path()));
    assert_eq!(single_warning(&warnings).message, "web_socket_do_extra_handshake is not callable.");
    assert_eq!(tree.resources(), ["/echo"]);
}

#[test]
fn passive_closing_handshake_is_optional_and_must_be_callable() {
    let root = TempTree::empty("passive");
    root.write(
        "with_wsh.py",
        format!(
            "{}def web_socket_passive_closing_handshake(request):\n    return 1000, ''\n",
            handler("with")
        ),
    );
    root.write(
        "number_wsh.py",
        format!("{}web_socket_passive_closing_handshake = 3\n", handler("number")),
    );
    let (tree, warnings) = load(&options(root.path()));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(found(&tree, "/with").passive_closing_handshake.is_some());
    // pywebsocket falls back to its default handler when the name is not callable.
    assert!(found(&tree, "/number").passive_closing_handshake.is_none());
}

#[test]
fn each_file_runs_in_fresh_globals() {
    let root = TempTree::empty("globals");
    // Sorted scan order runs a_wsh.py before b_wsh.py.
    root.write("a_wsh.py", format!("SHARED = 'a'\n{}", handler("a")));
    root.write(
        "b_wsh.py",
        format!(
            "assert 'SHARED' not in globals(), 'saw a_wsh.py globals'\n\
             assert '__name__' not in globals() and '__file__' not in globals()\n\
             assert '__builtins__' in globals()\n\
             SHARED = 'b'\n{}",
            handler("b")
        ),
    );
    let (tree, warnings) = load(&options(root.path()));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(tree.resources(), ["/a", "/b"]);
    Python::attach(|py| {
        for (target, expected) in [("/a", "a"), ("/b", "b")] {
            let function = found(&tree, target).transfer_data.bind(py);
            let globals = function.getattr("__globals__").unwrap();
            let shared: String = globals.get_item("SHARED").unwrap().extract().unwrap();
            assert_eq!(shared, expected);
        }
    });
}

#[test]
fn symlinked_directory_is_not_followed() {
    let root = TempTree::empty("symdir");
    root.write("real/inner_wsh.py", handler("inner"));
    symlink(root.path().join("real"), root.path().join("linked")).unwrap();
    let (tree, _) = load(&options(root.path()));
    assert_eq!(tree.resources(), ["/real/inner"]);
    assert!(not_found(&tree, "/linked/inner"));
}

#[test]
fn symlinked_file_inside_root_is_loaded_under_the_link_name() {
    let root = TempTree::empty("symfile");
    root.write("echo_wsh.py", handler("echo"));
    let link = root.path().join("alias_wsh.py");
    symlink(root.path().join("echo_wsh.py"), &link).unwrap();
    let (tree, _) = load(&options(root.path()));
    assert_eq!(tree.resources(), ["/alias", "/echo"]);
    assert_eq!(found(&tree, "/alias").path, link);
}

#[test]
fn symlinked_file_outside_root_is_refused_by_default() {
    let root = TempTree::empty("outside-root");
    let outside = TempTree::empty("outside-target");
    let target = outside.write("target_wsh.py", handler("outside"));
    symlink(&target, root.path().join("link_wsh.py")).unwrap();
    let (tree, warnings) = load(&options(root.path()));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(not_found(&tree, "/link"));
    assert!(not_found(&tree, "/target"));
}

#[test]
fn symlinked_file_outside_root_is_allowed_with_flag_and_named_after_the_link() {
    let root = TempTree::empty("outside-allowed");
    let outside = TempTree::empty("outside-allowed-target");
    let target = outside.write("target_wsh.py", handler("outside"));
    let link = root.path().join("link_wsh.py");
    symlink(&target, &link).unwrap();
    let options = LoadOptions { allow_handlers_outside_root: true, ..options(root.path()) };
    let (tree, _) = load(&options);
    assert_eq!(tree.resources(), ["/link"]);
    let handlers = found(&tree, "/link");
    assert_eq!(handlers.path, link);
    assert_eq!(transfer_tag(handlers), "outside");
}

#[test]
fn scan_dir_outside_root_is_a_load_error() {
    let root = TempTree::empty("scan-root");
    let elsewhere = TempTree::empty("scan-elsewhere");
    let options =
        LoadOptions { scan_dir: Some(elsewhere.path().to_path_buf()), ..options(root.path()) };
    let error = HandlerTree::load(&options).unwrap_err();
    assert!(matches!(error, LoadError::ScanDirOutsideRoot { .. }), "{error:?}");
    assert!(error.to_string().contains("must be a directory under root_dir:"));
}

#[test]
fn scan_dir_sharing_a_string_prefix_with_root_is_refused() {
    // pywebsocket compares realpaths as strings, so `/t/bc` passes for root `/t/b`; we don't.
    let parent = TempTree::empty("prefix");
    let root = parent.path().join("b");
    let sibling = parent.path().join("bc");
    parent.write("b/echo_wsh.py", handler("echo"));
    parent.write("bc/other_wsh.py", handler("other"));
    let options = LoadOptions { scan_dir: Some(sibling), ..options(&root) };
    let error = HandlerTree::load(&options).unwrap_err();
    assert!(matches!(error, LoadError::ScanDirOutsideRoot { .. }), "{error:?}");
}

#[test]
fn scan_dir_restricts_loading_while_names_stay_relative_to_root() {
    let root = TempTree::empty("scan-restrict");
    let marker = root.path().join("top-ran");
    root.write(
        "top_wsh.py",
        format!("open({:?}, 'w').write('ran')\n{}", marker.to_str().unwrap(), handler("top")),
    );
    root.write("sub/inner_wsh.py", handler("inner"));
    let options = LoadOptions { scan_dir: Some(root.path().join("sub")), ..options(root.path()) };
    let (tree, _) = load(&options);
    assert_eq!(tree.resources(), ["/sub/inner"]);
    assert!(!marker.exists(), "a file outside the scan dir was executed");
}

#[test]
fn map_file_adds_aliases_top_to_bottom_and_skips_bad_lines() {
    let root = TempTree::empty("map");
    root.write("echo_wsh.py", handler("echo"));
    let map = root.write(
        "handler_map.txt",
        "# comment line\n\
         \n\
         /alias /echo\n\
         /alias2 /alias\n\
         /before_target /later\n\
         /later /echo\n\
         malformed\n\
         /three fields here\n\
         /trailing /echo \n\
         \x20/leading /echo\n\
         /unknown /nowhere\r\n\
         /crlf /echo\r\n",
    );
    let options = LoadOptions { map_file: Some(map), ..options(root.path()) };
    let (tree, _) = load(&options);
    assert_eq!(tree.resources(), ["/alias", "/alias2", "/crlf", "/echo", "/later"]);
    for alias in ["/alias", "/alias2", "/later", "/crlf"] {
        assert_eq!(transfer_tag(found(&tree, alias)), "echo", "{alias}");
    }
    for missing in ["/before_target", "malformed", "/three", "/trailing", "/leading", "/unknown"] {
        assert!(not_found(&tree, missing), "{missing}");
    }
}

#[test]
fn map_file_that_cannot_be_read_is_a_load_error() {
    let root = TempTree::empty("map-missing");
    let options =
        LoadOptions { map_file: Some(root.path().join("no-such-map")), ..options(root.path()) };
    assert!(matches!(HandlerTree::load(&options), Err(LoadError::MapFile { .. })));
}

#[test]
fn handler_encoding_latin_1_reads_a_latin_1_file() {
    let root = TempTree::empty("latin1");
    let mut source = b"# caf\xe9\n".to_vec();
    source.extend_from_slice(handler("caf\u{e9}").replace('\u{e9}', "\\xe9").as_bytes());
    source.extend_from_slice(b"NAME = 'caf\xe9'\nassert NAME == 'caf\\xe9'\n");
    root.write("latin_wsh.py", &source);

    let latin = LoadOptions { encoding: Some("latin-1".into()), ..options(root.path()) };
    let (tree, warnings) = load(&latin);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(transfer_tag(found(&tree, "/latin")), "caf\u{e9}");

    // The default is UTF-8, which cannot decode the 0xE9 byte.
    let (tree, warnings) = load(&options(root.path()));
    let warning = single_warning(&warnings);
    assert!(warning.message.starts_with("cannot decode as utf-8:"), "{}", warning.message);
    assert!(not_found(&tree, "/latin"));
}

#[test]
fn unknown_handler_encoding_is_a_load_error() {
    let root = TempTree::empty("bad-encoding");
    let options = LoadOptions { encoding: Some("no-such-codec".into()), ..options(root.path()) };
    assert!(matches!(HandlerTree::load(&options), Err(LoadError::UnknownEncoding { .. })));
}

#[test]
fn missing_root_is_a_load_error() {
    let root = TempTree::empty("gone");
    let options = options(&root.path().join("does-not-exist"));
    assert!(matches!(HandlerTree::load(&options), Err(LoadError::Root { .. })));
}
