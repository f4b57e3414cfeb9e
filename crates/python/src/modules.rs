//! The Python modules handlers import: `pywebsocket3.*`, also importable as
//! `mod_pywebsocket.*`, served from sources compiled into the binary.
//!
//! [`install`] puts a finder on `sys.meta_path` for the embedded package, which compiles a
//! module on its first import and finds `mod_pywebsocket.X` as the same module object as
//! `pywebsocket3.X`, so `import mod_pywebsocket`, `from mod_pywebsocket import msgutil` and
//! `import pywebsocket3.stream` all give the same module objects. It also loads `_wshd`, this crate's own Python helpers. It does not
//! define the modules' contents: those are the `.py` files under `python/pywebsocket3/`
//! and `src/py/`.

use pyo3::prelude::*;
use pyo3::types::PyDict;

include!(concat!(env!("OUT_DIR"), "/embedded_modules.rs"));

/// wshd's own helper module: the `request` object's classes.
const WSHD_HELPERS: &str = include_str!("py/_wshd.py");

/// The finder: a meta-path finder and loader over a dict of embedded sources. A module is
/// compiled when it is first imported (a handler tree that never imports `msgutil` never
/// pays for it), and `mod_pywebsocket.X` is found as the module object `pywebsocket3.X`.
const FINDER: &str = r#"
import importlib, importlib.util, sys

OLD, NEW = 'mod_pywebsocket', 'pywebsocket3'

# Plain classes: importlib.abc would import importlib.resources (9 ms of start-up).
class EmbeddedFinder(object):
    """Finds and loads the modules wshd embeds (pywebsocket3.*, _wshd), and aliases
    mod_pywebsocket.* to them."""

    def __init__(self, sources):
        self.sources = sources  # name -> (is_package, source)

    def find_spec(self, fullname, path=None, target=None):
        real = fullname
        if fullname == OLD or fullname.startswith(OLD + '.'):
            real = NEW + fullname[len(OLD):]
        entry = self.sources.get(real)
        if entry is None:
            return None
        spec = importlib.util.spec_from_loader(
            fullname, self, origin='<wshd>/' + real, is_package=entry[0])
        spec.loader_state = real if real != fullname else None
        return spec

    def create_module(self, spec):
        if spec.loader_state is None:
            return None
        # An alias: the real module, imported (once) under its own name.
        module = importlib.import_module(spec.loader_state)
        spec.loader_state = module.__spec__
        return module

    def exec_module(self, module):
        spec = module.__spec__
        if spec.loader_state is not None:
            # An alias: the import system set the alias spec; put the real one back.
            module.__spec__ = spec.loader_state
            return
        is_package, source = self.sources[spec.name]
        if is_package:
            module.__path__ = []
        code = compile(source, spec.origin, 'exec')
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
    py.import("_wshd")?;
    Ok(())
}
