"""wptserve 4.0.3's HTTP/2 server running WebSockets (RFC 8441) through this package's
``dispatch.Dispatcher`` and ``handshake.base.HandshakerBase``, as WPT's ``.h2``
websocket tests do: wptserve owns the connection and the handshake, wshd's core runs
the WebSocket over the stream wptserve hands over."""

import os
import struct
import sys
import unittest

import h2client
import support

from wptserve.server import Http2WebTestRequestHandler, WebTestHttpd


class Http2Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tree = support.Tree()
        # Each stream loads the whole tree (wptserve makes a Dispatcher per stream);
        # the tree's harness handler imports a module from here.
        sys.path.insert(0, cls.tree.lib)
        with open(os.path.join(cls.tree.handlers, 'refuse_wsh.py'), 'w') as f:
            f.write('def web_socket_do_extra_handshake(request):\n'
                    '    raise ValueError("not this one")\n'
                    'def web_socket_transfer_data(request):\n'
                    '    pass\n')
        cls.httpd = WebTestHttpd(
            host='127.0.0.1', port=0, handler_cls=Http2WebTestRequestHandler,
            use_ssl=True, key_file=cls.tree.key, certificate=cls.tree.cert,
            doc_root=cls.tree.root, ws_doc_root=cls.tree.handlers, http2=True)
        cls.httpd.start()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.stop()
        sys.path.remove(cls.tree.lib)
        cls.tree.remove()

    def open(self, path, headers=()):
        ws = h2client.H2WebSocket(self.httpd.port, path, headers)
        self.addCleanup(ws.close)
        return ws

    def test_echo_with_a_subprotocol_and_a_clean_close(self):
        ws = self.open('/echo', [('sec-websocket-protocol', 'chat, echo')])
        self.assertEqual(ws.status, 200)
        self.assertEqual(ws.response.get('sec-websocket-protocol'), 'echo')
        ws.send(0x1, 'héllo'.encode('utf-8'))
        self.assertEqual(ws.recv(), (0x1, False, 'héllo'.encode('utf-8')))
        # Larger than an HTTP/2 DATA frame (16 KiB) and than one read of the host's pipe;
        # within the stream's first flow-control window (wptserve grants no more).
        big = bytes(range(256)) * 160
        ws.send(0x2, big)
        self.assertEqual(ws.recv(), (0x2, False, big))
        ws.send(0x8, struct.pack('!H', 4000) + b'bye')
        self.assertEqual(ws.recv(), (0x8, False, struct.pack('!H', 4000) + b'bye'))
        # The handler returned; wptserve ends the stream.
        self.assertEqual(ws.wait_ended(), b'')

    def test_permessage_deflate_is_negotiated_and_used_both_ways(self):
        ws = self.open('/echo', [('sec-websocket-extensions', 'permessage-deflate')])
        self.assertEqual(ws.status, 200)
        self.assertTrue(
            ws.response.get('sec-websocket-extensions', '').startswith('permessage-deflate'),
            ws.response)
        message = b'Hello, HTTP/2 ' * 50
        ws.send(0x1, h2client.deflate(message), rsv1=True)
        opcode, rsv1, payload = ws.recv()
        self.assertEqual((opcode, rsv1), (0x1, True))
        self.assertEqual(h2client.inflate(payload), message)

    def test_the_handler_closes_with_its_code(self):
        ws = self.open('/close')
        self.assertEqual(ws.status, 200)
        ws.send(0x1, b'4321 done here')
        self.assertEqual(ws.recv(), (0x8, False, struct.pack('!H', 4321) + b'done here'))

    def test_a_resource_without_a_handler_is_404(self):
        ws = self.open('/nothing_here')
        self.assertEqual(ws.status, 404)
        ws.wait_ended()

    def test_an_extra_handshake_that_raises_is_refused_with_403(self):
        ws = self.open('/refuse')
        self.assertEqual(ws.status, 403)
        ws.wait_ended()


if __name__ == '__main__':
    unittest.main()
