"""Handshake exceptions, helpers shared by handshake code, and the handshake over a
connection a host owns (``HandshakerBase``).

The opening handshake of wshd's own connections is performed by the server (Rust).
"""

from pywebsocket3 import common
from pywebsocket3 import extensions
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
    """The opening handshake over a connection a host owns (wptserve's HTTP/2
    ``WsH2Handshaker``, RFC 8441). The subclass supplies ``_validate_request``,
    ``_transform_header`` (header names as the host's request spells them),
    ``_protocol_rfc``, ``_set_accept`` and ``_send_handshake`` (which prepares the
    host's response); ``do_handshake`` does the rest as pywebsocket did: the version,
    origin, subprotocols and extension offers are read into the request, the handler's
    ``web_socket_do_extra_handshake`` runs through the dispatcher, and its choices are
    checked. permessage-deflate is negotiated by wshd's core; the transfer phase then
    runs through ``dispatch.Dispatcher.transfer_data``.
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

    def _header(self, name):
        return self._request.headers_in.get(self._transform_header(name))

    def _check_version(self):
        name = self._transform_header(common.SEC_WEBSOCKET_VERSION_HEADER)
        version = get_mandatory_header(self._request, name)
        if version == str(common.VERSION_HYBI_LATEST):
            return common.VERSION_HYBI_LATEST
        if ',' in version:
            raise HandshakeException(
                'Only one version may be given in %s, not %r' % (name, version),
                status=common.HTTP_STATUS_BAD_REQUEST)
        raise VersionException(
            'Version %r of %s is not supported' % (version, name),
            supported_versions=str(common.VERSION_HYBI_LATEST))

    def _read_offers(self):
        request = self._request
        request.ws_origin = self._header(common.ORIGIN_HEADER)
        request.ws_protocol = None
        protocols = self._header(common.SEC_WEBSOCKET_PROTOCOL_HEADER)
        request.ws_requested_protocols = (
            None if protocols is None else parse_token_list(protocols))
        offered = self._header(common.SEC_WEBSOCKET_EXTENSIONS_HEADER)
        if not offered:
            request.ws_requested_extensions = None
        else:
            try:
                request.ws_requested_extensions = common.parse_extensions(offered)
            except common.ExtensionParsingException as e:
                raise HandshakeException(
                    'Sec-WebSocket-Extensions cannot be parsed: %s' % e)
        processors = []
        for offer in request.ws_requested_extensions or []:
            processor = extensions.get_extension_processor(offer)
            if processor is not None:
                processors.append(processor)
        request.ws_extension_processors = processors
        request.extra_headers = []

    def _agree_on_extensions(self):
        """Sets ``ws_extensions`` from the first active permessage-deflate processor the
        handler left, as wshd's core answers its offer."""
        request = self._request
        request.ws_extensions = None
        request._wshd_deflate = None
        for processor in request.ws_extension_processors or []:
            if processor is None or not processor.is_active():
                continue
            if processor._wshd_kind != common.PERMESSAGE_DEFLATE_EXTENSION:
                continue
            from wshd import _native
            deflate = (common.format_extension(processor.request()),
                       processor._wshd_client_max_window_bits,
                       processor._wshd_client_no_context_takeover)
            response = _native.negotiate_deflate(*deflate)
            if response is not None:
                request.ws_extensions = common.parse_extensions(response)
                request._wshd_deflate = deflate
            break

    def _check_protocol_choice(self):
        request = self._request
        if request.ws_requested_protocols is None:
            if request.ws_protocol is not None:
                raise HandshakeException(
                    'ws_protocol must stay None when the client requested no '
                    'subprotocol')
            return
        if request.ws_protocol is None:
            raise HandshakeException(
                'web_socket_do_extra_handshake must choose one of '
                'ws_requested_protocols and set it as ws_protocol')
        validate_subprotocol(request.ws_protocol)

    def do_handshake(self):
        """Raises HandshakeException (status 400 unless it says otherwise) for a
        request the checks or the handler refuse; AbortedByUserException passes."""
        request = self._request
        try:
            self._validate_request()
            request.ws_resource = request.uri
            request.ws_version = self._check_version()
            self._read_offers()
            self._dispatcher.do_extra_handshake(request)
            self._agree_on_extensions()
            self._check_protocol_choice()
            self._set_accept()
            self._send_handshake()
        except HandshakeException as e:
            if not e.status:
                e.status = common.HTTP_STATUS_BAD_REQUEST
            raise
