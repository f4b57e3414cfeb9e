"""Handshake exceptions and pure helpers shared by handshake code.

The opening handshake itself is performed by the server (Rust); this
module holds only the exceptions and side-effect-free helpers.
"""

from pywebsocket3 import common
from pywebsocket3 import http_header_util


class AbortedByUserException(Exception):
    """Raised by a handler to drop the TCP connection without the server
    sending anything more (no handshake response, no Close frame)."""


class HandshakeException(Exception):
    """The opening handshake failed.  status is the HTTP status to answer
    with (None: try the next handshaker / default 400)."""

    def __init__(self, name, status=None):
        super(HandshakeException, self).__init__(name)
        self.status = status


class VersionException(Exception):
    """Unsupported Sec-WebSocket-Version.  supported_versions is the value
    of the Sec-WebSocket-Version header sent with the 400 response."""

    def __init__(self, name, supported_versions=''):
        super(VersionException, self).__init__(name)
        self.supported_versions = supported_versions


def get_default_port(is_secure):
    return (common.DEFAULT_WEB_SOCKET_SECURE_PORT if is_secure
            else common.DEFAULT_WEB_SOCKET_PORT)


def validate_subprotocol(subprotocol):
    """Raises HandshakeException unless subprotocol is a single non-empty
    HTTP token (RFC 6455 sections 4.1 and 11.3.4)."""
    if not subprotocol:
        raise HandshakeException('Invalid subprotocol name: empty')
    state = http_header_util.ParsingState(subprotocol)
    http_header_util.consume_token(state)
    rest = http_header_util.peek(state)
    if rest is not None:
        raise HandshakeException(
            'Invalid non-token string in subprotocol name: %r' % rest)


def parse_host_header(request):
    """(host, port) from request.headers_in['Host']; the port defaults to
    80/443 according to request.is_https()."""
    fields = request.headers_in[common.HOST_HEADER].split(':', 1)
    if len(fields) == 1:
        return fields[0], get_default_port(request.is_https())
    try:
        return fields[0], int(fields[1])
    except ValueError as e:
        raise HandshakeException('Invalid port number format: %r' % e)


def get_mandatory_header(request, key):
    value = request.headers_in.get(key)
    if value is None:
        raise HandshakeException('Header %s is not defined' % key)
    return value


def validate_mandatory_header(request, key, expected_value, fail_status=None):
    """Raises HandshakeException(status=fail_status) unless the header is
    present and equals expected_value case-insensitively."""
    value = get_mandatory_header(request, key)
    if value.lower() != expected_value.lower():
        raise HandshakeException(
            'Expected %r for header %s but found %r (case-insensitive)' %
            (expected_value, key, value), status=fail_status)


def parse_token_list(data):
    """Parses a 1#token header value into a list of tokens.  Empty list
    elements are skipped.  Raises HandshakeException on a non-token or when
    no token is found.  Leading LWS must already be trimmed."""
    hu = http_header_util
    state = hu.ParsingState(data)
    tokens = []
    while True:
        token = hu.consume_token(state)
        if token is not None:
            tokens.append(token)
        hu.consume_lwses(state)
        if hu.peek(state) is None:
            break
        if not hu.consume_string(state, ','):
            raise HandshakeException(
                'Expected a comma but found %r' % hu.peek(state))
        hu.consume_lwses(state)
    if not tokens:
        raise HandshakeException('No valid token found')
    return tokens


class HandshakerBase(object):
    """The opening-handshake template that hosts with a connection of their own subclass
    (wptserve's HTTP/2 ``WsH2Handshaker``): ``_validate_request``, ``_transform_header``,
    ``_protocol_rfc``, ``_set_accept`` and ``_send_handshake`` are the subclass's.

    wshd does the handshakes of its own connections in Rust, and cannot yet run a
    WebSocket over a connection object a host hands over (an HTTP/2 stream): so
    ``do_handshake`` validates the request with the subclass's checks, then refuses with
    ``HandshakeException`` status 501 (Not Implemented), which wptserve answers. The class
    exists so that ``import wptserve`` (and so ``wptserve.stash``) works with this package.
    """

    def __init__(self, request, dispatcher):
        self._request = request
        self._dispatcher = dispatcher

    def _protocol_rfc(self):
        raise AssertionError('subclasses implement _protocol_rfc')

    def _transform_header(self, header):
        raise AssertionError('subclasses implement _transform_header')

    def _validate_request(self):
        raise AssertionError('subclasses implement _validate_request')

    def _set_accept(self):
        raise AssertionError('subclasses implement _set_accept')

    def _send_handshake(self):
        raise AssertionError('subclasses implement _send_handshake')

    def do_handshake(self):
        """Raises HandshakeException: 400 (or the subclass's status) for a request the
        subclass's checks refuse, else 501."""
        try:
            self._validate_request()
        except HandshakeException as e:
            if not e.status:
                e.status = common.HTTP_STATUS_BAD_REQUEST
            raise
        raise HandshakeException(
            'wshd cannot run a WebSocket over a connection object handed over by the host '
            '(%s) yet' % self._protocol_rfc(), status=501)
