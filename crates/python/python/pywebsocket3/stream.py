"""Frame-building helpers for RFC 6455 frames.

Handlers use these to forge raw frames that they write themselves with
``request.connection.write``.  The stream class itself (``request.ws_stream``)
is implemented by the server in Rust and is not defined here.
"""

import logging
import os
import struct

from pywebsocket3 import common
from pywebsocket3 import util
from pywebsocket3._stream_exceptions import BadOperationException
from pywebsocket3._stream_exceptions import ConnectionTerminatedException
from pywebsocket3._stream_exceptions import InvalidFrameException
from pywebsocket3._stream_exceptions import InvalidUTF8Exception
from pywebsocket3._stream_exceptions import UnsupportedFrameException

__all__ = [
    'BadOperationException', 'ConnectionTerminatedException',
    'InvalidFrameException', 'InvalidUTF8Exception',
    'UnsupportedFrameException', 'Frame', 'FragmentedFrameBuilder',
    'StreamOptions', 'create_length_header', 'create_header',
    'create_binary_frame', 'create_text_frame', 'create_ping_frame',
    'create_pong_frame', 'create_close_frame',
    'create_closing_handshake_body', 'parse_frame',
]

_NOOP_MASKER = util.NoopMasker()


class Frame(object):
    """A frame: fin, rsv1-3 (0/1), opcode (int or None) and payload."""

    def __init__(self, fin=1, rsv1=0, rsv2=0, rsv3=0, opcode=None,
                 payload=b''):
        self.fin = fin
        self.rsv1 = rsv1
        self.rsv2 = rsv2
        self.rsv3 = rsv3
        self.opcode = opcode
        self.payload = payload

    def __repr__(self):
        return ('Frame(fin=%r, rsv1=%r, rsv2=%r, rsv3=%r, opcode=%r, '
                'payload=%r)' % (self.fin, self.rsv1, self.rsv2, self.rsv3,
                                 self.opcode, self.payload))


def create_length_header(length, mask):
    """The second byte (MASK bit + 7-bit length) plus the 16- or 64-bit
    extended length when needed."""
    mask_bit = 0x80 if mask else 0
    if length < 0:
        raise ValueError('length must be non negative integer')
    if length <= 125:
        return util.pack_byte(mask_bit | length)
    if length < (1 << 16):
        return util.pack_byte(mask_bit | 126) + struct.pack('!H', length)
    if length < (1 << 63):
        return util.pack_byte(mask_bit | 127) + struct.pack('!Q', length)
    raise ValueError('Payload is too big for one frame')


def create_header(opcode, payload_length, fin, rsv1, rsv2, rsv3, mask):
    """Frame header without masking key.  Raises ValueError for an opcode
    outside 0..15, a length outside 0..2**63-1, or flag values other than
    0/1."""
    if opcode < 0 or opcode > 0xf:
        raise ValueError('Opcode out of range')
    if payload_length < 0 or payload_length >= (1 << 63):
        raise ValueError('payload_length out of range')
    if (fin | rsv1 | rsv2 | rsv3) & ~1:
        raise ValueError('FIN bit and Reserved bit parameter must be 0 or 1')
    first = (fin << 7) | (rsv1 << 6) | (rsv2 << 5) | (rsv3 << 4) | opcode
    return util.pack_byte(first) + create_length_header(payload_length, mask)


def _build_frame(header, body, mask):
    if not mask:
        return header + body
    masking_key = os.urandom(4)
    return header + masking_key + util.RepeatedXorMasker(masking_key).mask(
        body)


def _filter_and_format_frame_object(frame, mask, frame_filters):
    for frame_filter in frame_filters:
        frame_filter.filter(frame)
    header = create_header(frame.opcode, len(frame.payload), frame.fin,
                           frame.rsv1, frame.rsv2, frame.rsv3, mask)
    return _build_frame(header, frame.payload, mask)


def create_binary_frame(message, opcode=common.OPCODE_BINARY, fin=1,
                        mask=False, frame_filters=[]):
    """A complete frame carrying message (bytes) as payload."""
    frame = Frame(fin=fin, opcode=opcode, payload=message)
    return _filter_and_format_frame_object(frame, mask, frame_filters)


def create_text_frame(message, opcode=common.OPCODE_TEXT, fin=1, mask=False,
                      frame_filters=[]):
    """A complete frame carrying message UTF-8 encoded.  (Unlike
    pywebsocket, bytes are also accepted and used as they are.)"""
    if isinstance(message, str):
        message = message.encode('utf-8')
    return create_binary_frame(message, opcode, fin, mask, frame_filters)


def create_ping_frame(body, mask=False, frame_filters=[]):
    frame = Frame(opcode=common.OPCODE_PING, payload=body)
    return _filter_and_format_frame_object(frame, mask, frame_filters)


def create_pong_frame(body, mask=False, frame_filters=[]):
    frame = Frame(opcode=common.OPCODE_PONG, payload=body)
    return _filter_and_format_frame_object(frame, mask, frame_filters)


def create_close_frame(body, mask=False, frame_filters=[]):
    frame = Frame(opcode=common.OPCODE_CLOSE, payload=body)
    return _filter_and_format_frame_object(frame, mask, frame_filters)


def create_closing_handshake_body(code, reason):
    """Close frame body: 2-byte big-endian code + UTF-8 reason; b'' when
    code is None.  Raises BadOperationException for codes outside
    1000..4999 and for the reserved 1005, 1006 and 1015."""
    if code is None:
        return b''
    if code < common.STATUS_NORMAL_CLOSURE or \
            code > common.STATUS_USER_PRIVATE_MAX:
        raise BadOperationException('Status code is out of range')
    if code in (common.STATUS_NO_STATUS_RECEIVED,
                common.STATUS_ABNORMAL_CLOSURE,
                common.STATUS_TLS_HANDSHAKE):
        raise BadOperationException('Status code is reserved pseudo code')
    if isinstance(reason, str):
        reason = reason.encode('utf-8')
    return struct.pack('!H', code) + reason


class FragmentedFrameBuilder(object):
    """Builds the frames of a possibly fragmented message: the first frame
    gets the text/binary opcode, later ones OPCODE_CONTINUATION; end=True
    sets FIN and finishes the message."""

    def __init__(self, mask, frame_filters=[], encode_utf8=True):
        self._mask = mask
        self._frame_filters = frame_filters
        self._encode_utf8 = encode_utf8
        self._started = False
        self._opcode = common.OPCODE_TEXT

    def build(self, payload_data, end, binary):
        frame_type = common.OPCODE_BINARY if binary else common.OPCODE_TEXT
        if self._started:
            if self._opcode != frame_type:
                raise ValueError('Message types are different in frames for '
                                 'the same message')
            opcode = common.OPCODE_CONTINUATION
        else:
            opcode = frame_type
            self._opcode = frame_type
        fin = 1 if end else 0
        self._started = not end
        if binary or not self._encode_utf8:
            return create_binary_frame(payload_data, opcode, fin, self._mask,
                                       self._frame_filters)
        return create_text_frame(payload_data, opcode, fin, self._mask,
                                 self._frame_filters)


def parse_frame(receive_bytes, logger=None,
                ws_version=common.VERSION_HYBI_LATEST, unmask_receive=True):
    """Reads one frame through receive_bytes(n) (which must return exactly
    n bytes) and returns (opcode, payload, fin, rsv1, rsv2, rsv3) with the
    payload unmasked.  Raises InvalidFrameException when the MASK bit does
    not match unmask_receive or a 64-bit length has its top bit set.
    Non-minimal length encodings are only logged as a warning."""
    if logger is None:
        logger = logging.getLogger()
    first = bytearray(receive_bytes(1))[0]
    fin = (first >> 7) & 1
    rsv1 = (first >> 6) & 1
    rsv2 = (first >> 5) & 1
    rsv3 = (first >> 4) & 1
    opcode = first & 0xf
    second = bytearray(receive_bytes(1))[0]
    mask = (second >> 7) & 1
    length = second & 0x7f
    if (mask == 1) != bool(unmask_receive):
        raise InvalidFrameException(
            "Mask bit on the received frame didn't match masking "
            'configuration for received frames')
    minimal = True
    length_bytes = 1
    if length == 127:
        length = struct.unpack('!Q', receive_bytes(8))[0]
        if length > 0x7FFFFFFFFFFFFFFF:
            raise InvalidFrameException('Extended payload length >= 2^63')
        if ws_version >= 13 and length < 0x10000:
            minimal = False
            length_bytes = 8
    elif length == 126:
        length = struct.unpack('!H', receive_bytes(2))[0]
        if ws_version >= 13 and length < 126:
            minimal = False
            length_bytes = 2
    if not minimal:
        logger.warning(
            'Payload length is not encoded using the minimal number of '
            'bytes (%d is encoded using %d bytes)', length, length_bytes)
    if mask:
        masker = util.RepeatedXorMasker(receive_bytes(4))
    else:
        masker = _NOOP_MASKER
    payload = masker.mask(receive_bytes(length))
    return opcode, payload, fin, rsv1, rsv2, rsv3


class StreamOptions(object):
    """Options of a stream: filters and masking configuration."""

    def __init__(self):
        self.outgoing_frame_filters = []
        self.incoming_frame_filters = []
        self.outgoing_message_filters = []
        self.incoming_message_filters = []
        self.encode_text_message_to_utf8 = True
        self.mask_send = False
        self.unmask_receive = True
