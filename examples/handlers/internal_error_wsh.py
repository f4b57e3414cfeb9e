# Fails in transfer: the server answers a BadOperationException with close 1011.

from mod_pywebsocket import msgutil


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    raise msgutil.BadOperationException('this handler always fails')
