"""A small blocking WebSocket client for the harness tests (RFC 6455, client side):
handshake with an optional subprotocol, masked text and close frames out, frames in.
It checks what the server sends, so a test fails on a malformed answer."""

import base64
import hashlib
import os
import socket
import ssl
import struct

GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'


class HandshakeRefused(Exception):
    """The server answered the handshake with something other than 101."""

    def __init__(self, status_line, head):
        super().__init__(status_line)
        self.status_line = status_line
        self.head = head


class Client(object):
    def __init__(self, port, path, protocols=None, tls=False, host='127.0.0.1',
                 extra_headers=(), timeout=10):
        sock = socket.create_connection((host, port), timeout=timeout)
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock, server_hostname='localhost')
        self.sock = sock
        self._buffer = b''
        key = base64.b64encode(os.urandom(16))
        lines = ['GET %s HTTP/1.1' % path, 'Host: localhost:%d' % port,
                 'Upgrade: websocket', 'Connection: Upgrade',
                 'Sec-WebSocket-Key: %s' % key.decode(), 'Sec-WebSocket-Version: 13',
                 'Origin: http://localhost']
        if protocols:
            lines.append('Sec-WebSocket-Protocol: %s' % ', '.join(protocols))
        lines.extend('%s: %s' % h for h in extra_headers)
        sock.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode())
        head = self._read_until(b'\r\n\r\n').decode('latin-1')
        status_line, _, rest = head.partition('\r\n')
        if ' 101 ' not in status_line + ' ':
            sock.close()
            raise HandshakeRefused(status_line, head)
        self.headers = {}
        for line in rest.split('\r\n'):
            if line:
                name, _, value = line.partition(':')
                self.headers[name.strip().lower()] = value.strip()
        expected = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        if self.headers.get('sec-websocket-accept') != expected:
            sock.close()
            raise AssertionError('wrong Sec-WebSocket-Accept in %r' % head)
        self.protocol = self.headers.get('sec-websocket-protocol')

    def _read_until(self, marker):
        while marker not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError('closed before %r' % marker)
            self._buffer += chunk
        head, _, self._buffer = self._buffer.partition(marker)
        return head + marker

    def _read_exactly(self, n):
        while len(self._buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError('closed with %d of %d bytes' % (len(self._buffer), n))
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def send_frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            header = struct.pack('!BB', 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            header = struct.pack('!BBH', 0x80 | opcode, 0x80 | 126, n)
        else:
            header = struct.pack('!BBQ', 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send_text(self, text):
        self.send_frame(0x1, text.encode('utf-8'))

    def send_binary(self, data):
        self.send_frame(0x2, data)

    def send_close(self, code=None, reason=''):
        body = b'' if code is None else struct.pack('!H', code) + reason.encode('utf-8')
        self.send_frame(0x8, body)

    def recv_frame(self):
        """(opcode, payload) of the next frame; server frames must be unmasked and final."""
        first, second = self._read_exactly(2)
        if second & 0x80:
            raise AssertionError('the server masked a frame')
        n = second & 0x7F
        if n == 126:
            n = struct.unpack('!H', self._read_exactly(2))[0]
        elif n == 127:
            n = struct.unpack('!Q', self._read_exactly(8))[0]
        return first & 0x0F, self._read_exactly(n)

    def recv_text(self):
        opcode, payload = self.recv_frame()
        if opcode != 0x1:
            raise AssertionError('expected a text frame, got opcode %d: %r' % (opcode, payload))
        return payload.decode('utf-8')

    def recv_close(self):
        """(code, reason) of the server's close frame (code None for an empty body)."""
        opcode, payload = self.recv_frame()
        if opcode != 0x8:
            raise AssertionError('expected a close frame, got opcode %d: %r' % (opcode, payload))
        if not payload:
            return None, ''
        return struct.unpack('!H', payload[:2])[0], payload[2:].decode('utf-8')

    def close(self):
        self.sock.close()
