//! The Python modules handlers import: `pywebsocket3.*`, also importable as
//! `mod_pywebsocket.*`, served from sources compiled into the binary.
//!
//! [`install`] puts a finder on `sys.meta_path` for the embedded package, imports every
//! module of it once, and registers each under both names, so `import mod_pywebsocket`,
//! `from mod_pywebsocket import msgutil` and `import pywebsocket3.stream` all give the same
//! module objects. It also loads `_wshd`, this crate's own Python helpers. It does not
//! define the modules' contents: those are the `.py` files under `python/pywebsocket3/`
//! and `src/py/`.

use pyo3::prelude::*;
use pyo3::types::PyDict;

include!(concat!(env!("OUT_DIR"), "/embedded_modules.rs"));

/// wshd's own helper module: the `request` object's classes.
const WSHD_HELPERS: &str = include_str!("py/_wshd.py");

/// The finder: a meta-path finder and loader over a dict of embedded sources.
const FINDER: &str = r#"
import importlib.abc, importlib.util, sys

class EmbeddedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds and loads the modules wshd embeds (pywebsocket3.*, _wshd)."""

    def __init__(self, sources):
        self.sources = sources  # name -> (is_package, source)

    def find_spec(self, fullname, path=None, target=None):
        entry = self.sources.get(fullname)
        if entry is None:
            return None
        return importlib.util.spec_from_loader(
            fullname, self, origin='<wshd>/' + fullname, is_package=entry[0])

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        is_package, source = self.sources[module.__spec__.name]
        if is_package:
            module.__path__ = []
        code = compile(source, module.__spec__.origin, 'exec')
        exec(code, module.__dict__)
"#;

/// Installs `_wshd` and, with `embed_package`, the embedded `pywebsocket3` package under
/// both names; call once, with the interpreter running. Without `embed_package` (wshd
/// imported by a Python program) the installed packages are used.
pub(crate) fn install(py: Python<'_>, embed_package: bool) -> PyResult<()> {
    let sources = PyDict::new(py);
    let package: &[(&str, bool, &str)] = if embed_package { MODULES } else { &[] };
    for (name, is_package, source) in package {
        sources.set_item(name, (*is_package, *source))?;
    }
    sources.set_item("_wshd", (false, WSHD_HELPERS))?;
    let globals = PyDict::new(py);
    py.run(&std::ffi::CString::new(FINDER).expect("no NUL in the finder"), Some(&globals), None)?;
    let finder = globals.get_item("EmbeddedFinder")?.expect("defined above").call1((sources,))?;
    let sys = py.import("sys")?;
    sys.getattr("meta_path")?.call_method1("insert", (0, finder))?;
    let modules = sys.getattr("modules")?;
    for (name, _, _) in package {
        let module = py.import(*name)?;
        let alias = format!("mod_pywebsocket{}", &name["pywebsocket3".len()..]);
        modules.set_item(alias, module)?;
    }
    py.import("_wshd")?;
    Ok(())
}
