# Reports the interpreter it runs in: a module only the harness's sys.path has, the
# harness's environment, and the Python version.

import os
import sys

import wshd_harness_marker
from pywebsocket3 import msgutil


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    msgutil.send_message(request, '%s|%s|%d.%d' % (
        wshd_harness_marker.VALUE, os.environ.get('WSHD_HARNESS_ENV', ''),
        sys.version_info[0], sys.version_info[1]))
