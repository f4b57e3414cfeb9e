import unittest

from pywebsocket3 import common
from pywebsocket3 import extensions
from pywebsocket3.common import format_extension
from pywebsocket3.common import parse_extensions


def _processor(offer):
    return extensions.get_extension_processor(parse_extensions(offer)[0])


class GetProcessorTest(unittest.TestCase):
    def test_known_and_unknown(self):
        p = _processor('permessage-deflate')
        self.assertIsInstance(p, extensions.PerMessageDeflateExtensionProcessor)
        self.assertIsInstance(p, extensions.ExtensionProcessorInterface)
        self.assertEqual(p.name(), 'deflate')
        self.assertEqual(p._wshd_kind, 'permessage-deflate')
        for name in ('deflate-frame', 'x-webkit-deflate-frame'):
            q = _processor(name)
            self.assertIsInstance(q, extensions.DeflateFrameExtensionProcessor)
            self.assertEqual(q.name(), 'deflate-frame')
            self.assertEqual(q._wshd_kind, 'deflate-frame')
        self.assertIsNone(_processor('foo'))
        self.assertIsNone(_processor('mux_DO_NOT_USE'))

    def test_request_is_offer(self):
        offer = parse_extensions('permessage-deflate; client_max_window_bits')[0]
        p = extensions.get_extension_processor(offer)
        self.assertIs(p.request(), offer)
        self.assertIs(p._request, offer)

    def test_is_compression_extension(self):
        self.assertTrue(extensions.is_compression_extension(
            'permessage-deflate'))
        self.assertFalse(extensions.is_compression_extension('foo'))


class PerMessageDeflateTest(unittest.TestCase):
    def response(self, offer, configure=None):
        p = _processor(offer)
        if configure:
            configure(p)
        r = p.get_extension_response()
        return p, (None if r is None else format_extension(r))

    def test_defaults_before_negotiation(self):
        p = _processor('permessage-deflate')
        self.assertTrue(p.is_active())
        self.assertFalse(p._wshd_accepted)
        self.assertIsNone(p._wshd_response)
        self.assertIsNone(p._wshd_server_max_window_bits)
        self.assertFalse(p._wshd_server_no_context_takeover)
        self.assertIsNone(p._wshd_client_max_window_bits)
        self.assertFalse(p._wshd_client_no_context_takeover)
        self.assertTrue(p._wshd_compress_outgoing)
        self.assertFalse(p._wshd_bfinal)

    def test_plain(self):
        p, r = self.response('permessage-deflate')
        self.assertEqual(r, 'permessage-deflate')
        self.assertTrue(p._wshd_accepted)
        self.assertEqual(format_extension(p._wshd_response), r)

    def test_server_params_echoed(self):
        p, r = self.response('permessage-deflate; server_max_window_bits=10; '
                             'server_no_context_takeover')
        self.assertEqual(r, 'permessage-deflate; server_max_window_bits=10; '
                            'server_no_context_takeover')
        self.assertEqual(p._wshd_server_max_window_bits, 10)
        self.assertTrue(p._wshd_server_no_context_takeover)

    def test_quoted_window_bits(self):
        p, r = self.response('permessage-deflate; server_max_window_bits="8"')
        self.assertEqual(r, 'permessage-deflate; server_max_window_bits=8')

    def test_declined_offers(self):
        for offer in [
                'permessage-deflate; client_no_context_takeover',
                'permessage-deflate; client_max_window_bits=10',
                'permessage-deflate; foo=bar',
                'permessage-deflate; server_max_window_bits=3000000',
                'permessage-deflate; server_max_window_bits=7',
                'permessage-deflate; server_max_window_bits=16',
                'permessage-deflate; server_max_window_bits=08',
                'permessage-deflate; server_max_window_bits',
                'permessage-deflate; server_no_context_takeover=1',
                'permessage-deflate; client_no_context_takeover; '
                'client_max_window_bits']:
            p, r = self.response(offer)
            self.assertIsNone(r, offer)
            self.assertFalse(p.is_active(), offer)
            self.assertFalse(p._wshd_accepted, offer)

    def test_client_max_window_bits(self):
        p, r = self.response('permessage-deflate; client_max_window_bits')
        self.assertEqual(r, 'permessage-deflate')
        p, r = self.response(
            'permessage-deflate; client_max_window_bits',
            lambda p: p.set_client_max_window_bits(10))
        self.assertEqual(r, 'permessage-deflate; client_max_window_bits=10')
        self.assertEqual(p._wshd_client_max_window_bits, 10)
        # Not offered by the client: declined.
        p, r = self.response('permessage-deflate',
                             lambda p: p.set_client_max_window_bits(10))
        self.assertIsNone(r)

    def test_client_no_context_takeover(self):
        p, r = self.response('permessage-deflate',
                             lambda p: p.set_client_no_context_takeover(True))
        self.assertEqual(r, 'permessage-deflate; client_no_context_takeover')
        self.assertTrue(p._wshd_client_no_context_takeover)

    def test_handler_adds_to_offer(self):
        # Chromium: processor._request.add_parameter(...) before negotiation.
        def configure(p):
            p._request.add_parameter('server_max_window_bits', '9')
            p._request.add_parameter('server_no_context_takeover', None)
        p, r = self.response('permessage-deflate', configure)
        self.assertEqual(r, 'permessage-deflate; server_max_window_bits=9; '
                            'server_no_context_takeover')
        self.assertEqual(p._wshd_server_max_window_bits, 9)

    def test_inactive_declines(self):
        p = _processor('permessage-deflate')
        p.set_active(False)
        self.assertIsNone(p.get_extension_response())
        self.assertFalse(p._wshd_accepted)

    def test_live_state_and_hook(self):
        p = _processor('permessage-deflate')
        changes = []
        p._wshd_on_change = lambda proc, name, value: changes.append(
            (proc, name, value))
        p.disable_outgoing_compression()
        self.assertFalse(p._wshd_compress_outgoing)
        p.enable_outgoing_compression()
        self.assertTrue(p._wshd_compress_outgoing)
        p.set_bfinal(True)
        self.assertTrue(p._wshd_bfinal)
        self.assertEqual(changes, [(p, '_wshd_compress_outgoing', False),
                                   (p, '_wshd_compress_outgoing', True),
                                   (p, '_wshd_bfinal', True)])

    def test_list_operations_like_handlers(self):
        offers = parse_extensions('permessage-deflate, foo, '
                                  'permessage-deflate; '
                                  'client_max_window_bits')
        processors = [extensions.get_extension_processor(o) for o in offers]
        processors = [p for p in processors if p is not None]
        self.assertEqual(len(processors), 2)
        for p in list(processors):
            if p.name() == 'deflate':
                processors.remove(p)
                break
        self.assertEqual(len(processors), 1)
        self.assertTrue(all(isinstance(
            p, extensions.PerMessageDeflateExtensionProcessor)
            for p in processors))


class DeflateFrameTest(unittest.TestCase):
    def test_plain_and_unknown_ignored(self):
        p = _processor('x-webkit-deflate-frame; foo=bar')
        r = p.get_extension_response()
        self.assertEqual(format_extension(r), 'x-webkit-deflate-frame')
        self.assertTrue(p._wshd_accepted)

    def test_params(self):
        p = _processor('deflate-frame; max_window_bits=10; no_context_takeover')
        r = p.get_extension_response()
        # Parameters are not echoed unless the handler sets them.
        self.assertEqual(format_extension(r), 'deflate-frame')
        self.assertEqual(p._wshd_server_max_window_bits, 10)
        self.assertTrue(p._wshd_server_no_context_takeover)

    def test_response_setters(self):
        p = _processor('deflate-frame')
        p.set_response_window_bits(8)
        p.set_response_no_context_takeover(True)
        self.assertEqual(format_extension(p.get_extension_response()),
                         'deflate-frame; max_window_bits=8; '
                         'no_context_takeover')

    def test_declined(self):
        for offer in ['deflate-frame; max_window_bits=20',
                      'deflate-frame; max_window_bits',
                      'deflate-frame; no_context_takeover=x']:
            self.assertIsNone(_processor(offer).get_extension_response(),
                              offer)

    def test_live_state(self):
        p = _processor('deflate-frame')
        p.set_bfinal(True)
        p.disable_outgoing_compression()
        self.assertTrue(p._wshd_bfinal)
        self.assertFalse(p._wshd_compress_outgoing)


if __name__ == '__main__':
    unittest.main()
