"""RFC 6455 handshake helpers (pure computation only)."""

import base64
import hashlib

from pywebsocket3 import common
from pywebsocket3.handshake.base import AbortedByUserException
from pywebsocket3.handshake.base import HandshakeException
from pywebsocket3.handshake.base import VersionException
from pywebsocket3.handshake.base import get_default_port
from pywebsocket3.handshake.base import get_mandatory_header
from pywebsocket3.handshake.base import parse_host_header
from pywebsocket3.handshake.base import parse_token_list
from pywebsocket3.handshake.base import validate_mandatory_header
from pywebsocket3.handshake.base import validate_subprotocol


def compute_accept(key):
    """Sec-WebSocket-Accept value (bytes) for a Sec-WebSocket-Key (bytes):
    base64(SHA-1(key + GUID))."""
    digest = hashlib.sha1(key + common.WEBSOCKET_ACCEPT_UUID).digest()
    return base64.b64encode(digest)


def compute_accept_from_unicode(unicode_key):
    """compute_accept for a str key (UTF-8 encoded first); returns bytes."""
    return compute_accept(unicode_key.encode('UTF-8'))


def check_request_line(request):
    """Raises HandshakeException (no status) unless request.method is 'GET'
    and request.protocol is 'HTTP/1.1'."""
    if request.method != 'GET':
        raise HandshakeException('Method is not GET: %r' % request.method)
    if request.protocol != 'HTTP/1.1':
        raise HandshakeException(
            'Version is not HTTP/1.1: %r' % request.protocol)


def format_header(name, value):
    return '%s: %s\r\n' % (name, value)
