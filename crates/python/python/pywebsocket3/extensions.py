"""Extension processor objects seen by handlers.

The server creates one processor per known offer in Sec-WebSocket-Extensions
(``get_extension_processor(offer)``) and puts them in
``request.ws_extension_processors`` before calling
``web_socket_do_extra_handshake``.  Handlers may remove processors, set the
list to ``[]``, deactivate them, or call the setters below.  The processors do
no compression and build no response themselves: wshd's core negotiates and
compresses; the processors record the handler's choices.

What the server reads (crates/python/src/handler.rs, and for hosts that own
the connection, handshake/base.py):

1. After the extra handshake: the first processor that is not ``None``,
   ``is_active()``, and whose ``_wshd_kind`` is 'permessage-deflate'.  If
   there is none, compression is declined.  From it:

   ``_request``                          the offer (a ``common.ExtensionParameter``,
                                         parameters a handler added included),
                                         answered by the core as if the client
                                         had sent it
   ``_wshd_client_max_window_bits``      int or None: set_client_max_window_bits
   ``_wshd_client_no_context_takeover``  bool: set_client_no_context_takeover

   deflate-frame processors are offered to handlers for pywebsocket's API,
   but the server does not take their choices: deflate-frame is served only
   when enabled in the server's configuration (off by default), with the
   server's own parameters.

2. Live state, which handlers may change at any time, including during
   ``web_socket_transfer_data``; it applies from the next outgoing message:

   ``_wshd_compress_outgoing``  bool, default True
                                (enable/disable_outgoing_compression)
   ``_wshd_bfinal``             bool, default False (set_bfinal): finish each
                                message's DEFLATE stream with a BFINAL block
                                plus an empty stored block instead of
                                stripping 00 00 ff ff

   The server sets ``processor._wshd_on_change`` to a callable; every
   live-state change calls ``_wshd_on_change(processor, attribute_name,
   new_value)`` after updating the attribute.

``get_extension_response()`` builds the response pywebsocket would have sent
from the recorded choices; handlers and tests may call it, the server does not.
"""

from pywebsocket3 import common
from pywebsocket3 import util


class ExtensionProcessorInterface(object):
    """Base class of extension processors."""

    _wshd_kind = None

    def __init__(self, request):
        self._logger = util.get_class_logger(self)
        self._request = request
        self._active = True
        self._wshd_accepted = False
        self._wshd_response = None
        self._wshd_compress_outgoing = True
        self._wshd_bfinal = False
        self._wshd_on_change = None

    def request(self):
        """The client's offer (common.ExtensionParameter)."""
        return self._request

    def name(self):
        return None

    def check_consistency_with_other_processors(self, processors):
        pass

    def set_active(self, active):
        self._active = active

    def is_active(self):
        return self._active

    def _get_extension_response_internal(self):
        return None

    def get_extension_response(self):
        """The response ExtensionParameter, or None to decline (declining
        deactivates the processor)."""
        if not self._active:
            self._logger.debug('Extension %s is deactivated', self.name())
            return None
        response = self._get_extension_response_internal()
        if response is None:
            self._active = False
        self._wshd_accepted = response is not None
        self._wshd_response = response
        return response

    def _set_live(self, attribute, value):
        setattr(self, attribute, value)
        callback = self._wshd_on_change
        if callback is not None:
            callback(self, attribute, value)

    def set_bfinal(self, value):
        self._set_live('_wshd_bfinal', bool(value))

    def enable_outgoing_compression(self):
        self._set_live('_wshd_compress_outgoing', True)

    def disable_outgoing_compression(self):
        self._set_live('_wshd_compress_outgoing', False)


def _parse_window_bits(bits):
    """int value of a window-bits parameter: decimal 8..15 without leading
    zeros, else ValueError."""
    if bits is None:
        raise ValueError('Value is required')
    value = int(bits)
    if bits != str(value) or value < 8 or value > 15:
        raise ValueError('Invalid value: %r' % bits)
    return value


class PerMessageDeflateExtensionProcessor(ExtensionProcessorInterface):
    """permessage-deflate (RFC 7692 as implemented by pywebsocket3).

    Accepts an offer only if every parameter is one of
    server_max_window_bits=<8..15>, server_no_context_takeover (no value),
    client_max_window_bits (no value).  name() returns 'deflate'.
    """

    _wshd_kind = common.PERMESSAGE_DEFLATE_EXTENSION

    _SERVER_MAX_WINDOW_BITS_PARAM = 'server_max_window_bits'
    _SERVER_NO_CONTEXT_TAKEOVER_PARAM = 'server_no_context_takeover'
    _CLIENT_MAX_WINDOW_BITS_PARAM = 'client_max_window_bits'
    _CLIENT_NO_CONTEXT_TAKEOVER_PARAM = 'client_no_context_takeover'

    def __init__(self, request):
        ExtensionProcessorInterface.__init__(self, request)
        self._wshd_server_max_window_bits = None
        self._wshd_server_no_context_takeover = False
        self._wshd_client_max_window_bits = None
        self._wshd_client_no_context_takeover = False

    def name(self):
        # 'deflate', not 'permessage-deflate': handlers compare with this.
        return 'deflate'

    def _get_extension_response_internal(self):
        offer = self._request
        allowed = (self._SERVER_MAX_WINDOW_BITS_PARAM,
                   self._SERVER_NO_CONTEXT_TAKEOVER_PARAM,
                   self._CLIENT_MAX_WINDOW_BITS_PARAM)
        for param in offer.get_parameter_names():
            if param not in allowed:
                self._logger.debug('Unknown parameter: %r', param)
                return None

        server_max_window_bits = None
        if offer.has_parameter(self._SERVER_MAX_WINDOW_BITS_PARAM):
            try:
                server_max_window_bits = _parse_window_bits(
                    offer.get_parameter_value(
                        self._SERVER_MAX_WINDOW_BITS_PARAM))
            except ValueError as e:
                self._logger.debug('Bad %s parameter: %r',
                                   self._SERVER_MAX_WINDOW_BITS_PARAM, e)
                return None

        server_no_context_takeover = offer.has_parameter(
            self._SERVER_NO_CONTEXT_TAKEOVER_PARAM)
        if server_no_context_takeover and offer.get_parameter_value(
                self._SERVER_NO_CONTEXT_TAKEOVER_PARAM) is not None:
            self._logger.debug('%s parameter must not have a value',
                               self._SERVER_NO_CONTEXT_TAKEOVER_PARAM)
            return None

        # A valueless client_max_window_bits only says that the client
        # accepts a client_max_window_bits in the response.
        client_accepts_max_window_bits = offer.has_parameter(
            self._CLIENT_MAX_WINDOW_BITS_PARAM)
        if client_accepts_max_window_bits and offer.get_parameter_value(
                self._CLIENT_MAX_WINDOW_BITS_PARAM) is not None:
            self._logger.debug('%s must not have a value in an offer',
                               self._CLIENT_MAX_WINDOW_BITS_PARAM)
            return None

        response = common.ExtensionParameter(offer.name())
        if server_max_window_bits is not None:
            response.add_parameter(self._SERVER_MAX_WINDOW_BITS_PARAM,
                                   str(server_max_window_bits))
        if server_no_context_takeover:
            response.add_parameter(self._SERVER_NO_CONTEXT_TAKEOVER_PARAM,
                                   None)
        if self._wshd_client_max_window_bits is not None:
            if not client_accepts_max_window_bits:
                self._logger.debug('%s was set but the client cannot accept '
                                   'it', self._CLIENT_MAX_WINDOW_BITS_PARAM)
                return None
            response.add_parameter(self._CLIENT_MAX_WINDOW_BITS_PARAM,
                                   str(self._wshd_client_max_window_bits))
        if self._wshd_client_no_context_takeover:
            response.add_parameter(self._CLIENT_NO_CONTEXT_TAKEOVER_PARAM,
                                   None)

        self._wshd_server_max_window_bits = server_max_window_bits
        self._wshd_server_no_context_takeover = server_no_context_takeover
        self._logger.debug('Enable %s extension (request: %r; response: %r)',
                           offer.name(), common.format_extension(offer),
                           common.format_extension(response))
        return response

    def set_client_max_window_bits(self, value):
        """Adds client_max_window_bits=<value> to the response.  The offer is
        then declined if the client did not offer client_max_window_bits.
        The server's inflater still uses 15 bits."""
        self._wshd_client_max_window_bits = value

    def set_client_no_context_takeover(self, value):
        """Adds client_no_context_takeover to the response when true."""
        self._wshd_client_no_context_takeover = value


class DeflateFrameExtensionProcessor(ExtensionProcessorInterface):
    """deflate-frame / x-webkit-deflate-frame (historical per-frame
    DEFLATE).  Parameters max_window_bits=<8..15> and no_context_takeover
    (no value); unknown parameters are ignored.  The response carries
    parameters only if the handler set them.  name() returns
    'deflate-frame' for both names; the response uses the offered name.
    """

    _wshd_kind = common.DEFLATE_FRAME_EXTENSION

    _WINDOW_BITS_PARAM = 'max_window_bits'
    _NO_CONTEXT_TAKEOVER_PARAM = 'no_context_takeover'

    def __init__(self, request):
        ExtensionProcessorInterface.__init__(self, request)
        self._wshd_server_max_window_bits = None
        self._wshd_server_no_context_takeover = False
        self._wshd_response_window_bits = None
        self._wshd_response_no_context_takeover = False
        # Kept for a uniform attribute set; deflate-frame has no client_*.
        self._wshd_client_max_window_bits = None
        self._wshd_client_no_context_takeover = False

    def name(self):
        return common.DEFLATE_FRAME_EXTENSION

    def _get_extension_response_internal(self):
        offer = self._request
        window_bits = None
        if offer.has_parameter(self._WINDOW_BITS_PARAM):
            try:
                window_bits = _parse_window_bits(
                    offer.get_parameter_value(self._WINDOW_BITS_PARAM))
            except ValueError:
                return None
        no_context_takeover = offer.has_parameter(
            self._NO_CONTEXT_TAKEOVER_PARAM)
        if no_context_takeover and offer.get_parameter_value(
                self._NO_CONTEXT_TAKEOVER_PARAM) is not None:
            return None

        response = common.ExtensionParameter(offer.name())
        if self._wshd_response_window_bits is not None:
            response.add_parameter(self._WINDOW_BITS_PARAM,
                                   str(self._wshd_response_window_bits))
        if self._wshd_response_no_context_takeover:
            response.add_parameter(self._NO_CONTEXT_TAKEOVER_PARAM, None)
        self._wshd_server_max_window_bits = window_bits
        self._wshd_server_no_context_takeover = no_context_takeover
        return response

    def set_response_window_bits(self, value):
        """Adds max_window_bits=<value> to ``get_extension_response()``. The
        server does not take deflate-frame choices from processors (see the
        module docstring)."""
        self._wshd_response_window_bits = value

    def set_response_no_context_takeover(self, value):
        """Adds no_context_takeover to ``get_extension_response()`` when true;
        like set_response_window_bits, not taken by the server."""
        self._wshd_response_no_context_takeover = value


_available_processors = {
    common.PERMESSAGE_DEFLATE_EXTENSION: PerMessageDeflateExtensionProcessor,
    common.DEFLATE_FRAME_EXTENSION: DeflateFrameExtensionProcessor,
    common.X_WEBKIT_DEFLATE_FRAME_EXTENSION: DeflateFrameExtensionProcessor,
}

_compression_extension_names = frozenset(_available_processors)


def is_compression_extension(extension_name):
    return extension_name in _compression_extension_names


def get_extension_processor(extension_request):
    """A processor for the offer (common.ExtensionParameter), or None if the
    extension is unknown."""
    processor_class = _available_processors.get(extension_request.name())
    if processor_class is None:
        return None
    return processor_class(extension_request)
