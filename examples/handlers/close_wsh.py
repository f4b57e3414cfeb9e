# Close on request: each message "<code> <reason>" makes the server close the
# connection with that code and reason. When the client closes first, the server
# answers with the client's own code and reason (an empty close with an empty one).

from mod_pywebsocket import msgutil


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    while True:
        line = request.ws_stream.receive_message()
        if line is None:
            return
        code, _, reason = line.partition(' ')
        request.ws_stream.close_connection(int(code), reason)
        return


def web_socket_passive_closing_handshake(request):
    code = request.ws_close_code
    if code == 1005:  # the client's close had no body
        return None, None
    return code, request.ws_close_reason
