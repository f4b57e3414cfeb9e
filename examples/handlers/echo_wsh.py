# Echo: every message comes back as it came (text as text, binary as binary).
# The text "Goodbye" is echoed and then the handler returns, so the server closes
# the connection with 1000.

_GOODBYE_MESSAGE = u'Goodbye'


def web_socket_do_extra_handshake(request):
    # Accept every client, with the first subprotocol it offers (if any).
    if request.ws_requested_protocols:
        request.ws_protocol = request.ws_requested_protocols[0]


def web_socket_transfer_data(request):
    while True:
        message = request.ws_stream.receive_message()
        if message is None:
            return
        binary = not isinstance(message, str)
        request.ws_stream.send_message(message, binary=binary)
        if not binary and message == _GOODBYE_MESSAGE:
            return
