import unittest

from pywebsocket3 import common
from pywebsocket3 import dispatch
from pywebsocket3 import handshake
from pywebsocket3.handshake import base
from pywebsocket3.handshake import hybi


class _Headers(dict):
    pass


class _Request(object):
    def __init__(self, headers, https=False, method='GET',
                 protocol='HTTP/1.1'):
        self.headers_in = _Headers(headers)
        self._https = https
        self.method = method
        self.protocol = protocol

    def is_https(self):
        return self._https


class ExceptionsTest(unittest.TestCase):
    def test_handshake_exception(self):
        e = handshake.HandshakeException('bad')
        self.assertIsNone(e.status)
        self.assertEqual(str(e), 'bad')
        e = handshake.HandshakeException('bad', 403)
        self.assertEqual(e.status, 403)
        self.assertEqual(handshake.HandshakeException('x', status=400).status,
                         400)

    def test_version_exception(self):
        e = handshake.VersionException('v')
        self.assertEqual(e.supported_versions, '')
        e = handshake.VersionException('v', supported_versions='13')
        self.assertEqual(e.supported_versions, '13')
        self.assertEqual(str(e), 'v')

    def test_aborted(self):
        self.assertTrue(issubclass(handshake.AbortedByUserException,
                                   Exception))
        for cls in (handshake.HandshakeException, handshake.VersionException):
            self.assertFalse(issubclass(cls,
                                        handshake.AbortedByUserException))

    def test_same_objects_everywhere(self):
        self.assertIs(handshake.AbortedByUserException,
                      base.AbortedByUserException)
        self.assertIs(handshake.HandshakeException, hybi.HandshakeException)
        self.assertIs(handshake.hybi, hybi)
        self.assertIs(handshake.base, base)

    def test_dispatch_exception(self):
        e = dispatch.DispatchException('nope')
        self.assertEqual(e.status, 404)
        self.assertEqual(dispatch.DispatchException('x', 400).status, 400)
        self.assertEqual(str(e), 'nope')


class HybiTest(unittest.TestCase):
    def test_compute_accept_rfc6455_vector(self):
        self.assertEqual(hybi.compute_accept(b'dGhlIHNhbXBsZSBub25jZQ=='),
                         b's3pPLMBiTxaQ9kYGzzhZRbK+xOo=')
        self.assertEqual(
            hybi.compute_accept_from_unicode('dGhlIHNhbXBsZSBub25jZQ=='),
            b's3pPLMBiTxaQ9kYGzzhZRbK+xOo=')

    def test_handler_usage(self):
        # As in WPT simple_handshake_wsh.py: the result is bytes.
        from pywebsocket3 import handshake as hs
        accept = hs.hybi.compute_accept_from_unicode('x3JJHMbDL1EzLkh9GBhXDw==')
        self.assertEqual(accept, b'HSmrc0sMlYUkAGmm5OPpG2HaGWk=')

    def test_check_request_line(self):
        hybi.check_request_line(_Request({}))
        with self.assertRaises(handshake.HandshakeException) as c:
            hybi.check_request_line(_Request({}, method='POST'))
        self.assertIsNone(c.exception.status)
        self.assertRaises(handshake.HandshakeException,
                          hybi.check_request_line,
                          _Request({}, protocol='HTTP/1.0'))

    def test_format_header(self):
        self.assertEqual(hybi.format_header('A', 'b'), 'A: b\r\n')


class BaseTest(unittest.TestCase):
    def test_get_default_port(self):
        self.assertEqual(base.get_default_port(False), 80)
        self.assertEqual(base.get_default_port(True), 443)

    def test_parse_token_list(self):
        self.assertEqual(base.parse_token_list('a'), ['a'])
        self.assertEqual(base.parse_token_list('a, b ,c,,d'),
                         ['a', 'b', 'c', 'd'])
        for bad in ['', ',', 'a b', 'a;b', '"a"', 'a, "b"']:
            self.assertRaises(handshake.HandshakeException,
                              base.parse_token_list, bad)

    def test_validate_subprotocol(self):
        base.validate_subprotocol('chat')
        base.validate_subprotocol('v1.chat-x')
        for bad in ['', None, 'a b', 'a,b', 'a\x00', '\u00e9', '"a"']:
            self.assertRaises(handshake.HandshakeException,
                              base.validate_subprotocol, bad)

    def test_parse_host_header(self):
        self.assertEqual(base.parse_host_header(_Request({'Host': 'h'})),
                         ('h', 80))
        self.assertEqual(
            base.parse_host_header(_Request({'Host': 'h'}, https=True)),
            ('h', 443))
        self.assertEqual(base.parse_host_header(_Request({'Host': 'h:81'})),
                         ('h', 81))
        self.assertRaises(handshake.HandshakeException,
                          base.parse_host_header, _Request({'Host': 'h:x'}))

    def test_mandatory_header(self):
        r = _Request({common.UPGRADE_HEADER: 'WebSocket'})
        self.assertEqual(base.get_mandatory_header(r, 'Upgrade'), 'WebSocket')
        self.assertRaises(handshake.HandshakeException,
                          base.get_mandatory_header, r, 'Connection')
        base.validate_mandatory_header(r, 'Upgrade',
                                       common.WEBSOCKET_UPGRADE_TYPE)
        with self.assertRaises(handshake.HandshakeException) as c:
            base.validate_mandatory_header(r, 'Upgrade', 'other', 400)
        self.assertEqual(c.exception.status, 400)


if __name__ == '__main__':
    unittest.main()


class _H2Handshaker(base.HandshakerBase):
    """As wptserve's WsH2Handshaker: CONNECT with :protocol websocket."""

    def _protocol_rfc(self):
        return 'RFC 8441'

    def _transform_header(self, header):
        return header.lower()

    def _validate_request(self):
        if self._request.method != 'CONNECT':
            raise base.HandshakeException('Method is not CONNECT')
        base.validate_mandatory_header(self._request, ':protocol', 'websocket')


class HandshakerBaseTest(unittest.TestCase):
    def test_a_request_the_subclass_refuses_is_400(self):
        request = _Request({':protocol': 'websocket'}, method='GET')
        with self.assertRaises(base.HandshakeException) as raised:
            _H2Handshaker(request, None).do_handshake()
        self.assertEqual(raised.exception.status, 400)

    def _handshake(self, headers, choose=None):
        """Runs do_handshake on a CONNECT request with ``headers``; ``choose(request)``
        plays the handler's extra handshake. Returns the request and what the
        subclass was asked to send."""
        request = _Request(dict({':protocol': 'websocket'}, **headers), method='CONNECT')
        request.uri = '/echo?x=1'
        sent = []

        class Dispatcher(object):
            def do_extra_handshake(self, request):
                if choose:
                    choose(request)

        class Handshaker(_H2Handshaker):
            def _set_accept(self):
                sent.append('accept')

            def _send_handshake(self):
                sent.append(('send', self._request.ws_protocol))

        Handshaker(request, Dispatcher()).do_handshake()
        return request, sent

    def test_a_valid_request_runs_the_extra_handshake_and_sends(self):
        def choose(request):
            self.assertEqual(request.ws_resource, '/echo?x=1')
            self.assertEqual(request.ws_origin, 'https://example')
            self.assertEqual(request.ws_requested_protocols, ['a', 'b'])
            request.ws_protocol = 'b'
            request.extra_headers.append(('X-Extra', '1'))
        request, sent = self._handshake(
            {'sec-websocket-version': '13', 'origin': 'https://example',
             'sec-websocket-protocol': 'a, b'}, choose)
        self.assertEqual(sent, ['accept', ('send', 'b')])
        self.assertEqual(request.ws_version, common.VERSION_HYBI_LATEST)
        self.assertIsNone(request.ws_extensions)
        self.assertEqual(request.extra_headers, [('X-Extra', '1')])

    def test_version_and_subprotocol_rules(self):
        with self.assertRaises(base.HandshakeException) as raised:
            self._handshake({})
        self.assertEqual(raised.exception.status, 400)
        with self.assertRaises(base.VersionException) as raised:
            self._handshake({'sec-websocket-version': '8'})
        self.assertEqual(raised.exception.supported_versions, '13')
        with self.assertRaises(base.HandshakeException) as raised:
            self._handshake({'sec-websocket-version': '8, 13'})
        self.assertEqual(raised.exception.status, 400)
        # Requested subprotocols but none chosen; chosen though none requested.
        with self.assertRaises(base.HandshakeException) as raised:
            self._handshake({'sec-websocket-version': '13', 'sec-websocket-protocol': 'a'})
        self.assertEqual(raised.exception.status, 400)
        with self.assertRaises(base.HandshakeException):
            self._handshake({'sec-websocket-version': '13'},
                            lambda r: setattr(r, 'ws_protocol', 'x'))

    def test_extension_offers_become_processors_the_handler_may_drop(self):
        def drop(request):
            self.assertEqual(
                [p._wshd_kind for p in request.ws_extension_processors],
                [common.PERMESSAGE_DEFLATE_EXTENSION])
            request.ws_extension_processors = []
        request, _ = self._handshake(
            {'sec-websocket-version': '13',
             'sec-websocket-extensions': 'permessage-deflate, x-unknown'}, drop)
        self.assertIsNone(request.ws_extensions)
