"""Opening-handshake exceptions.

``do_handshake`` and the ``Handshaker`` classes are not provided: the
server performs the handshake.  The ``base`` and ``hybi`` submodules are
imported so that ``handshake.hybi.compute_accept_from_unicode`` works after
a plain ``from pywebsocket3 import handshake``.
"""

from pywebsocket3.handshake import base
from pywebsocket3.handshake import hybi
from pywebsocket3.handshake.base import AbortedByUserException
from pywebsocket3.handshake.base import HandshakeException
from pywebsocket3.handshake.base import VersionException

__all__ = ['AbortedByUserException', 'HandshakeException', 'VersionException',
           'base', 'hybi']
