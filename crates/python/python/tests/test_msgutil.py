import threading
import time
import unittest

from pywebsocket3 import msgutil


class FakeStream(object):
    """Stands in for the server's Rust Stream; records calls."""

    def __init__(self, incoming=()):
        self.calls = []
        self.sent = []
        self._incoming = list(incoming)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self.closed = threading.Event()
        self._client_closed = False

    def feed(self, message):
        with self._cond:
            self._incoming.append(message)
            self._cond.notify_all()

    def receive_message(self):
        with self._cond:
            if self._client_closed:
                raise msgutil.BadOperationException('already closed')
            while not self._incoming:
                self._cond.wait()
            message = self._incoming.pop(0)
            if message is None:
                self._client_closed = True
            return message

    def send_message(self, message, end=True, binary=False):
        if message == 'boom':
            raise msgutil.BadOperationException('boom')
        self.calls.append(('send_message', message, end, binary))
        self.sent.append(message)

    def send_ping(self, body, binary=False):
        self.calls.append(('send_ping', body, binary))

    def close_connection(self, code=1000, reason='', wait_response=True):
        self.calls.append(('close_connection', code, reason, wait_response))
        self.closed.set()


class FakeRequest(object):
    def __init__(self, stream):
        self.ws_stream = stream


class WrapperTest(unittest.TestCase):
    def test_send_message(self):
        s = FakeStream()
        r = FakeRequest(s)
        msgutil.send_message(r, 'hi')
        msgutil.send_message(r, b'\x00', True, True)
        msgutil.send_message(r, 'part', end=False)
        msgutil.send_message(r, b'b', binary=True)
        self.assertEqual(s.calls, [
            ('send_message', 'hi', True, False),
            ('send_message', b'\x00', True, True),
            ('send_message', 'part', False, False),
            ('send_message', b'b', True, True)])

    def test_receive_message(self):
        r = FakeRequest(FakeStream(['a', b'b', None]))
        self.assertEqual(msgutil.receive_message(r), 'a')
        self.assertEqual(msgutil.receive_message(r), b'b')
        self.assertIsNone(msgutil.receive_message(r))
        self.assertRaises(msgutil.BadOperationException,
                          msgutil.receive_message, r)

    def test_close_connection_and_ping(self):
        s = FakeStream()
        r = FakeRequest(s)
        msgutil.send_ping(r, 'x')
        msgutil.close_connection(r)
        self.assertEqual(s.calls, [('send_ping', 'x', False),
                                   ('close_connection', 1000, '', True)])

    def test_exception_propagates(self):
        r = FakeRequest(FakeStream())
        self.assertRaises(msgutil.BadOperationException,
                          msgutil.send_message, r, 'boom')


class MessageReceiverTest(unittest.TestCase):
    def test_queue_mode(self):
        s = FakeStream(['one', b'two'])
        receiver = msgutil.MessageReceiver(FakeRequest(s))
        self.assertTrue(receiver.daemon)
        self.assertTrue(receiver.is_alive())
        self.assertEqual(receiver.receive(), 'one')
        self.assertEqual(receiver.receive(), b'two')
        self.assertIsNone(receiver.receive_nowait())
        s.feed('three')
        deadline = time.time() + 5
        message = None
        while message is None and time.time() < deadline:
            message = receiver.receive_nowait()
            time.sleep(0.01)
        self.assertEqual(message, 'three')
        receiver.stop()
        s.feed('last')  # lets the loop observe stop()
        self.assertTrue(s.closed.wait(5))
        receiver.join(5)
        self.assertFalse(receiver.is_alive())
        self.assertEqual(receiver.receive(), 'last')
        self.assertIn(('close_connection', 1000, '', True), s.calls)

    def test_onmessage_mode(self):
        s = FakeStream(['a', 'b'])
        got = []
        done = threading.Event()

        def onmessage(m):
            got.append(m)
            if len(got) == 2:
                done.set()
        receiver = msgutil.MessageReceiver(FakeRequest(s), onmessage)
        self.assertTrue(done.wait(5))
        self.assertEqual(got, ['a', 'b'])
        self.assertIsNone(receiver.receive_nowait())
        receiver.stop()
        s.feed('c')
        receiver.join(5)
        self.assertEqual(got, ['a', 'b', 'c'])
        self.assertTrue(s.closed.is_set())

    def test_loop_ends_on_error_and_closes(self):
        # After the client's Close (None), the next receive raises
        # BadOperationException: the thread ends and closes the connection.
        s = FakeStream(['x', None])
        saved_hook = threading.excepthook
        captured = []
        threading.excepthook = lambda args: captured.append(args.exc_type)
        try:
            receiver = msgutil.MessageReceiver(FakeRequest(s))
            receiver.join(5)
        finally:
            threading.excepthook = saved_hook
        self.assertFalse(receiver.is_alive())
        self.assertEqual(captured, [msgutil.BadOperationException])
        self.assertEqual(receiver.receive(), 'x')
        self.assertIsNone(receiver.receive())
        self.assertTrue(s.closed.is_set())


class MessageSenderTest(unittest.TestCase):
    def test_send_blocks_until_sent(self):
        s = FakeStream()
        sender = msgutil.MessageSender(FakeRequest(s))
        self.assertTrue(sender.daemon)
        sender.send('a')
        self.assertEqual(s.sent, ['a'])
        sender.send(b'b')
        self.assertEqual(s.calls[-1], ('send_message', b'b', True, False))

    def test_send_nowait_order(self):
        s = FakeStream()
        sender = msgutil.MessageSender(FakeRequest(s))
        for i in range(20):
            sender.send_nowait('m%d' % i)
        sender.send('end')  # everything queued before is sent first
        self.assertEqual(s.sent, ['m%d' % i for i in range(20)] + ['end'])

    def test_send_error_reraised(self):
        s = FakeStream()
        sender = msgutil.MessageSender(FakeRequest(s))
        self.assertRaises(msgutil.BadOperationException, sender.send, 'boom')
        sender.send_nowait('boom')
        sender.send('after')
        self.assertEqual(s.sent, ['after'])


if __name__ == '__main__':
    unittest.main()
