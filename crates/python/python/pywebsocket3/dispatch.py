"""Dispatch exception.

Handler loading and dispatch (pywebsocket's ``Dispatcher``) are done by the
server and are not provided here.
"""

from pywebsocket3 import common


class DispatchException(Exception):
    """Handler lookup failed; status is the HTTP status to answer with."""

    def __init__(self, name, status=common.HTTP_STATUS_NOT_FOUND):
        super(DispatchException, self).__init__(name)
        self.status = status
