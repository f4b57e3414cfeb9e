"""Miscellaneous helpers: logging, byte packing, masking and raw DEFLATE."""

import logging
import re
import struct
import zlib


def prepend_message_to_exception(message, exc):
    """Replaces exc.args with a single string: message + str(exc)."""
    exc.args = (message + str(exc),)


def _translate_interp(interp, cygwin_path):
    # Maps "/usr/bin/perl -wT" to "<cygwin_path>\perl.exe -wT" so that a
    # Win32 Python can run a Cygwin script.
    if not cygwin_path:
        return interp
    m = re.match(r'^[^ ]*/([^ ]+)( .*)?', interp)
    if m is None:
        return interp
    return cygwin_path + '\\' + m.group(1) + '.exe' + (m.group(2) or '')


def get_script_interp(script_path, cygwin_path=None):
    """Returns the '#!' interpreter command line of a script (without the
    '#!' and trailing newline), or None if the first line is not a shebang.
    With cygwin_path, the interpreter path is rewritten to
    '<cygwin_path>\\<name>.exe'."""
    with open(script_path) as f:
        line = f.readline()
    m = re.match(r'^#!(.*)', line)
    if m is None:
        return None
    return _translate_interp(m.group(1), cygwin_path)


def hexify(s):
    """bytes -> '01 ab ff' (lowercase hex pairs separated by spaces)."""
    if isinstance(s, str):
        s = s.encode('latin-1')
    return ' '.join('%02x' % b for b in bytearray(s))


def get_class_logger(o):
    """logging.getLogger('<module of o's class>.<class name>')."""
    cls = o.__class__
    return logging.getLogger('%s.%s' % (cls.__module__, cls.__name__))


def pack_byte(b):
    """int 0..255 -> 1-byte bytes (struct.error outside the range)."""
    return struct.pack('!B', b)


class NoopMasker(object):
    """Masker that returns its input unchanged."""

    def mask(self, s):
        return s


class RepeatedXorMasker(object):
    """XORs data with a repeating masking key.  The key position carries
    over between mask() calls, so a payload may be masked in pieces."""

    def __init__(self, masking_key):
        self._masking_key = bytes(bytearray(masking_key))
        self._masking_key_index = 0

    def mask(self, s):
        if isinstance(s, str):
            raise Exception(
                'Masking Operation should not process unicode strings')
        key = self._masking_key
        key_len = len(key)
        data = bytearray(s)
        start = self._masking_key_index
        if not data or key_len == 0:
            return bytes(data)
        # Rotate the key so that it starts at the current index, repeat it
        # to cover the data, then XOR as big integers (fast in CPython).
        rotated = key[start:] + key[:start]
        n = len(data)
        stream = (rotated * (n // key_len + 1))[:n]
        result = (int.from_bytes(bytes(data), 'big') ^
                  int.from_bytes(stream, 'big')).to_bytes(n, 'big')
        self._masking_key_index = (start + n) % key_len
        return result


class _Deflater(object):
    """Raw DEFLATE compressor (no zlib header) with window_bits; values
    below 9 are raised to 9 because zlib cannot produce an 8-bit window
    (its output still fits a 256-byte window since zlib keeps back
    references within (1 << bits) - 262)."""

    def __init__(self, window_bits):
        self._logger = get_class_logger(self)
        window_bits = max(window_bits, 9)
        self._compress = zlib.compressobj(
            zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -window_bits)

    def compress(self, data):
        result = self._compress.compress(data)
        self._logger.debug('Compress input %r', data)
        self._logger.debug('Compress result %r', result)
        return result

    def compress_and_flush(self, data):
        """Compress then Z_SYNC_FLUSH (output ends with 00 00 ff ff)."""
        result = self._compress.compress(data)
        result += self._compress.flush(zlib.Z_SYNC_FLUSH)
        self._logger.debug('Compress input %r', data)
        self._logger.debug('Compress result %r', result)
        return result

    def compress_and_finish(self, data):
        """Compress then Z_FINISH (ends the stream with a BFINAL block)."""
        result = self._compress.compress(data)
        result += self._compress.flush(zlib.Z_FINISH)
        self._logger.debug('Compress input %r', data)
        self._logger.debug('Compress result %r', result)
        return result


class _Inflater(object):
    """Raw DEFLATE decompressor.  append() buffers input; decompress(size)
    returns up to size bytes (all available output for size == -1).  When
    a stream ends (BFINAL block) and more input follows, a new stream is
    started transparently."""

    def __init__(self, window_bits):
        self._logger = get_class_logger(self)
        self._window_bits = window_bits
        self._unconsumed = b''
        self.reset()

    def decompress(self, size):
        if not (size == -1 or size > 0):
            raise Exception('size must be -1 or positive')
        data = b''
        while True:
            if size == -1:
                chunk = self._decompress.decompress(self._unconsumed)
            else:
                chunk = self._decompress.decompress(
                    self._unconsumed, size - len(data))
            data += chunk
            self._unconsumed = self._decompress.unconsumed_tail
            if self._decompress.unused_data:
                # The stream ended and bytes of a following stream remain:
                # restart with a fresh decompressor.
                self._unconsumed = self._decompress.unused_data
                self.reset()
                if size != -1 and len(data) == size:
                    break
                continue
            break
        if data:
            self._logger.debug('Decompressed %r', data)
        return data

    def append(self, data):
        self._unconsumed += data

    def reset(self):
        self._decompress = zlib.decompressobj(-self._window_bits)


class _RFC1979Deflater(object):
    """Compressor used by permessage-deflate: DEFLATE with Z_SYNC_FLUSH and,
    at the end of a message, the trailing 00 00 ff ff removed (RFC 1979
    section 2.1, RFC 7692 section 7.2.1)."""

    def __init__(self, window_bits, no_context_takeover):
        self._deflater = None
        if window_bits is None:
            window_bits = zlib.MAX_WBITS
        self._window_bits = window_bits
        self._no_context_takeover = no_context_takeover

    def filter(self, data, end=True, bfinal=False):
        if self._deflater is None:
            self._deflater = _Deflater(self._window_bits)
        if bfinal:
            result = self._deflater.compress_and_finish(data)
            # Padding: an empty block with BFINAL=0 and BTYPE=0 (one 0 byte)
            # so that the receiver's appended 00 00 ff ff is harmless.
            result += pack_byte(0)
            self._deflater = None
            return result
        result = self._deflater.compress_and_flush(data)
        if end:
            result = result[:-4]
            if self._no_context_takeover:
                self._deflater = None
        return result


class _RFC1979Inflater(object):
    """Decompressor for permessage-deflate payloads: appends the stripped
    00 00 ff ff before inflating."""

    def __init__(self, window_bits=zlib.MAX_WBITS):
        self._inflater = _Inflater(window_bits)

    def filter(self, data):
        self._inflater.append(data + b'\x00\x00\xff\xff')
        return self._inflater.decompress(-1)
