# Closes with the code and reason of the first message, "<code> <reason>".

from mod_pywebsocket import msgutil


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    code, _, reason = msgutil.receive_message(request).partition(' ')
    request.ws_stream.close_connection(int(code), reason)
