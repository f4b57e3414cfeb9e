"""wshd's pywebsocket compatibility package.

This package lets existing pywebsocket handler trees (``*_wsh.py`` files)
run unchanged inside wshd, a Rust WebSocket server that embeds CPython.  It
provides, under the package name ``pywebsocket3`` (the server also aliases
every module as ``mod_pywebsocket.<name>``), the pure-Python parts of the
pywebsocket API that handlers use: constants, exceptions, frame-building
helpers, ``msgutil`` wrappers, header-parsing utilities and extension
processor objects.

What it is NOT:

* It is not pywebsocket.  No code was copied from pywebsocket; the modules
  were written from a description of its public behaviour.
* It contains no server: there is no ``standalone``, ``websocket_server``,
  ``request_handler``, ``dispatch.Dispatcher`` or ``handshake.do_handshake``.
  Networking, the opening handshake, dispatch and framing on the wire are
  done in Rust.
* ``stream.Stream`` (the object found at ``request.ws_stream``) and the
  ``request`` object passed to handlers are provided by the server, not by
  this package.
"""
