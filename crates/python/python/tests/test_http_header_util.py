import unittest

from pywebsocket3 import http_header_util as hu


class ParsingTest(unittest.TestCase):
    def test_peek_consume(self):
        s = hu.ParsingState('abc')
        self.assertEqual(hu.peek(s), 'a')
        self.assertEqual(hu.peek(s, 2), 'c')
        self.assertIsNone(hu.peek(s, 3))
        self.assertEqual(hu.consume(s, 2), 'ab')
        self.assertEqual(s.head, 2)
        self.assertIsNone(hu.consume(s, 2))
        self.assertEqual(s.head, 2)
        self.assertEqual(hu.consume(s), 'c')
        self.assertIsNone(hu.peek(s))

    def test_consume_string(self):
        s = hu.ParsingState('abcd')
        self.assertFalse(hu.consume_string(s, 'abd'))
        self.assertEqual(s.head, 0)
        self.assertTrue(hu.consume_string(s, 'ab'))
        self.assertEqual(s.head, 2)
        self.assertFalse(hu.consume_string(s, 'cde'))
        self.assertEqual(s.head, 2)

    def test_consume_lws(self):
        s = hu.ParsingState(' \t x')
        self.assertTrue(hu.consume_lws(s))
        self.assertEqual(s.head, 3)
        self.assertFalse(hu.consume_lws(s))
        s = hu.ParsingState('\r\nx')  # CRLF without SP/HT is not LWS
        self.assertFalse(hu.consume_lws(s))
        self.assertEqual(s.head, 0)
        s = hu.ParsingState('\r\n x')
        self.assertTrue(hu.consume_lws(s))
        self.assertEqual(s.head, 3)
        s = hu.ParsingState(' \r\n \r\n\tx')
        hu.consume_lwses(s)
        self.assertEqual(hu.peek(s), 'x')

    def test_consume_token(self):
        s = hu.ParsingState('tok-en.1;x')
        self.assertEqual(hu.consume_token(s), 'tok-en.1')
        self.assertIsNone(hu.consume_token(s))
        self.assertEqual(s.head, 8)
        for sep in '()<>@,;:\\"/[]?={} \t\x00\x7f\u00e9':
            self.assertIsNone(hu.consume_token(hu.ParsingState(sep + 'a')),
                              repr(sep))

    def test_consume_token_or_quoted_string(self):
        s = hu.ParsingState('abc;')
        self.assertEqual(hu.consume_token_or_quoted_string(s), 'abc')
        s = hu.ParsingState('"a\\"b\\\\c";')
        self.assertEqual(hu.consume_token_or_quoted_string(s), 'a"b\\c')
        self.assertEqual(hu.peek(s), ';')
        s = hu.ParsingState('"a, b"')
        self.assertEqual(hu.consume_token_or_quoted_string(s), 'a, b')
        for bad in ['"abc', '"a\x01"', '"a\\\u00e9"', ';']:
            s = hu.ParsingState(bad)
            self.assertIsNone(hu.consume_token_or_quoted_string(s), repr(bad))
            self.assertEqual(s.head, 0)

    def test_quote_if_necessary(self):
        self.assertEqual(hu.quote_if_necessary('abc'), 'abc')
        self.assertEqual(hu.quote_if_necessary(''), '""')
        self.assertEqual(hu.quote_if_necessary('a b'), '"a b"')
        self.assertEqual(hu.quote_if_necessary('a"b'), '"a\\"b"')
        self.assertEqual(hu.quote_if_necessary('a\x01'), '"a\\\x01"')
        self.assertEqual(hu.quote_if_necessary('a;b'), '"a;b"')

    def test_parse_uri(self):
        self.assertEqual(hu.parse_uri('ws://example.com/a?b#c'),
                         ('example.com', 80, '/a?b#c'))
        self.assertEqual(hu.parse_uri('wss://example.com'),
                         ('example.com', 443, '/'))
        self.assertEqual(hu.parse_uri('ws://Example.COM:8080/x'),
                         ('example.com', 8080, '/x'))
        self.assertEqual(hu.parse_uri('/echo?x'), (None, None, '/echo?x'))
        self.assertEqual(hu.parse_uri('http://h/x'), (None, None,
                                                      'http://h/x'))
        self.assertEqual(hu.parse_uri('ws:///path'), (None, None, None))
        self.assertEqual(hu.parse_uri('ws://h:bad/x'), (None, None, None))


if __name__ == '__main__':
    unittest.main()
