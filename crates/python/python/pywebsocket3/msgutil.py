"""Message helpers taking the request object.

The functions are thin wrappers over ``request.ws_stream`` (provided by the
server).  MessageReceiver and MessageSender run a daemon thread each.
"""

import queue
import threading

from pywebsocket3._stream_exceptions import BadOperationException
from pywebsocket3._stream_exceptions import ConnectionTerminatedException
from pywebsocket3._stream_exceptions import InvalidFrameException
from pywebsocket3._stream_exceptions import InvalidUTF8Exception
from pywebsocket3._stream_exceptions import UnsupportedFrameException

__all__ = [
    'BadOperationException', 'ConnectionTerminatedException',
    'InvalidFrameException', 'InvalidUTF8Exception',
    'UnsupportedFrameException', 'close_connection', 'send_message',
    'receive_message', 'send_ping', 'MessageReceiver', 'MessageSender',
]


def close_connection(request):
    """Starts the closing handshake (code 1000, empty reason)."""
    request.ws_stream.close_connection()


def send_message(request, payload_data, end=True, binary=False):
    """Sends a message (str -> text frame, bytes with binary=True -> binary
    frame; end=False sends a fragment)."""
    request.ws_stream.send_message(payload_data, end, binary)


def receive_message(request):
    """Blocks for one message: str (text), bytes (binary), or None once the
    client's Close has been received."""
    return request.ws_stream.receive_message()


def send_ping(request, body):
    request.ws_stream.send_ping(body)


class MessageReceiver(threading.Thread):
    """Receives messages on a daemon thread, started by the constructor.

    Without onmessage, messages are queued for receive() (blocking) and
    receive_nowait() (None when the queue is empty); with onmessage, each
    message is passed to onmessage(message) on the receiver thread.  stop()
    takes effect once the current receive_message() call returns.  When the
    loop ends (stop, or an exception from receive_message or onmessage) the
    thread calls close_connection(request).  Note that a None message (the
    client closed) is delivered like any other; the following
    receive_message() raises BadOperationException, which ends the loop.
    """

    def __init__(self, request, onmessage=None):
        threading.Thread.__init__(self)
        self._request = request
        self._queue = queue.Queue()
        self._onmessage = onmessage
        self._stop_requested = False
        self.daemon = True
        self.start()

    def run(self):
        try:
            while not self._stop_requested:
                message = receive_message(self._request)
                if self._onmessage:
                    self._onmessage(message)
                else:
                    self._queue.put(message)
        finally:
            close_connection(self._request)

    def receive(self):
        """Blocks until a message is available and returns it."""
        return self._queue.get()

    def receive_nowait(self):
        """Returns a queued message, or None if there is none."""
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None

    def stop(self):
        self._stop_requested = True


class MessageSender(threading.Thread):
    """Sends messages (with send_message(request, message)) on a daemon
    thread, started by the constructor, in the order they were given.

    send() blocks until its message has been sent; send_nowait() returns at
    once.  Unlike pywebsocket (whose sender thread dies and leaves send()
    blocked forever), an exception raised while sending is re-raised in the
    thread that called send() (it is dropped for send_nowait()) and the
    sender keeps serving later messages.
    """

    def __init__(self, request):
        threading.Thread.__init__(self)
        self._request = request
        self._queue = queue.Queue()
        self.daemon = True
        self.start()

    def run(self):
        while True:
            message, pending = self._queue.get()
            try:
                send_message(self._request, message)
            except BaseException as e:
                if pending is not None:
                    pending.error = e
            if pending is not None:
                pending.done.set()

    def send(self, message):
        pending = _Pending()
        self._queue.put((message, pending))
        pending.done.wait()
        if pending.error is not None:
            raise pending.error

    def send_nowait(self, message):
        self._queue.put((message, None))


class _Pending(object):
    def __init__(self):
        self.done = threading.Event()
        self.error = None
