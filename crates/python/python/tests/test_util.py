import os
import tempfile
import unittest
import zlib

from pywebsocket3 import util


class MiscTest(unittest.TestCase):
    def test_pack_byte(self):
        self.assertEqual(util.pack_byte(0), b'\x00')
        self.assertEqual(util.pack_byte(0x81), b'\x81')
        self.assertEqual(util.pack_byte(255), b'\xff')
        self.assertRaises(Exception, util.pack_byte, 256)

    def test_hexify(self):
        self.assertEqual(util.hexify(b'\x00\x0a\xff'), '00 0a ff')
        self.assertEqual(util.hexify(b''), '')

    def test_prepend_message_to_exception(self):
        e = ValueError('bar')
        util.prepend_message_to_exception('foo: ', e)
        self.assertEqual(e.args, ('foo: bar',))
        self.assertEqual(str(e), 'foo: bar')

    def test_get_class_logger(self):
        class Foo(object):
            pass
        self.assertEqual(util.get_class_logger(Foo()).name,
                         '%s.Foo' % __name__)

    def test_get_script_interp(self):
        d = tempfile.mkdtemp()
        try:
            script = os.path.join(d, 'a.pl')
            with open(script, 'w') as f:
                f.write('#!/usr/bin/perl -wT\nprint 1;\n')
            self.assertEqual(util.get_script_interp(script),
                             '/usr/bin/perl -wT')
            self.assertEqual(util.get_script_interp(script, 'C:\\cygwin\\bin'),
                             'C:\\cygwin\\bin\\perl.exe -wT')
            plain = os.path.join(d, 'b.txt')
            with open(plain, 'w') as f:
                f.write('hello\n')
            self.assertIsNone(util.get_script_interp(plain))
        finally:
            for name in os.listdir(d):
                os.remove(os.path.join(d, name))
            os.rmdir(d)


class MaskerTest(unittest.TestCase):
    def test_noop(self):
        self.assertEqual(util.NoopMasker().mask(b'abc'), b'abc')

    def test_rfc_example(self):
        key = b'\x37\xfa\x21\x3d'
        self.assertEqual(util.RepeatedXorMasker(key).mask(b'Hello'),
                         b'\x7f\x9f\x4d\x51\x58')

    def test_key_position_carries_over(self):
        key = b'\x01\x02\x03\x04'
        data = bytes(range(50))
        whole = util.RepeatedXorMasker(key).mask(data)
        expected = bytes(b ^ key[i % 4] for i, b in enumerate(data))
        self.assertEqual(whole, expected)
        m = util.RepeatedXorMasker(key)
        pieces = m.mask(data[:3]) + m.mask(data[3:10]) + m.mask(b'') + \
            m.mask(data[10:])
        self.assertEqual(pieces, expected)

    def test_leading_zero_bytes_kept(self):
        self.assertEqual(
            util.RepeatedXorMasker(b'\x00\x00\x00\x00').mask(b'\x00\x00a'),
            b'\x00\x00a')
        self.assertEqual(
            util.RepeatedXorMasker(b'\x61\x00\x00\x00').mask(b'a\x00'),
            b'\x00\x00')

    def test_accepts_bytearray_rejects_str(self):
        self.assertEqual(util.RepeatedXorMasker(b'\xff\xff\xff\xff').mask(
            bytearray(b'\x00')), b'\xff')
        self.assertRaises(Exception,
                          util.RepeatedXorMasker(b'abcd').mask, 'text')


class DeflateTest(unittest.TestCase):
    def test_rfc1979_deflater_exact_bytes(self):
        d = util._RFC1979Deflater(None, False)
        self.assertEqual(d.filter(b'Hello'), b'\xf2\x48\xcd\xc9\xc9\x07\x00')
        # Context takeover: the second message back-references the first.
        self.assertEqual(d.filter(b'Hello'), b'\xf2\x00\x11\x00\x00')

    def test_rfc1979_no_context_takeover(self):
        d = util._RFC1979Deflater(None, True)
        self.assertEqual(d.filter(b'Hello'), b'\xf2\x48\xcd\xc9\xc9\x07\x00')
        self.assertEqual(d.filter(b'Hello'), b'\xf2\x48\xcd\xc9\xc9\x07\x00')

    def test_rfc1979_not_end_keeps_trailer(self):
        d = util._RFC1979Deflater(None, False)
        self.assertTrue(d.filter(b'Hel', end=False).endswith(
            b'\x00\x00\xff\xff'))

    def test_rfc1979_bfinal(self):
        d = util._RFC1979Deflater(None, False)
        out = d.filter(b'Hello', bfinal=True)
        self.assertEqual(out[-1:], b'\x00')
        inflater = util._RFC1979Inflater()
        self.assertEqual(inflater.filter(out), b'Hello')
        # A new stream starts for the next message.
        self.assertEqual(inflater.filter(d.filter(b'World')), b'World')

    def test_rfc1979_inflater(self):
        inflater = util._RFC1979Inflater()
        self.assertEqual(inflater.filter(b'\xf2\x48\xcd\xc9\xc9\x07\x00'),
                         b'Hello')
        self.assertEqual(inflater.filter(b'\xf2\x00\x11\x00\x00'), b'Hello')

    def test_small_window_bits(self):
        d = util._Deflater(8)  # raised to 9 internally
        data = b'abc' * 1000
        out = d.compress_and_flush(data)
        self.assertEqual(zlib.decompressobj(-9).decompress(out), data)

    def test_deflater_methods(self):
        d = util._Deflater(15)
        out = d.compress(b'abc') + d.compress_and_finish(b'def')
        self.assertEqual(zlib.decompress(out, -15), b'abcdef')

    def test_inflater_sizes(self):
        c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        data = b'0123456789' * 100
        compressed = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
        inflater = util._Inflater(15)
        inflater.append(compressed[:10])
        inflater.append(compressed[10:])
        self.assertEqual(inflater.decompress(7), data[:7])
        self.assertEqual(inflater.decompress(-1), data[7:])
        self.assertEqual(inflater.decompress(-1), b'')
        self.assertRaises(Exception, inflater.decompress, 0)

    def test_inflater_across_stream_end(self):
        def one(data):
            c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED,
                                 -15)
            return c.compress(data) + c.flush(zlib.Z_FINISH)
        inflater = util._Inflater(15)
        inflater.append(one(b'first') + one(b'second'))
        self.assertEqual(inflater.decompress(-1), b'firstsecond')
        inflater.append(one(b'abc') + one(b'def'))
        self.assertEqual(inflater.decompress(3), b'abc')
        self.assertEqual(inflater.decompress(3), b'def')


if __name__ == '__main__':
    unittest.main()
