"""wshd's classes behind the ``request`` object pywebsocket handlers receive.

``Request`` mirrors pywebsocket's standalone request (mod_python's ``mp_request``):
plain attributes that the handshake fills in and handlers read and set. ``Connection``
is ``request.connection``. This module holds no protocol logic: the WebSocket stream
(``request.ws_stream``) is implemented in Rust, and the server sets the ``ws_*``
attributes before calling the handler.
"""



def make_headers(pairs):
    """An http.client.HTTPMessage holding ``pairs`` in order, as pywebsocket's
    ``headers_in``: ``get(name)`` is case-insensitive and returns the first value.
    (http.client is imported here, on first use: it costs about 20 ms of start-up.)"""
    import http.client
    headers = http.client.HTTPMessage()
    for name, value in pairs:
        headers[name] = value
    return headers


class Connection(object):
    """``request.connection``: the peer's and our addresses, and raw socket access.

    ``raw`` is the server's socket object: during ``web_socket_do_extra_handshake`` each
    write reaches the client when it is made (before the server's own answer, or
    instead of it if the hook raises ``AbortedByUserException``); in
    ``web_socket_transfer_data`` it is the stream. Both go straight to the socket. ``read(n)`` blocks until ``n`` bytes arrived or the
    client closed its side.
    """

    def __init__(self, remote_addr, local_addr, lines):
        self.remote_addr = remote_addr
        self.local_addr = local_addr
        self._lines = lines
        self.raw = None

    def read(self, length):
        return self._require_raw('read').read_raw(length)

    def write(self, data):
        if isinstance(data, str):
            raise TypeError('connection.write takes bytes, not str')
        self._require_raw('write').write_raw(data)

    def get_memorized_lines(self):
        return list(self._lines)

    def _require_raw(self, what):
        if self.raw is None:
            raise IOError('request.connection.%s: the connection is not open' % what)
        return self.raw


class Request(object):
    """The object handlers receive as ``request``."""

    @property
    def headers_in(self):
        """The request headers (an ``http.client.HTTPMessage``), built on first use."""
        if self._headers_in is None:
            self._headers_in = make_headers(self._header_pairs)
        return self._headers_in

    @headers_in.setter
    def headers_in(self, value):
        self._headers_in = value

    def __init__(self, method, uri, protocol, headers, connection, use_tls):
        self.method = method
        self.uri = uri
        self.unparsed_uri = uri
        self.protocol = protocol
        self._header_pairs = headers
        self._headers_in = None
        self.connection = connection
        self._use_tls = use_tls
        self.ws_resource = uri
        self.ws_origin = None
        self.ws_version = 13
        self.ws_protocol = None
        self.ws_requested_protocols = None
        self.ws_requested_extensions = None
        self.ws_extension_processors = []
        self.ws_extensions = None
        # Documented by pywebsocket for the deflate-stream extension, which neither it
        # (since 2011) nor wshd negotiates: always False.
        self.ws_deflate = False
        self.extra_headers = []
        self.ws_stream = None
        self.ws_close_code = None
        self.ws_close_reason = None
        self.client_terminated = False
        self.server_terminated = False
        # Firefox's patched pywebsocket: a value here adds a Strict-Transport-Security
        # header to the 101.
        self.sts = None
        # Set by handlers that answer pings or see pongs themselves. Present from the
        # start, so receive_message's look-up never raises and catches AttributeError.
        self.on_ping_handler = None
        self.on_pong_handler = None

    def is_https(self):
        return self._use_tls

    def get_uri(self):
        return self.uri

    def get_unparsed_uri(self):
        return self.unparsed_uri

    def get_method(self):
        return self.method

    def get_protocol(self):
        return self.protocol
