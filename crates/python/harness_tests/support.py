"""What the harness tests share: a copy of the handler tree with a marker module beside
it, a self-signed certificate, and the checks every harness runs against a server."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import wsclient

HERE = os.path.dirname(os.path.abspath(__file__))


class Tree(object):
    """A temporary document root holding ``handlers/`` (the fixture tree, with a
    ``cgi-bin``), a ``lib/`` directory with the module ``wshd_harness_marker`` (which
    only a harness that puts ``lib`` on its ``sys.path`` can import), and a certificate."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix='wshd-harness-')
        self.handlers = os.path.join(self.root, 'handlers')
        shutil.copytree(os.path.join(HERE, 'handlers'), self.handlers)
        self.lib = os.path.join(self.root, 'lib')
        os.mkdir(self.lib)
        self.marker = 'marker-%d' % os.getpid()
        with open(os.path.join(self.lib, 'wshd_harness_marker.py'), 'w') as f:
            f.write('VALUE = %r\n' % self.marker)
        self.key = os.path.join(self.root, 'key.pem')
        self.cert = os.path.join(self.root, 'cert.pem')
        subprocess.run(
            ['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
             '-subj', '/CN=localhost', '-keyout', self.key, '-out', self.cert],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def remove(self):
        shutil.rmtree(self.root, ignore_errors=True)


def check_server(test, port, tls=False, marker=None, env_value=''):
    """Echo (text and binary), subprotocol, a server close code, a client close code, and
    (given ``marker``) that handlers run in the harness's interpreter."""
    c = wsclient.Client(port, '/echo', protocols=['chat', 'echo'], tls=tls)
    test.assertEqual(c.protocol, 'echo')
    c.send_text('hello \u00e9')
    test.assertEqual(c.recv_text(), 'hello \u00e9')
    c.send_binary(b'\x00\xff' * 40000)
    test.assertEqual(c.recv_frame(), (0x2, b'\x00\xff' * 40000))
    c.send_close(4001, 'bye')
    test.assertEqual(c.recv_close(), (4001, 'bye'))
    c.close()

    c = wsclient.Client(port, '/echo', tls=tls)
    test.assertIsNone(c.protocol)
    c.close()

    c = wsclient.Client(port, '/close', tls=tls)
    c.send_text('4321 server reason')
    test.assertEqual(c.recv_close(), (4321, 'server reason'))
    c.close()

    with test.assertRaises(wsclient.HandshakeRefused) as refused:
        wsclient.Client(port, '/no-such-handler', tls=tls)
    test.assertIn(' 404 ', refused.exception.status_line + ' ')

    if marker is not None:
        c = wsclient.Client(port, '/harness', tls=tls)
        test.assertEqual(c.recv_text(), '%s|%s|%d.%d' % (
            marker, env_value, sys.version_info[0], sys.version_info[1]))
        c.close()


def wait_for_listening(test, process, timeout=30):
    """The port from the ``listening on HOST:PORT`` line a server process prints."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = re.match(r'listening on .*:(\d+)$', line.strip())
        if match:
            return int(match.group(1))
    process.kill()
    test.fail('the server printed no "listening on" line; stderr: %s' % process.stderr.read())


def stop(test, process, timeout=20):
    """Interrupts a server process as a harness does (SIGINT) and checks that it shuts
    down and exits with status 0."""
    process.send_signal(2)
    try:
        status = process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        test.fail('the server did not exit within %d s of SIGINT' % timeout)
    test.assertEqual(status, 0, 'exit status after SIGINT; stderr: %s' % process.stderr.read())
    process.stdout.close()
    process.stderr.close()
