import io
import logging
import struct
import unittest

from pywebsocket3 import common
from pywebsocket3 import stream
from pywebsocket3 import util
from pywebsocket3 import _stream_exceptions


def _reader(data):
    buf = io.BytesIO(data)

    def receive_bytes(n):
        chunk = buf.read(n)
        assert len(chunk) == n
        return chunk
    return receive_bytes


class HeaderTest(unittest.TestCase):
    def test_create_length_header(self):
        self.assertEqual(stream.create_length_header(0, False), b'\x00')
        self.assertEqual(stream.create_length_header(125, False), b'\x7d')
        self.assertEqual(stream.create_length_header(125, True), b'\xfd')
        self.assertEqual(stream.create_length_header(126, False),
                         b'\x7e\x00\x7e')
        self.assertEqual(stream.create_length_header(0xffff, True),
                         b'\xfe\xff\xff')
        self.assertEqual(stream.create_length_header(0x10000, False),
                         b'\x7f\x00\x00\x00\x00\x00\x01\x00\x00')
        self.assertEqual(stream.create_length_header((1 << 63) - 1, False),
                         b'\x7f\x7f\xff\xff\xff\xff\xff\xff\xff')
        self.assertRaises(ValueError, stream.create_length_header, -1, False)
        self.assertRaises(ValueError, stream.create_length_header, 1 << 63,
                          False)

    def test_create_header(self):
        self.assertEqual(
            stream.create_header(common.OPCODE_TEXT, 5, 1, 0, 0, 0, False),
            b'\x81\x05')
        self.assertEqual(
            stream.create_header(common.OPCODE_BINARY, 0, 0, 0, 0, 0, False),
            b'\x02\x00')
        self.assertEqual(
            stream.create_header(opcode=common.OPCODE_CONTINUATION,
                                 payload_length=300, fin=1, rsv1=1, rsv2=1,
                                 rsv3=1, mask=True),
            b'\xf0\xfe\x01\x2c')
        self.assertEqual(stream.create_header(0xf, 1, 0, 0, 1, 0, False),
                         b'\x2f\x01')

    def test_create_header_errors(self):
        self.assertRaises(ValueError, stream.create_header, 16, 0, 1, 0, 0,
                          0, False)
        self.assertRaises(ValueError, stream.create_header, -1, 0, 1, 0, 0,
                          0, False)
        self.assertRaises(ValueError, stream.create_header, 1, -1, 1, 0, 0,
                          0, False)
        self.assertRaises(ValueError, stream.create_header, 1, 1 << 63, 1, 0,
                          0, 0, False)
        self.assertRaises(ValueError, stream.create_header, 1, 0, 2, 0, 0, 0,
                          False)
        self.assertRaises(ValueError, stream.create_header, 1, 0, 1, 0, 0, 2,
                          False)


class FrameHelpersTest(unittest.TestCase):
    def test_text_frame(self):
        self.assertEqual(stream.create_text_frame('Hello'),
                         b'\x81\x05Hello')
        self.assertEqual(stream.create_text_frame('\u00e9'),
                         b'\x81\x02\xc3\xa9')
        self.assertEqual(stream.create_text_frame('', fin=0),
                         b'\x01\x00')
        self.assertEqual(
            stream.create_text_frame('a', opcode=common.OPCODE_PING, fin=0),
            b'\x09\x01a')
        self.assertEqual(stream.create_text_frame('x' * 126),
                         b'\x81\x7e\x00\x7e' + b'x' * 126)
        # bytes are accepted as-is (wshd extension)
        self.assertEqual(stream.create_text_frame(b'\xff'), b'\x81\x01\xff')

    def test_binary_frame(self):
        self.assertEqual(stream.create_binary_frame(b'\x00\x01'),
                         b'\x82\x02\x00\x01')
        self.assertEqual(
            stream.create_binary_frame(b'ab', common.OPCODE_CONTINUATION, 0),
            b'\x00\x02ab')

    def test_control_frames(self):
        self.assertEqual(stream.create_ping_frame(b'hi'), b'\x89\x02hi')
        self.assertEqual(stream.create_pong_frame(b''), b'\x8a\x00')
        self.assertEqual(stream.create_close_frame(b''), b'\x88\x00')
        self.assertEqual(
            stream.create_close_frame(
                stream.create_closing_handshake_body(1000, '')),
            b'\x88\x02\x03\xe8')
        self.assertEqual(
            stream.create_close_frame(
                stream.create_closing_handshake_body(1001, 'PASS')),
            b'\x88\x06\x03\xe9PASS')

    def test_masked_frame(self):
        frame = stream.create_text_frame('Hello', mask=True)
        self.assertEqual(frame[:2], b'\x81\x85')
        key = frame[2:6]
        self.assertEqual(util.RepeatedXorMasker(key).mask(frame[6:]),
                         b'Hello')
        frame = stream.create_close_frame(b'\x03\xe8', mask=True)
        self.assertEqual(frame[:2], b'\x88\x82')
        self.assertEqual(len(frame), 8)

    def test_frame_filters(self):
        class SetRsv1(object):
            def __init__(self):
                self.seen = []

            def filter(self, frame):
                self.seen.append(frame)
                frame.rsv1 = 1
                frame.payload = frame.payload + b'!'

        f = SetRsv1()
        self.assertEqual(
            stream.create_binary_frame(b'ab', frame_filters=[f]),
            b'\xc2\x03ab!')
        self.assertIsInstance(f.seen[0], stream.Frame)
        self.assertEqual(f.seen[0].opcode, common.OPCODE_BINARY)

    def test_closing_handshake_body(self):
        self.assertEqual(stream.create_closing_handshake_body(None, ''), b'')
        self.assertEqual(stream.create_closing_handshake_body(1000, ''),
                         b'\x03\xe8')
        self.assertEqual(stream.create_closing_handshake_body(4999, '\u00e9'),
                         b'\x13\x87\xc3\xa9')
        self.assertEqual(stream.create_closing_handshake_body(3000, 'r'),
                         b'\x0b\xb8r')
        for bad in (999, 5000, 1005, 1006, 1015, 0):
            self.assertRaises(stream.BadOperationException,
                              stream.create_closing_handshake_body, bad, '')

    def test_frame_object(self):
        f = stream.Frame()
        self.assertEqual((f.fin, f.rsv1, f.rsv2, f.rsv3, f.opcode, f.payload),
                         (1, 0, 0, 0, None, b''))
        f = stream.Frame(fin=0, rsv1=1, opcode=2, payload=b'x')
        self.assertEqual((f.fin, f.rsv1, f.opcode, f.payload),
                         (0, 1, 2, b'x'))

    def test_stream_options(self):
        o = stream.StreamOptions()
        self.assertEqual(o.outgoing_frame_filters, [])
        self.assertEqual(o.incoming_frame_filters, [])
        self.assertEqual(o.outgoing_message_filters, [])
        self.assertEqual(o.incoming_message_filters, [])
        self.assertTrue(o.encode_text_message_to_utf8)
        self.assertFalse(o.mask_send)
        self.assertTrue(o.unmask_receive)
        self.assertIsNot(o.incoming_frame_filters,
                         stream.StreamOptions().incoming_frame_filters)

    def test_no_stream_class(self):
        self.assertFalse(hasattr(stream, 'Stream'))

    def test_reexported_exceptions(self):
        for name in ('ConnectionTerminatedException', 'InvalidFrameException',
                     'BadOperationException', 'UnsupportedFrameException',
                     'InvalidUTF8Exception'):
            self.assertIs(getattr(stream, name),
                          getattr(_stream_exceptions, name))


class FragmentedFrameBuilderTest(unittest.TestCase):
    def test_fragments(self):
        b = stream.FragmentedFrameBuilder(False)
        self.assertEqual(b.build('ab', False, False), b'\x01\x02ab')
        self.assertEqual(b.build('c', False, False), b'\x00\x01c')
        self.assertEqual(b.build('d', True, False), b'\x80\x01d')
        self.assertEqual(b.build(b'\x00', True, True), b'\x82\x01\x00')
        b.build(b'x', False, True)
        self.assertRaises(ValueError, b.build, 'y', True, False)


class ParseFrameTest(unittest.TestCase):
    def setUp(self):
        self.logger = logging.getLogger('test_parse_frame')
        self.logger.setLevel(logging.CRITICAL)

    def test_masked_text(self):
        # RFC 6455 section 5.7: masked "Hello".
        data = b'\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58'
        self.assertEqual(stream.parse_frame(_reader(data), self.logger),
                         (1, b'Hello', 1, 0, 0, 0))

    def test_unmasked_when_not_expected(self):
        self.assertEqual(
            stream.parse_frame(_reader(b'\x81\x05Hello'), self.logger,
                               unmask_receive=False),
            (1, b'Hello', 1, 0, 0, 0))

    def test_mask_mismatch(self):
        self.assertRaises(stream.InvalidFrameException, stream.parse_frame,
                          _reader(b'\x81\x05Hello'), self.logger)
        self.assertRaises(stream.InvalidFrameException, stream.parse_frame,
                          _reader(b'\x81\x85\x00\x00\x00\x00Hello'),
                          self.logger, unmask_receive=False)

    def test_flags_and_lengths(self):
        payload = b'a' * 200
        data = b'\x72\xfe\x00\xc8\x00\x00\x00\x00' + payload
        self.assertEqual(stream.parse_frame(_reader(data), self.logger),
                         (2, payload, 0, 1, 1, 1))
        # non-minimal 64-bit encoding is accepted
        data = b'\x81\xff' + struct.pack('!Q', 2) + b'\x00' * 4 + b'ab'
        self.assertEqual(stream.parse_frame(_reader(data), self.logger)[1],
                         b'ab')
        data = b'\x81\xff' + struct.pack('!Q', 1 << 63)
        self.assertRaises(stream.InvalidFrameException, stream.parse_frame,
                          _reader(data), self.logger)

    def test_roundtrip_with_create(self):
        frame = stream.create_binary_frame(b'xyz' * 30000, mask=True)
        self.assertEqual(stream.parse_frame(_reader(frame), self.logger),
                         (2, b'xyz' * 30000, 1, 0, 0, 0))


if __name__ == '__main__':
    unittest.main()
