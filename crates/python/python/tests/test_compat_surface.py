"""Every module-level symbol that real handler trees use (WPT, Chromium's and
Firefox's web tests), imported the way they import it, with a check of what
each one is. The request object and ``ws_stream`` are the server's and are
tested end to end by crates/wshd/tests/handlers.rs, which also imports these
modules as ``mod_pywebsocket`` (an alias only the embedded runtime provides)."""

import importlib
import unittest


def _resolve(module_name, dotted):
    obj = importlib.import_module(module_name)
    for part in dotted.split('.'):
        obj = getattr(obj, part)
    return obj


# (module, attribute path, check): check is a value the symbol must equal, or
# `callable` for functions and classes.
SURFACE = [
    ('handshake', 'AbortedByUserException', callable),
    ('handshake.hybi', 'compute_accept_from_unicode', callable),
    ('handshake.hybi', 'compute_accept', callable),
    ('msgutil', 'send_message', callable),
    ('msgutil', 'receive_message', callable),
    ('msgutil', 'close_connection', callable),
    ('msgutil', 'send_ping', callable),
    ('msgutil', 'MessageReceiver', callable),
    ('msgutil', 'MessageSender', callable),
    ('common', 'STATUS_NO_STATUS_RECEIVED', 1005),
    ('common', 'SEC_WEBSOCKET_KEY_HEADER', 'Sec-WebSocket-Key'),
    ('common', 'OPCODE_CONTINUATION', 0x0),
    ('common', 'OPCODE_TEXT', 0x1),
    ('common', 'OPCODE_BINARY', 0x2),
    ('common', 'OPCODE_CLOSE', 0x8),
    ('common', 'OPCODE_PING', 0x9),
    ('common', 'OPCODE_PONG', 0xa),
    ('common', 'ExtensionParameter', callable),
    ('common', 'ExtensionParameter.name', callable),
    ('stream', 'create_header', callable),
    ('stream', 'create_text_frame', callable),
    ('stream', 'create_close_frame', callable),
    ('stream', 'create_closing_handshake_body', callable),
    ('stream', 'Frame', callable),
    ('stream', 'StreamOptions', callable),
    ('util', 'pack_byte', callable),
    ('util', 'hexify', callable),
    ('util', '_Inflater', callable),
    ('extensions', 'PerMessageDeflateExtensionProcessor', callable),
    ('extensions', 'ExtensionProcessorInterface', callable),
]

PROCESSOR_METHODS = [
    'name', 'set_client_max_window_bits', 'set_client_no_context_takeover',
    'set_bfinal', 'enable_outgoing_compression',
    'disable_outgoing_compression',
]


class SurfaceTest(unittest.TestCase):
    def test_every_symbol(self):
        for module, path, check in SURFACE:
            name = 'pywebsocket3.%s' % module
            with self.subTest(symbol='%s.%s' % (name, path)):
                obj = _resolve(name, path)
                if check is callable:
                    self.assertTrue(callable(obj))
                else:
                    self.assertEqual(obj, check)

    def test_processor_methods_and_private_request_parameter(self):
        from pywebsocket3 import common, extensions
        offer = common.ExtensionParameter('permessage-deflate')
        processor = extensions.PerMessageDeflateExtensionProcessor(offer)
        for method in PROCESSOR_METHODS:
            self.assertTrue(callable(getattr(processor, method)), method)
        # Firefox compares name() with 'deflate'; Chromium injects server
        # parameters through the processor's private _request.
        self.assertEqual(processor.name(), 'deflate')
        processor._request.add_parameter('server_no_context_takeover', None)
        response = processor.get_extension_response()
        self.assertIn('server_no_context_takeover',
                      [n for n, _ in response.get_parameters()])

    def test_frames_handlers_forge(self):
        from pywebsocket3 import common, stream, util
        self.assertEqual(stream.create_text_frame('Hi'), b'\x81\x02Hi')
        self.assertEqual(
            stream.create_header(common.OPCODE_TEXT, 0, 1, 0, 0, 1, False),
            b'\x91\x00')
        self.assertEqual(
            stream.create_close_frame(
                stream.create_closing_handshake_body(1000, 'bye')),
            b'\x88\x05\x03\xe8bye')
        self.assertEqual(util.pack_byte(0x89), b'\x89')


if __name__ == '__main__':
    unittest.main()
