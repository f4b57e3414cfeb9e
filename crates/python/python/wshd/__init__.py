"""wshd: a WebSocket server for pywebsocket handler trees, installed as a Python package.

``pip install`` gives three packages and a command:

* ``pywebsocket3`` and ``mod_pywebsocket`` (one package under two names): the modules
  handlers import, and ``standalone``, which harnesses start the server through;
* ``wshd``: this package, with ``wshd._native``, the server itself (Rust), which runs
  in the importing interpreter;
* the ``wshd`` command, ``python -m wshd`` and ``python -m pywebsocket3.standalone``,
  which take pywebsocket's ``standalone.py`` options.
"""

from wshd._native import __version__  # noqa: F401
