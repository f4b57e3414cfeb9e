# Echo, choosing the subprotocol "echo" when offered; a client's close is answered with
# its own code and reason.


def web_socket_do_extra_handshake(request):
    if request.ws_requested_protocols and 'echo' in request.ws_requested_protocols:
        request.ws_protocol = 'echo'


def web_socket_transfer_data(request):
    while True:
        message = request.ws_stream.receive_message()
        if message is None:
            return
        request.ws_stream.send_message(message, binary=not isinstance(message, str))


def web_socket_passive_closing_handshake(request):
    return request.ws_close_code, request.ws_close_reason
