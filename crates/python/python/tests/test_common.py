import unittest

from pywebsocket3 import common
from pywebsocket3.common import ExtensionParameter
from pywebsocket3.common import ExtensionParsingException
from pywebsocket3.common import format_extension
from pywebsocket3.common import format_extensions
from pywebsocket3.common import parse_extensions


def _as_tuples(extensions):
    return [(e.name(), e.get_parameters()) for e in extensions]


class ConstantsTest(unittest.TestCase):
    def test_opcodes(self):
        self.assertEqual(
            (0, 1, 2, 8, 9, 10),
            (common.OPCODE_CONTINUATION, common.OPCODE_TEXT,
             common.OPCODE_BINARY, common.OPCODE_CLOSE, common.OPCODE_PING,
             common.OPCODE_PONG))

    def test_is_control_opcode(self):
        self.assertEqual([op for op in range(16)
                          if common.is_control_opcode(op)],
                         list(range(8, 16)))

    def test_close_codes(self):
        expected = {
            'STATUS_NORMAL_CLOSURE': 1000, 'STATUS_GOING_AWAY': 1001,
            'STATUS_PROTOCOL_ERROR': 1002, 'STATUS_UNSUPPORTED_DATA': 1003,
            'STATUS_NO_STATUS_RECEIVED': 1005,
            'STATUS_ABNORMAL_CLOSURE': 1006,
            'STATUS_INVALID_FRAME_PAYLOAD_DATA': 1007,
            'STATUS_POLICY_VIOLATION': 1008, 'STATUS_MESSAGE_TOO_BIG': 1009,
            'STATUS_MANDATORY_EXTENSION': 1010,
            'STATUS_INTERNAL_ENDPOINT_ERROR': 1011,
            'STATUS_TLS_HANDSHAKE': 1015,
            'STATUS_USER_REGISTERED_BASE': 3000,
            'STATUS_USER_REGISTERED_MAX': 3999,
            'STATUS_USER_PRIVATE_BASE': 4000,
            'STATUS_USER_PRIVATE_MAX': 4999,
            'STATUS_NORMAL': 1000, 'STATUS_UNSUPPORTED': 1003,
            'STATUS_CODE_NOT_AVAILABLE': 1005, 'STATUS_ABNORMAL_CLOSE': 1006,
            'STATUS_INVALID_FRAME_PAYLOAD': 1007,
            'STATUS_MANDATORY_EXT': 1010,
            'HTTP_STATUS_BAD_REQUEST': 400, 'HTTP_STATUS_FORBIDDEN': 403,
            'HTTP_STATUS_NOT_FOUND': 404,
        }
        for name, value in expected.items():
            self.assertEqual(getattr(common, name), value, name)

    def test_versions_ports_schemes(self):
        self.assertEqual(common.LOGLEVEL_FINE, 9)
        for n in range(13, 18):
            self.assertEqual(getattr(common, 'VERSION_HYBI%d' % n), 13)
        self.assertEqual(common.VERSION_HYBI_LATEST, 13)
        self.assertEqual(common.VERSION_HIXIE75, -1)
        self.assertEqual(common.VERSION_HYBI00, 0)
        self.assertEqual(common.VERSION_HYBI03, 2)
        for n in range(8, 13):
            self.assertEqual(getattr(common, 'VERSION_HYBI%02d' % n), 8)
        self.assertEqual(common.DEFAULT_WEB_SOCKET_PORT, 80)
        self.assertEqual(common.DEFAULT_WEB_SOCKET_SECURE_PORT, 443)
        self.assertEqual(common.WEB_SOCKET_SCHEME, 'ws')
        self.assertEqual(common.WEB_SOCKET_SECURE_SCHEME, 'wss')

    def test_headers_and_names(self):
        self.assertEqual(common.WEBSOCKET_ACCEPT_UUID,
                         b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
        self.assertEqual(common.SEC_WEBSOCKET_KEY_HEADER, 'Sec-WebSocket-Key')
        self.assertEqual(common.SEC_WEBSOCKET_ACCEPT_HEADER,
                         'Sec-WebSocket-Accept')
        self.assertEqual(common.SEC_WEBSOCKET_EXTENSIONS_HEADER,
                         'Sec-WebSocket-Extensions')
        self.assertEqual(common.SEC_WEBSOCKET_PROTOCOL_HEADER,
                         'Sec-WebSocket-Protocol')
        self.assertEqual(common.SEC_WEBSOCKET_VERSION_HEADER,
                         'Sec-WebSocket-Version')
        self.assertEqual(common.WEBSOCKET_UPGRADE_TYPE, 'websocket')
        self.assertEqual(common.WEBSOCKET_UPGRADE_TYPE_HIXIE75, 'WebSocket')
        self.assertEqual(common.UPGRADE_CONNECTION_TYPE, 'Upgrade')
        self.assertEqual(common.HOST_HEADER, 'Host')
        self.assertEqual(common.ORIGIN_HEADER, 'Origin')
        self.assertEqual(common.PERMESSAGE_DEFLATE_EXTENSION,
                         'permessage-deflate')
        self.assertEqual(common.DEFLATE_FRAME_EXTENSION, 'deflate-frame')
        self.assertEqual(common.X_WEBKIT_DEFLATE_FRAME_EXTENSION,
                         'x-webkit-deflate-frame')
        self.assertEqual(common.MUX_EXTENSION, 'mux_DO_NOT_USE')


class ExtensionParameterTest(unittest.TestCase):
    def test_methods(self):
        p = ExtensionParameter('permessage-deflate')
        self.assertEqual(p.name(), 'permessage-deflate')
        self.assertEqual(p.get_parameters(), [])
        p.add_parameter('a', None)
        p.add_parameter('b', '1')
        p.add_parameter('b', '2')
        self.assertEqual(p.get_parameters(),
                         [('a', None), ('b', '1'), ('b', '2')])
        self.assertEqual(p.get_parameter_names(), ['a', 'b', 'b'])
        self.assertTrue(p.has_parameter('a'))
        self.assertFalse(p.has_parameter('c'))
        self.assertIsNone(p.get_parameter_value('a'))
        self.assertEqual(p.get_parameter_value('b'), '1')
        self.assertIsNone(p.get_parameter_value('c'))


class ParseExtensionsTest(unittest.TestCase):
    def test_simple(self):
        self.assertEqual(_as_tuples(parse_extensions('foo')), [('foo', [])])

    def test_params_and_list(self):
        self.assertEqual(
            _as_tuples(parse_extensions(
                'permessage-deflate; client_max_window_bits, '
                'permessage-deflate ;server_max_window_bits = 10 ,x')),
            [('permessage-deflate', [('client_max_window_bits', None)]),
             ('permessage-deflate', [('server_max_window_bits', '10')]),
             ('x', [])])

    def test_quoted_string(self):
        self.assertEqual(
            _as_tuples(parse_extensions('a; b="c d"; e="x\\"y"; f=""')),
            [('a', [('b', 'c d'), ('e', 'x"y'), ('f', '')])])

    def test_quoted_lws_folded_to_space(self):
        self.assertEqual(_as_tuples(parse_extensions('a; b="c\r\n\t d"')),
                         [('a', [('b', 'c d')])])

    def test_empty_elements_skipped(self):
        self.assertEqual(_as_tuples(parse_extensions('a, , b,')),
                         [('a', []), ('b', [])])

    def test_lws_and_crlf(self):
        self.assertEqual(_as_tuples(parse_extensions('a;\r\n b=1')),
                         [('a', [('b', '1')])])

    def test_malformed(self):
        for bad in ['', ',', ' ', 'a;', 'a; =1', 'a; b=', 'a; b="unterminated',
                    'a b', 'a; b=c d', '"a"', 'a; b="\x01"', 'a; b=,',
                    'a;;b', 'a; b=\u00e9']:
            with self.assertRaises(ExtensionParsingException, msg=repr(bad)):
                parse_extensions(bad)

    def test_parsing_exception_is_exception(self):
        self.assertTrue(issubclass(ExtensionParsingException, Exception))


class FormatExtensionsTest(unittest.TestCase):
    def test_format(self):
        p = ExtensionParameter('permessage-deflate')
        p.add_parameter('server_no_context_takeover', None)
        p.add_parameter('server_max_window_bits', '10')
        self.assertEqual(
            format_extension(p),
            'permessage-deflate; server_no_context_takeover; '
            'server_max_window_bits=10')
        q = ExtensionParameter('x')
        q.add_parameter('v', 'a b')
        q.add_parameter('w', '')
        q.add_parameter('z', 'a"b')
        self.assertEqual(format_extension(q), 'x; v="a b"; w=""; z="a\\"b"')
        self.assertEqual(format_extensions([p, q]),
                         format_extension(p) + ', ' + format_extension(q))
        self.assertEqual(format_extensions([]), '')

    def test_roundtrip(self):
        text = 'a; b="c d"; e, f; g=1'
        self.assertEqual(format_extensions(parse_extensions(text)), text)


if __name__ == '__main__':
    unittest.main()
