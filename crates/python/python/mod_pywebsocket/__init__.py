"""``mod_pywebsocket``: the older name of ``pywebsocket3``, for Firefox's mochitest
handlers, older Chromium handlers and harnesses that import it.

``import mod_pywebsocket.X`` gives the very module object ``pywebsocket3.X`` (so an
exception class caught under one name is the one raised under the other), and
``mod_pywebsocket`` itself is ``pywebsocket3``. A finder on ``sys.meta_path`` does the
aliasing on first import of each name; no module is loaded twice. This package holds no
code of its own besides.
"""

import importlib
import importlib.util
import sys

import pywebsocket3

_OLD = __name__
_NEW = 'pywebsocket3'


class _AliasFinder(object):
    """Finds ``mod_pywebsocket.X`` as the already-importable ``pywebsocket3.X``. (A plain
    class: importlib.abc would import importlib.resources, a few ms of start-up.)"""

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(_OLD + '.'):
            return None
        real_name = _NEW + fullname[len(_OLD):]
        if importlib.util.find_spec(real_name) is None:
            return None
        spec = importlib.util.spec_from_loader(fullname, self)
        spec.loader_state = real_name
        return spec

    def create_module(self, spec):
        module = importlib.import_module(spec.loader_state)
        spec.loader_state = module.__spec__
        return module

    def exec_module(self, module):
        # The import system has set the alias spec on the module; put the real one back.
        module.__spec__ = module.__spec__.loader_state


if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _AliasFinder())
for _name, _module in list(sys.modules.items()):
    if _name.startswith(_NEW + '.'):
        sys.modules.setdefault(_OLD + _name[len(_NEW):], _module)
sys.modules[_OLD] = pywebsocket3
