"""Handler dispatch for hosts that own the connection: ``Dispatcher``.

wshd's own server loads and dispatches handlers itself. A host that accepts the
connection and runs the opening handshake (wptserve's HTTP/2 WebSockets, through
``handshake.base.HandshakerBase``) uses a ``Dispatcher``: it loads a handler tree with
the server's loader, runs a handler's hooks, and runs the transfer phase with wshd's
core over the host's ``request.connection`` (``read(n)``/``write(data)``). It needs the
installed package's ``wshd._native``; inside the ``wshd`` binary only the exception is
available.
"""

from pywebsocket3 import common
from pywebsocket3 import handshake

_DO_EXTRA_HANDSHAKE = 'web_socket_do_extra_handshake'


class DispatchException(Exception):
    """Handler lookup failed; status is the HTTP status to answer with."""

    def __init__(self, name, status=common.HTTP_STATUS_NOT_FOUND):
        super(DispatchException, self).__init__(name)
        self.status = status


def _native():
    try:
        from wshd import _native
    except ImportError as e:
        raise DispatchException(
            'Dispatcher needs the installed wshd package (pip install .): %s' % e, 500)
    return _native


class Dispatcher(object):
    """The handlers under ``root_dir`` (only those below ``scan_dir``, if given), for a
    host that owns its connections."""

    def __init__(self, root_dir, scan_dir=None,
                 allow_handlers_outside_root_dir=True, handler_encoding=None):
        self._native = _native()
        self._suites = self._native.HandlerSuites(
            root_dir, scan_dir, allow_handlers_outside_root_dir, handler_encoding)

    def add_resource_path_alias(self, alias_resource_path, existing_resource_path):
        try:
            self._suites.alias(alias_resource_path, existing_resource_path)
        except KeyError:
            raise DispatchException('No handler for: %r' % existing_resource_path)

    def source_warnings(self):
        return self._suites.warnings()

    def get_handler_suite(self, resource):
        """The hooks serving ``resource`` (its query ignored), or None. A fragment on a
        served resource raises HandshakeException (400)."""
        try:
            return self._suites.find(resource)
        except ValueError as e:
            raise handshake.HandshakeException(
                str(e), common.HTTP_STATUS_BAD_REQUEST)

    def _suite(self, request):
        suite = self.get_handler_suite(request.ws_resource)
        if suite is None:
            raise DispatchException('No handler for: %r' % request.ws_resource)
        return suite

    def do_extra_handshake(self, request):
        """Runs the handler's ``web_socket_do_extra_handshake``; any exception but
        AbortedByUserException refuses the handshake with 403."""
        suite = self._suite(request)
        try:
            suite.do_extra_handshake(request)
        except handshake.AbortedByUserException:
            raise
        except Exception as e:
            raise handshake.HandshakeException(
                '%s raised exception for %s: %s' % (
                    _DO_EXTRA_HANDSHAKE, request.ws_resource, e),
                common.HTTP_STATUS_FORBIDDEN)

    def transfer_data(self, request):
        """Runs ``web_socket_transfer_data`` over ``request.connection`` and ends the
        WebSocket as wshd's server does (the closing handshake, close codes for
        exceptions)."""
        suite = self._suite(request)
        # What the request of wshd's own server carries into the transfer phase.
        request.client_terminated = False
        request.server_terminated = False
        request.ws_close_code = None
        request.ws_close_reason = None
        self._native.transfer_data(
            request, suite, getattr(request, '_wshd_deflate', None))

    def passive_closing_handshake(self, request):
        """The handler's answer to the peer's close, or (1000, '')."""
        hook = self._suite(request).passive_closing_handshake
        if hook is None:
            return common.STATUS_NORMAL_CLOSURE, ''
        return hook(request)
