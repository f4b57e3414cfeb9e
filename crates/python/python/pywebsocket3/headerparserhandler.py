"""wshd inside Apache, through mod_python, configured as pywebsocket was::

    PythonPath "sys.path+['<the directory holding wshd's package>']"
    PythonInterpreter main_interpreter
    PythonOption mod_pywebsocket.handler_root <websock_handlers>
    PythonOption mod_pywebsocket.handler_scan <scan_dir>
    PythonOption mod_pywebsocket.allow_handlers_outside_root_dir On
    PythonHeaderParserHandler mod_pywebsocket.headerparserhandler

``headerparserhandler(request)`` takes the WebSocket handshakes for resources that have a
handler: it checks the request, runs the handler's ``web_socket_do_extra_handshake``,
writes the 101 on Apache's connection, and runs the transfer phase with wshd's core over
that connection (``dispatch.Dispatcher.transfer_data``). Every other request is declined,
so Apache serves it as usual. A refused handshake gets its status from Apache.

``PythonInterpreter main_interpreter`` is needed because wshd's extension module
(``wshd._native``) cannot load in a sub-interpreter, which is what mod_python gives each
virtual host by default. This module holds no server: Apache owns the sockets, the TLS
(mod_ssl) and the threads.
"""

import base64
import binascii
import threading

from pywebsocket3 import common
from pywebsocket3 import dispatch
from pywebsocket3.handshake import base
from pywebsocket3.handshake import hybi

_OPTION_ROOT = 'mod_pywebsocket.handler_root'
_OPTION_SCAN = 'mod_pywebsocket.handler_scan'
_OPTION_ALLOW_OUTSIDE = 'mod_pywebsocket.allow_handlers_outside_root_dir'

_dispatchers = {}
_dispatchers_lock = threading.Lock()


def _flag(value):
    return (value or '').strip().lower() in ('on', 'true', 'yes', '1')


def _dispatcher(request):
    """The handler tree the request's PythonOptions name, loaded once per process."""
    options = request.get_options()
    root = options.get(_OPTION_ROOT)
    if not root:
        raise dispatch.DispatchException(
            'PythonOption %s is not set: it names the handler root' % _OPTION_ROOT, 500)
    key = (root, options.get(_OPTION_SCAN) or root, _flag(options.get(_OPTION_ALLOW_OUTSIDE)))
    with _dispatchers_lock:
        found = _dispatchers.get(key)
        if found is None:
            found = dispatch.Dispatcher(key[0], key[1], key[2])
            _dispatchers[key] = found
    return found


def _is_upgrade(request):
    upgrade = request.headers_in.get(common.UPGRADE_HEADER)
    return upgrade is not None and upgrade.strip().lower() == common.WEBSOCKET_UPGRADE_TYPE


class _Handshaker(base.HandshakerBase):
    """RFC 6455's opening handshake over mod_python's request: the 101 is written on the
    connection, as pywebsocket wrote it (Apache's own response would be wrong for it)."""

    def _protocol_rfc(self):
        return 'RFC 6455'

    def _transform_header(self, header):
        return header

    def _validate_request(self):
        request = self._request
        hybi.check_request_line(request)
        connection = request.headers_in.get(common.CONNECTION_HEADER) or ''
        tokens = [t.strip().lower() for t in connection.split(',')]
        if common.UPGRADE_CONNECTION_TYPE.lower() not in tokens:
            raise base.HandshakeException(
                'Connection header does not contain Upgrade: %r' % connection)
        key = base.get_mandatory_header(request, common.SEC_WEBSOCKET_KEY_HEADER)
        try:
            decoded = base64.b64decode(key.encode('ascii'), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            decoded = b''
        if len(decoded) != 16:
            raise base.HandshakeException(
                'Sec-WebSocket-Key is not 16 bytes in base64: %r' % key)
        self._key = key

    def _set_accept(self):
        self._accept = hybi.compute_accept_from_unicode(self._key).decode('ascii')

    def _send_handshake(self):
        request = self._request
        lines = ['HTTP/1.1 101 Switching Protocols\r\n',
                 hybi.format_header(common.UPGRADE_HEADER, common.WEBSOCKET_UPGRADE_TYPE),
                 hybi.format_header(common.CONNECTION_HEADER, common.UPGRADE_CONNECTION_TYPE),
                 hybi.format_header(common.SEC_WEBSOCKET_ACCEPT_HEADER, self._accept)]
        if request.ws_protocol is not None:
            lines.append(hybi.format_header(common.SEC_WEBSOCKET_PROTOCOL_HEADER,
                                            request.ws_protocol))
        if request.ws_extensions:
            lines.append(hybi.format_header(common.SEC_WEBSOCKET_EXTENSIONS_HEADER,
                                            common.format_extensions(request.ws_extensions)))
        for name, value in request.extra_headers:
            lines.append(hybi.format_header(name, value))
        lines.append('\r\n')
        request.connection.write(''.join(lines).encode('UTF-8'))


def headerparserhandler(request):
    """mod_python's header-parser phase: serves the WebSocket handshake of a resource
    that has a handler, and declines everything else."""
    from mod_python import apache

    if not _is_upgrade(request):
        return apache.DECLINED
    try:
        dispatcher = _dispatcher(request)
        if dispatcher.get_handler_suite(request.uri) is None:
            return apache.DECLINED
        handshaker = _Handshaker(request, dispatcher)
        handshaker.do_handshake()
    except dispatch.DispatchException as e:
        request.log_error('mod_pywebsocket: %s' % e, apache.APLOG_ERR)
        return e.status
    except base.VersionException as e:
        request.log_error('mod_pywebsocket: %s' % e, apache.APLOG_INFO)
        request.err_headers_out[common.SEC_WEBSOCKET_VERSION_HEADER] = e.supported_versions
        return apache.HTTP_BAD_REQUEST
    except base.HandshakeException as e:
        request.log_error('mod_pywebsocket: handshake refused: %s' % e, apache.APLOG_INFO)
        return e.status
    except base.AbortedByUserException as e:
        request.log_error('mod_pywebsocket: handshake aborted by the handler: %s' % e,
                          apache.APLOG_INFO)
        return _done(request, apache)
    dispatcher.transfer_data(request)
    return _done(request, apache)


def _done(request, apache):
    """The connection carried a WebSocket (or an aborted handshake). DONE alone would
    let Apache finish the request with a response of its own, written after the
    WebSocket's last frame: ``assbackwards`` (an HTTP/0.9 response, which has no status
    line or headers) leaves it nothing to write. Then Apache must end the connection,
    not wait for another request on it: the client expects the server to close TCP after
    the closing handshake (RFC 6455 section 7.1.1)."""
    request.assbackwards = 1
    request.connection.keepalive = apache.AP_CONN_CLOSE
    return apache.DONE
