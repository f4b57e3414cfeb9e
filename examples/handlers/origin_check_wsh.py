# Accepts only clients whose Origin is http://example.com; any other gets 403,
# because an exception in the extra handshake refuses the connection.

_ALLOWED_ORIGIN = 'http://example.com'


def web_socket_do_extra_handshake(request):
    if request.ws_origin != _ALLOWED_ORIGIN:
        raise ValueError('origin %r is not allowed' % request.ws_origin)


def web_socket_transfer_data(request):
    request.ws_stream.send_message('origin accepted: %s' % request.ws_origin)
