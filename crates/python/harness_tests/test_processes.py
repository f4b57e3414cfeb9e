"""The harnesses that start wshd as a process: Firefox's ``pywebsocket_wrapper.py``
(``mod_pywebsocket.standalone._main()`` on ``sys.argv``), Chromium's and WebKit's
``standalone.py`` run by path (with ``--cgi-paths``), ``python -m`` and the ``wshd``
command."""

import os
import platform
import shutil
import subprocess
import sys
import time
import unittest
import urllib.request

import support
import wsclient

import pywebsocket3.standalone

FIREFOX_WRAPPER = '''
import sys
from mod_pywebsocket import standalone
sys.argv = ["pywebsocket_wrapper.py"] + sys.argv[1:]
standalone._main()
'''


class ProcessHarnessTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tree = support.Tree()

    @classmethod
    def tearDownClass(cls):
        cls.tree.remove()

    def start(self, command, env_value):
        env = dict(os.environ, PYTHONPATH=self.tree.lib, WSHD_HARNESS_ENV=env_value)
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env=env, cwd=self.tree.root, universal_newlines=True)
        port = support.wait_for_listening(self, process)
        self.addCleanup(support.stop, self, process)
        return port

    def args(self, *extra):
        return ['-H', '127.0.0.1', '-p', '0', '-d', self.tree.root,
                '-w', self.tree.handlers] + list(extra)

    def wait_for_log(self, log, marker, timeout=10):
        """The log file's text once it contains ``marker``, or as it is after ``timeout``."""
        deadline = time.time() + timeout
        text = ''
        while marker not in text and time.time() < deadline:
            time.sleep(0.05)
            with open(log) as f:
                text = f.read()
        return text

    def tls_args(self):
        return ['--tls', '--private-key', self.tree.key, '--certificate', self.tree.cert]

    def test_firefox_wrapper(self):
        port = self.start([sys.executable, '-c', FIREFOX_WRAPPER] + self.args(), 'firefox')
        support.check_server(self, port, marker=self.tree.marker, env_value='firefox')

    def test_firefox_wrapper_tls(self):
        port = self.start([sys.executable, '-c', FIREFOX_WRAPPER] + self.args() +
                          self.tls_args(), 'firefox')
        support.check_server(self, port, tls=True, marker=self.tree.marker,
                             env_value='firefox')

    def test_chromium_script_path_with_cgi(self):
        script = pywebsocket3.standalone.__file__
        port = self.start([sys.executable, script, '--cgi-paths', '/handlers/cgi-bin'] +
                          self.args(), 'chromium')
        support.check_server(self, port, marker=self.tree.marker, env_value='chromium')
        body = urllib.request.urlopen(
            'http://127.0.0.1:%d/handlers/cgi-bin/hello.py' % port, timeout=10).read()
        self.assertEqual(body, b'hello from cgi\n')

    def test_chromium_script_path_tls(self):
        script = pywebsocket3.standalone.__file__
        port = self.start([sys.executable, script] + self.args() + self.tls_args(),
                          'chromium')
        support.check_server(self, port, tls=True, marker=self.tree.marker,
                             env_value='chromium')

    def test_python_dash_m(self):
        port = self.start([sys.executable, '-m', 'pywebsocket3.standalone'] + self.args(),
                          'dash-m')
        support.check_server(self, port, marker=self.tree.marker, env_value='dash-m')

    def test_wshd_command(self):
        command = shutil.which('wshd', path=os.path.dirname(sys.executable))
        self.assertIsNotNone(command, 'pip installed no wshd command beside the interpreter')
        port = self.start([command] + self.args(), 'command')
        support.check_server(self, port, marker=self.tree.marker, env_value='command')

    def test_log_file_gets_wshds_records_through_python_logging(self):
        log = os.path.join(self.tree.root, 'wshd.log')
        port = self.start([sys.executable, '-m', 'pywebsocket3.standalone'] +
                          self.args('--log-file', log, '--log-level', 'info'), 'log')
        with self.assertRaises(wsclient.HandshakeRefused):
            wsclient.Client(port, '/no-such-handler')
        text = self.wait_for_log(log, 'no WebSocket handler')
        self.assertRegex(text, r'\] \[WARNING\] wshd\.server\.accept: no WebSocket handler '
                               r'for this resource .*resource=/no-such-handler')

    def test_keepalive_options_reach_the_server(self):
        port = self.start([sys.executable, '-m', 'pywebsocket3.standalone'] +
                          self.args('--ping-interval', '0.2', '--ping-timeout', '0.3'),
                          'keepalive')
        client = wsclient.Client(port, '/echo')
        self.assertEqual(client.recv_frame(), (9, b''), 'a keepalive ping')
        # Unanswered, the ping ends the connection with 1011.
        self.assertEqual(client.recv_frame(), (8, b'\x03\xf3'))

    def test_idle_timeout_option_reaches_the_server(self):
        port = self.start([sys.executable, '-m', 'pywebsocket3.standalone'] +
                          self.args('--idle-timeout', '0.3', '--send-timeout', '5'), 'idle')
        client = wsclient.Client(port, '/echo')
        # No message either way: closed with 1001 going away.
        self.assertEqual(client.recv_frame(), (8, b'\x03\xe9'))

    @unittest.skipUnless(sys.platform.startswith('linux') and
                         platform.libc_ver()[0] == 'glibc', 'malloc_trim is glibc\'s')
    def test_memory_trim_interval_option_reaches_the_server(self):
        log = os.path.join(self.tree.root, 'trim.log')
        port = self.start([sys.executable, '-m', 'pywebsocket3.standalone'] +
                          self.args('--log-file', log, '--log-level', 'debug',
                                    '--memory-trim-interval', '0.2'), 'trim')
        client = wsclient.Client(port, '/echo')
        client.send_text('hi')
        self.assertEqual(client.recv_text(), 'hi')
        client.send_close(1000)
        client.recv_close()
        client.close()
        # Once a connection has ended, freed memory is given back and the trim logged.
        text = self.wait_for_log(log, 'returned')
        self.assertRegex(text, r'\] \[DEBUG\] wshd\.memory: returned \d+ KiB of freed memory')

    def hybi00_handshake(self, port):
        """The HyBi 00 draft's worked example for /echo; returns all the server sent."""
        import socket
        request = (b'GET /echo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\n'
                   b'Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\nUpgrade: WebSocket\r\n'
                   b'Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n'
                   b'Origin: http://example.com\r\n\r\n^n:ds[4U')
        with socket.create_connection(('127.0.0.1', port), timeout=10) as s:
            s.sendall(request)
            received = b''
            while not received.endswith((b"8jKS'y:G*Co,Wxa-", b'--allow-hybi00\n')):
                chunk = s.recv(4096)
                if not chunk:
                    break
                received += chunk
            return received

    def test_allow_hybi00_reaches_the_server(self):
        port = self.start([sys.executable, '-m', 'pywebsocket3.standalone'] +
                          self.args('--allow-hybi00'), 'hybi00')
        received = self.hybi00_handshake(port)
        self.assertTrue(received.startswith(b'HTTP/1.1 101 WebSocket Protocol Handshake\r\n'),
                        received)
        self.assertTrue(received.endswith(b"\r\n\r\n8jKS'y:G*Co,Wxa-"), received)

    def test_without_allow_hybi00_a_hybi00_handshake_gets_400(self):
        port = self.start([sys.executable, '-m', 'pywebsocket3.standalone'] + self.args(),
                          'hybi00-off')
        received = self.hybi00_handshake(port)
        self.assertTrue(received.startswith(b'HTTP/1.1 400 '), received)
        self.assertIn(b'--allow-hybi00', received)

    def test_a_trusted_proxy_that_is_not_an_address_exits_1(self):
        result = subprocess.run(
            [sys.executable, '-m', 'pywebsocket3.standalone'] +
            self.args('--trusted-proxy', 'proxy.example'),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
            timeout=30)
        self.assertEqual(result.returncode, 1)
        self.assertIn('is not an IP address or network', result.stderr)

    def test_bad_tls_options_exit_1(self):
        result = subprocess.run(
            [sys.executable, '-m', 'pywebsocket3.standalone'] + self.args('--tls'),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
            timeout=30)
        self.assertEqual(result.returncode, 1)
        self.assertIn('private_key and certificate', result.stderr)

    def test_unknown_option_exits_1_as_pywebsocket(self):
        result = subprocess.run(
            [sys.executable, '-m', 'pywebsocket3.standalone', '--no-such-option'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
            timeout=30)
        self.assertEqual(result.returncode, 1)
        self.assertIn("Unrecognized arguments: ['--no-such-option']", result.stderr)


if __name__ == '__main__':
    unittest.main()
