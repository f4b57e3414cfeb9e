"""Exceptions raised by the WebSocket stream (``request.ws_stream``).

Hierarchy (as in pywebsocket)::

    Exception
     +-- ConnectionTerminatedException
     |    +-- InvalidFrameException
     +-- BadOperationException
     +-- UnsupportedFrameException
     +-- InvalidUTF8Exception
"""


class ConnectionTerminatedException(Exception):
    """The connection was terminated unexpectedly (EOF, I/O error, no ack)."""


class InvalidFrameException(ConnectionTerminatedException):
    """A frame that cannot be parsed or violates the protocol was received.

    The server answers with close code 1002 if it escapes a handler.
    """


class BadOperationException(Exception):
    """An operation is not allowed in the current state.

    E.g. send_message() after the server sent a Close, or receive_message()
    after the client's Close was received.  Maps to close code 1011.
    """


class UnsupportedFrameException(Exception):
    """A frame with reserved bits or a reserved opcode was received.

    Handlers may catch it and call receive_message() again.  Maps to close
    code 1003 if it escapes a handler.
    """


class InvalidUTF8Exception(Exception):
    """A text message was not valid UTF-8.  Maps to close code 1007."""
