"""WPT's ``tools/serve/serve.py`` way: ``WebSocketDaemon`` in-process."""

import os
import sys
import threading
import unittest

import support

from pywebsocket3 import standalone as pywebsocket


class WebSocketDaemon(object):
    """The sequence of WPT's ``WebSocketDaemon``: pywebsocket's own argument parser, the
    two fields ``_main`` would set, the port from the private ``_sockets``, the server on
    a daemon thread, and shutdown / server_close / join to stop."""

    def __init__(self, host, port, doc_root, handlers_root, bind_address, ssl_config):
        cmd_args = ['-p', port, '-d', doc_root, '-w', handlers_root]
        if ssl_config is not None:
            cmd_args += ['--tls', '--private-key', ssl_config['key_path'],
                         '--certificate', ssl_config['cert_path']]
        if bind_address:
            cmd_args = ['-H', host] + cmd_args
        opts, args = pywebsocket._parse_args_and_config(cmd_args)
        opts.cgi_directories = []
        opts.is_executable_method = None
        self.server = pywebsocket.WebSocketServer(opts)
        ports = [item[0].getsockname()[1] for item in self.server._sockets]
        if not ports:
            raise OSError('Unable to determine WebSocket port')
        self.port = ports[0]
        self.started = False

    def start(self):
        self.started = True
        self.server_thread = threading.Thread(target=self.server.serve_forever)
        self.server_thread.daemon = True
        self.server_thread.start()

    def stop(self):
        if self.started:
            self.server.shutdown()
            self.server.server_close()
            self.server_thread.join()
            self.started = False


class WptDaemonTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tree = support.Tree()
        sys.path.insert(0, cls.tree.lib)
        os.environ['WSHD_HARNESS_ENV'] = 'in-process'

    @classmethod
    def tearDownClass(cls):
        sys.path.remove(cls.tree.lib)
        del os.environ['WSHD_HARNESS_ENV']
        cls.tree.remove()

    def serve(self, ssl_config):
        daemon = WebSocketDaemon('127.0.0.1', '0', self.tree.root, self.tree.handlers,
                                 True, ssl_config)
        daemon.start()
        self.addCleanup(daemon.stop)
        return daemon

    def test_ws(self):
        daemon = self.serve(None)
        support.check_server(self, daemon.port, marker=self.tree.marker,
                             env_value='in-process')

    def test_wss(self):
        daemon = self.serve({'key_path': self.tree.key, 'cert_path': self.tree.cert})
        support.check_server(self, daemon.port, tls=True, marker=self.tree.marker,
                             env_value='in-process')

    def test_stop_returns_and_frees_the_port(self):
        daemon = self.serve(None)
        port = daemon.port
        daemon.stop()
        self.assertFalse(daemon.server_thread.is_alive())
        import socket
        with self.assertRaises(OSError):
            socket.create_connection(('127.0.0.1', port), timeout=2)

    def test_both_package_names_give_the_same_modules(self):
        import mod_pywebsocket.standalone
        import mod_pywebsocket.msgutil
        import pywebsocket3.msgutil
        self.assertIs(mod_pywebsocket.standalone, pywebsocket)
        self.assertIs(mod_pywebsocket.msgutil, pywebsocket3.msgutil)
        self.assertEqual(pywebsocket3.msgutil.__spec__.name, 'pywebsocket3.msgutil')


if __name__ == '__main__':
    unittest.main()
