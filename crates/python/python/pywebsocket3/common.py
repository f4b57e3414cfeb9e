"""Protocol constants and Sec-WebSocket-Extensions helpers."""

from pywebsocket3 import http_header_util

# Log level below DEBUG used for very verbose logging.
LOGLEVEL_FINE = 9

# Protocol versions.  Only RFC 6455 (13) is implemented by wshd; the older
# values exist so that code referring to them keeps importing.
VERSION_HIXIE75 = -1
VERSION_HYBI00 = 0
VERSION_HYBI01 = 1
VERSION_HYBI02 = 2
VERSION_HYBI03 = 2
VERSION_HYBI04 = 4
VERSION_HYBI05 = 5
VERSION_HYBI06 = 6
VERSION_HYBI07 = 7
VERSION_HYBI08 = 8
VERSION_HYBI09 = 8
VERSION_HYBI10 = 8
VERSION_HYBI11 = 8
VERSION_HYBI12 = 8
VERSION_HYBI13 = 13
VERSION_HYBI14 = 13
VERSION_HYBI15 = 13
VERSION_HYBI16 = 13
VERSION_HYBI17 = 13
VERSION_HYBI_LATEST = VERSION_HYBI13

# Ports and schemes.
DEFAULT_WEB_SOCKET_PORT = 80
DEFAULT_WEB_SOCKET_SECURE_PORT = 443
WEB_SOCKET_SCHEME = 'ws'
WEB_SOCKET_SECURE_SCHEME = 'wss'

# Frame opcodes (RFC 6455 section 5.2).
OPCODE_CONTINUATION = 0x0
OPCODE_TEXT = 0x1
OPCODE_BINARY = 0x2
OPCODE_CLOSE = 0x8
OPCODE_PING = 0x9
OPCODE_PONG = 0xA

# GUID appended to Sec-WebSocket-Key (RFC 6455 section 1.3).
WEBSOCKET_ACCEPT_UUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

# Header names and values.
UPGRADE_HEADER = 'Upgrade'
WEBSOCKET_UPGRADE_TYPE = 'websocket'
WEBSOCKET_UPGRADE_TYPE_HIXIE75 = 'WebSocket'
CONNECTION_HEADER = 'Connection'
UPGRADE_CONNECTION_TYPE = 'Upgrade'
HOST_HEADER = 'Host'
ORIGIN_HEADER = 'Origin'
SEC_WEBSOCKET_ORIGIN_HEADER = 'Sec-WebSocket-Origin'
SEC_WEBSOCKET_KEY_HEADER = 'Sec-WebSocket-Key'
SEC_WEBSOCKET_ACCEPT_HEADER = 'Sec-WebSocket-Accept'
SEC_WEBSOCKET_VERSION_HEADER = 'Sec-WebSocket-Version'
SEC_WEBSOCKET_PROTOCOL_HEADER = 'Sec-WebSocket-Protocol'
SEC_WEBSOCKET_EXTENSIONS_HEADER = 'Sec-WebSocket-Extensions'
SEC_WEBSOCKET_DRAFT_HEADER = 'Sec-WebSocket-Draft'
SEC_WEBSOCKET_KEY1_HEADER = 'Sec-WebSocket-Key1'
SEC_WEBSOCKET_KEY2_HEADER = 'Sec-WebSocket-Key2'
SEC_WEBSOCKET_LOCATION_HEADER = 'Sec-WebSocket-Location'

# Extension names (current and historical).
PERMESSAGE_DEFLATE_EXTENSION = 'permessage-deflate'
DEFLATE_FRAME_EXTENSION = 'deflate-frame'
X_WEBKIT_DEFLATE_FRAME_EXTENSION = 'x-webkit-deflate-frame'
DEFLATE_STREAM_EXTENSION = 'deflate-stream'
PERFRAME_COMPRESSION_EXTENSION = 'perframe-compress'
PERMESSAGE_COMPRESSION_EXTENSION = 'permessage-compress'
X_WEBKIT_PERMESSAGE_COMPRESSION_EXTENSION = 'x-webkit-permessage-compress'
MUX_EXTENSION = 'mux_DO_NOT_USE'

# Close status codes (RFC 6455 section 7.4).
STATUS_NORMAL_CLOSURE = 1000
STATUS_GOING_AWAY = 1001
STATUS_PROTOCOL_ERROR = 1002
STATUS_UNSUPPORTED_DATA = 1003
STATUS_NO_STATUS_RECEIVED = 1005
STATUS_ABNORMAL_CLOSURE = 1006
STATUS_INVALID_FRAME_PAYLOAD_DATA = 1007
STATUS_POLICY_VIOLATION = 1008
STATUS_MESSAGE_TOO_BIG = 1009
STATUS_MANDATORY_EXTENSION = 1010
STATUS_INTERNAL_ENDPOINT_ERROR = 1011
STATUS_TLS_HANDSHAKE = 1015
STATUS_USER_REGISTERED_BASE = 3000
STATUS_USER_REGISTERED_MAX = 3999
STATUS_USER_PRIVATE_BASE = 4000
STATUS_USER_PRIVATE_MAX = 4999

# Obsolete aliases kept for old handlers.
STATUS_NORMAL = STATUS_NORMAL_CLOSURE
STATUS_UNSUPPORTED = STATUS_UNSUPPORTED_DATA
STATUS_CODE_NOT_AVAILABLE = STATUS_NO_STATUS_RECEIVED
STATUS_ABNORMAL_CLOSE = STATUS_ABNORMAL_CLOSURE
STATUS_INVALID_FRAME_PAYLOAD = STATUS_INVALID_FRAME_PAYLOAD_DATA
STATUS_MANDATORY_EXT = STATUS_MANDATORY_EXTENSION

# HTTP status codes used by the handshake.
HTTP_STATUS_BAD_REQUEST = 400
HTTP_STATUS_FORBIDDEN = 403
HTTP_STATUS_NOT_FOUND = 404


def is_control_opcode(opcode):
    """True for control opcodes (0x8-0xF)."""
    return (opcode >> 3) == 1


class ExtensionParameter(object):
    """One entry of a Sec-WebSocket-Extensions header: a name plus an
    ordered list of (name, value) parameters; value is None when the
    parameter has no value."""

    def __init__(self, name):
        self._name = name
        self._parameters = []

    def name(self):
        return self._name

    def add_parameter(self, name, value):
        self._parameters.append((name, value))

    def get_parameters(self):
        return self._parameters

    def get_parameter_names(self):
        return [n for n, _ in self._parameters]

    def has_parameter(self, name):
        return any(n == name for n, _ in self._parameters)

    def get_parameter_value(self, name):
        """Value of the first parameter called name, or None."""
        for n, v in self._parameters:
            if n == name:
                return v
        return None

    def __repr__(self):
        return 'ExtensionParameter(%r, %r)' % (self._name, self._parameters)


class ExtensionParsingException(Exception):
    """A Sec-WebSocket-Extensions value could not be parsed."""

    def __init__(self, name):
        super(ExtensionParsingException, self).__init__(name)


def _parse_param(state, extension):
    hu = http_header_util
    name = hu.consume_token(state)
    if name is None:
        raise ExtensionParsingException('No valid parameter name found')
    hu.consume_lwses(state)
    if not hu.consume_string(state, '='):
        extension.add_parameter(name, None)
        return
    hu.consume_lwses(state)
    value = hu.consume_token_or_quoted_string(state)
    if value is None:
        raise ExtensionParsingException(
            'No valid parameter value found on the right-hand side of '
            'parameter %r' % name)
    extension.add_parameter(name, value)


def _parse_one_extension(state):
    hu = http_header_util
    token = hu.consume_token(state)
    if token is None:
        return None
    extension = ExtensionParameter(token)
    while True:
        hu.consume_lwses(state)
        if not hu.consume_string(state, ';'):
            break
        hu.consume_lwses(state)
        try:
            _parse_param(state, extension)
        except ExtensionParsingException as e:
            raise ExtensionParsingException(
                'Failed to parse parameter for %r (%r)' % (token, e))
    return extension


def parse_extensions(data):
    """Parses a Sec-WebSocket-Extensions value into a list of
    ExtensionParameter.  Leading LWS must already be trimmed.  Empty list
    elements are skipped; raises ExtensionParsingException on malformed
    input or when no extension is found."""
    hu = http_header_util
    state = hu.ParsingState(data)
    result = []
    while True:
        extension = _parse_one_extension(state)
        if extension is not None:
            result.append(extension)
        hu.consume_lwses(state)
        if hu.peek(state) is None:
            break
        if not hu.consume_string(state, ','):
            raise ExtensionParsingException(
                'Failed to parse Sec-WebSocket-Extensions header: '
                'Expected a comma but found %r' % hu.peek(state))
        hu.consume_lwses(state)
    if not result:
        raise ExtensionParsingException('No valid extension entry found')
    return result


def format_extension(extension):
    """Formats one ExtensionParameter: 'name; a; b=c' (values quoted when
    they are not tokens)."""
    parts = [extension.name()]
    for name, value in extension.get_parameters():
        if value is None:
            parts.append(name)
        else:
            parts.append('%s=%s' % (
                name, http_header_util.quote_if_necessary(value)))
    return '; '.join(parts)


def format_extensions(extension_list):
    """Formats a list of ExtensionParameter joined by ', '."""
    return ', '.join(format_extension(e) for e in extension_list)
