"""A WebSocket client over HTTP/2 (RFC 8441, extended CONNECT) for the harness tests,
on the ``h2`` library: one stream over TLS with ALPN ``h2``, frames written and read as
the stream's DATA. Frame helpers handle masking and, for permessage-deflate, RSV1."""

import os
import socket
import ssl
import struct
import zlib

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived, ResponseReceived, StreamEnded, StreamReset


def encode_frame(opcode, payload, rsv1=False):
    """A masked client frame."""
    mask = os.urandom(4)
    first = 0x80 | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        header = struct.pack('!BB', first, 0x80 | n)
    elif n < 65536:
        header = struct.pack('!BBH', first, 0x80 | 126, n)
    else:
        header = struct.pack('!BBQ', first, 0x80 | 127, n)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def deflate(payload):
    """A permessage-deflate message body (RFC 7692 7.2.1: the trailing 00 00 ff ff
    removed)."""
    c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    data = c.compress(payload) + c.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(b'\x00\x00\xff\xff')
    return data[:-4]


def inflate(payload):
    return zlib.decompressobj(-15).decompress(payload + b'\x00\x00\xff\xff')


class H2WebSocket(object):
    """One WebSocket on a new HTTP/2 connection to 127.0.0.1:``port``."""

    def __init__(self, port, path, headers=()):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols(['h2'])
        raw = socket.create_connection(('127.0.0.1', port), timeout=10)
        self.sock = context.wrap_socket(raw, server_hostname='localhost')
        if self.sock.selected_alpn_protocol() != 'h2':
            raise AssertionError('the server did not agree to HTTP/2')
        self.conn = H2Connection(H2Configuration(client_side=True, header_encoding='utf-8'))
        self.conn.initiate_connection()
        self._flush()
        self.response = None
        self.ended = False
        self._data = b''
        # Extended CONNECT is allowed once the server's SETTINGS say so (RFC 8441 3).
        while not self.conn.remote_settings.enable_connect_protocol:
            self._pump()
        self.stream_id = self.conn.get_next_available_stream_id()
        request = [(':method', 'CONNECT'), (':protocol', 'websocket'),
                   (':scheme', 'https'), (':path', path),
                   (':authority', 'localhost:%d' % port),
                   ('sec-websocket-version', '13'), ('origin', 'https://localhost')]
        self.conn.send_headers(self.stream_id, request + list(headers))
        self._flush()
        while self.response is None and not self.ended:
            self._pump()

    @property
    def status(self):
        return int(self.response[':status'])

    def _flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def _pump(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError('the HTTP/2 connection closed')
        for event in self.conn.receive_data(data):
            if getattr(event, 'stream_id', None) != getattr(self, 'stream_id', -1):
                continue
            if isinstance(event, ResponseReceived):
                self.response = dict(event.headers)
            elif isinstance(event, DataReceived):
                self._data += event.data
                self.conn.acknowledge_received_data(
                    event.flow_controlled_length, event.stream_id)
            elif isinstance(event, (StreamEnded, StreamReset)):
                self.ended = True
        self._flush()

    def send(self, opcode, payload, rsv1=False):
        frame = encode_frame(opcode, payload, rsv1)
        while frame:
            window = min(self.conn.local_flow_control_window(self.stream_id),
                         self.conn.max_outbound_frame_size)
            if window <= 0:
                self._pump()
                continue
            self.conn.send_data(self.stream_id, frame[:window])
            frame = frame[window:]
            self._flush()

    def _take(self, n):
        while len(self._data) < n:
            if self.ended:
                raise ConnectionError('the stream ended with %d of %d bytes' % (
                    len(self._data), n))
            self._pump()
        data, self._data = self._data[:n], self._data[n:]
        return data

    def recv(self):
        """(opcode, rsv1, payload) of the next frame; server frames are unmasked."""
        first, second = self._take(2)
        if second & 0x80:
            raise AssertionError('the server masked a frame')
        n = second & 0x7F
        if n == 126:
            n = struct.unpack('!H', self._take(2))[0]
        elif n == 127:
            n = struct.unpack('!Q', self._take(8))[0]
        return first & 0x0F, bool(first & 0x40), self._take(n)

    def wait_ended(self):
        while not self.ended:
            self._pump()
        return self._data

    def close(self):
        self.sock.close()
