"""wshd's server for Python harnesses: pywebsocket's ``standalone`` entry points.

The harnesses that run pywebsocket start it in three ways, and each works here:

* in-process, as WPT's ``tools/serve/serve.py`` does::

      options, args = standalone._parse_args_and_config(argv)
      options.cgi_directories = []
      options.is_executable_method = None
      server = standalone.WebSocketServer(options)
      port = server._sockets[0][0].getsockname()[1]
      threading.Thread(target=server.serve_forever, daemon=True).start()
      ...
      server.shutdown(); server.server_close()

* ``standalone._main()`` on ``sys.argv`` (Firefox's ``pywebsocket_wrapper.py``);
* as a script, ``python <site-packages>/pywebsocket3/standalone.py ...`` (Chromium,
  WebKit), or ``python -m pywebsocket3.standalone`` / the ``wshd`` command.

The server is wshd's (Rust, in the extension module ``wshd._native``), running in this
interpreter: handlers see this process's ``sys.path``, environment and modules. This
module parses the options (pywebsocket's, with their ``dest`` names, plus wshd's own),
checks them, and hands plain values to ``wshd._native.Server``. It implements no
protocol, and it is not embedded in the ``wshd`` binary, which parses the same options
in Rust.
"""

import argparse
import base64
import configparser
import logging
import os
import socket
import sys
import threading
import time

if __name__ == '__main__' and __package__ in (None, ''):
    # Run by path: the package directory is sys.path[0], where its modules would shadow
    # top-level ones (util, common, stream) for handlers; import the package instead.
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or '.') != _here]

from pywebsocket3 import common  # noqa: E402
from wshd import _native  # noqa: E402

_DEFAULT_LOG_MAX_BYTES = 1024 * 256
_DEFAULT_LOG_BACKUP_COUNT = 5
_DEFAULT_REQUEST_QUEUE_SIZE = 128
_DEFAULT_SHUTDOWN_TIMEOUT = 5.0

_LOG_LEVELS = ['fine', 'debug', 'info', 'warning', 'warn', 'error', 'critical']

_logger = logging.getLogger('wshd.standalone')


def _build_option_parser():
    """pywebsocket's options (same spellings, ``dest`` names and defaults), then wshd's."""
    p = argparse.ArgumentParser(
        prog='wshd',
        description='wshd: serves a tree of pywebsocket *_wsh.py handlers.')
    p.add_argument('--config', dest='config_file', default=None,
                   help='INI file with a [pywebsocket] section of option = value lines')
    p.add_argument('-H', '--server-host', '--server_host', dest='server_host', default='',
                   help="host to listen on ('': every address)")
    p.add_argument('-V', '--validation-host', '--validation_host', dest='validation_host',
                   default=None, help='for absolute request URIs: the host they must name')
    p.add_argument('-p', '--port', dest='port', type=int,
                   default=common.DEFAULT_WEB_SOCKET_PORT, help='port (0: a free one)')
    p.add_argument('-P', '--validation-port', '--validation_port', dest='validation_port',
                   type=int, default=None,
                   help='for absolute request URIs: the port they must name')
    p.add_argument('-w', '--websock-handlers', '--websock_handlers', dest='websock_handlers',
                   default='.', help='handler root: <root>/<name>_wsh.py serves /<name>')
    p.add_argument('-m', '--websock-handlers-map-file', '--websock_handlers_map_file',
                   dest='websock_handlers_map_file', default=None,
                   help='alias map file: lines of "alias_path existing_path"')
    p.add_argument('-s', '--scan-dir', '--scan_dir', dest='scan_dir', default=None,
                   help='only load handlers under this directory of the handler root')
    p.add_argument('--allow-handlers-outside-root-dir', '--allow_handlers_outside_root_dir',
                   dest='allow_handlers_outside_root_dir', action='store_true', default=False,
                   help='load handler files whose symlink target is outside the root')
    p.add_argument('-d', '--document-root', '--document_root', dest='document_root',
                   default='.', help='document root for static files and CGI')
    p.add_argument('-x', '--cgi-paths', '--cgi_paths', dest='cgi_paths', default=None,
                   help='comma-separated URL prefixes whose executables run as CGI')
    p.add_argument('-t', '--tls', dest='use_tls', action='store_true', default=False,
                   help='serve TLS (wss://)')
    p.add_argument('-k', '--private-key', '--private_key', dest='private_key', default='',
                   help='PEM private key for --tls')
    p.add_argument('-c', '--certificate', dest='certificate', default='',
                   help='PEM certificate chain for --tls')
    p.add_argument('--tls-client-auth', dest='tls_client_auth', action='store_true',
                   default=False, help='require a TLS client certificate')
    p.add_argument('--tls-client-cert-optional', dest='tls_client_cert_optional',
                   action='store_true', default=False,
                   help='with --tls-client-auth: accept clients without a certificate')
    p.add_argument('--tls-client-ca', dest='tls_client_ca', default='',
                   help='PEM bundle of the CAs client certificates must chain to')
    p.add_argument('--basic-auth', dest='use_basic_auth', action='store_true', default=False,
                   help='require HTTP Basic authentication')
    p.add_argument('--basic-auth-credential', dest='basic_auth_credential',
                   default='test:test', help='the credential, user:password')
    p.add_argument('-l', '--log-file', '--log_file', dest='log_file', default='',
                   help='log to this file, rotated by size')
    p.add_argument('--log-level', '--log_level', dest='log_level', default='warn',
                   choices=_LOG_LEVELS, help='log level')
    p.add_argument('--deflate-log-level', '--deflate_log_level', dest='deflate_log_level',
                   default='warn', choices=_LOG_LEVELS[1:],
                   help='log level of the compression loggers')
    p.add_argument('--thread-monitor-interval-in-sec', '--thread_monitor_interval_in_sec',
                   dest='thread_monitor_interval_in_sec', type=int, default=-1,
                   help='if > 0: log the open connections every this many seconds')
    p.add_argument('--log-max', '--log_max', dest='log_max', type=int,
                   default=_DEFAULT_LOG_MAX_BYTES, help='rotate the log file at this size')
    p.add_argument('--log-count', '--log_count', dest='log_count', type=int,
                   default=_DEFAULT_LOG_BACKUP_COUNT, help='rotated log files kept')
    p.add_argument('-q', '--queue', dest='request_queue_size', type=int,
                   default=_DEFAULT_REQUEST_QUEUE_SIZE, help='listen backlog')
    p.add_argument('--handler-encoding', '--handler_encoding', dest='handler_encoding',
                   default=None, help='encoding of handler files (default UTF-8)')
    # wshd's own.
    p.add_argument('--shutdown-timeout', '--shutdown_timeout', dest='shutdown_timeout',
                   type=float, default=_DEFAULT_SHUTDOWN_TIMEOUT,
                   help='seconds open WebSockets get to close on shutdown (default 5)')
    p.add_argument('--unsupported-frame-close-code', '--unsupported_frame_close_code',
                   dest='unsupported_frame_close_code', type=int, choices=[1002, 1003],
                   default=1002, help='close code for reserved bits or opcodes')
    p.add_argument('--ping-interval', '--ping_interval', dest='ping_interval', type=float,
                   default=None, help='seconds without input before a keepalive ping '
                   '(default: off)')
    p.add_argument('--ping-timeout', '--ping_timeout', dest='ping_timeout', type=float,
                   default=20.0, help='seconds a keepalive ping waits for the peer '
                   '(default 20)')
    p.add_argument('--send-timeout', '--send_timeout', dest='send_timeout', type=float,
                   default=30.0, help='seconds a peer may take none of the bytes waiting '
                   'for it before the connection is dropped (default 30; 0: never)')
    p.add_argument('--idle-timeout', '--idle_timeout', dest='idle_timeout', type=float,
                   default=None, help='seconds without a message either way before the '
                   'connection is closed with 1001 (default: off)')
    p.add_argument('--memory-trim-interval', '--memory_trim_interval',
                   dest='memory_trim_interval', type=float, default=10.0,
                   help='at most this often (seconds), once connections have ended, give '
                   'the memory they freed back to the system (default 10; 0: never)')
    p.add_argument('--trusted-proxy', '--trusted_proxy', dest='trusted_proxies',
                   action='append', default=[], metavar='ADDR[/BITS]',
                   help='a reverse proxy whose Forwarded / X-Forwarded-For headers name '
                   'the client (repeatable)')
    p.add_argument('--allow-hybi00', '--allow_hybi00', dest='allow_hybi00',
                   action='store_true', default=False,
                   help='also answer HyBi 00 (hixie-76) handshakes of legacy clients '
                   '(default: off; the protocol has no masking)')
    p.add_argument('--reuse-port', '--reuse_port', dest='reuse_port', action='store_true',
                   default=False, help='set SO_REUSEPORT on the listening sockets')
    p.add_argument('--strict-extra-headers', '--strict_extra_headers',
                   dest='strict_extra_headers', action='store_true', default=False,
                   help='refuse (500) extra_headers with CR, LF or NUL instead of sending '
                   'them as written')
    return p


_FALSE_WORDS = ('false', 'no', 'off', '0')


def _config_arguments(parser, path):
    """The arguments a --config file's [pywebsocket] section stands for: ``--name value``,
    or ``--name`` alone for a flag whose value is not false/no/off/0."""
    config = configparser.ConfigParser(interpolation=None)
    with open(path) as f:
        config.read_file(f)
    flags = {o for a in parser._actions if a.nargs == 0 for o in a.option_strings}
    args = []
    for name, value in config.items('pywebsocket'):
        option = '--' + name
        if option in flags:
            if value.strip().lower() not in _FALSE_WORDS:
                args.append(option)
        else:
            args.extend([option, value])
    return args


def _parse_args_and_config(args):
    """``(options, remaining_args)`` from ``args`` (``None``: ``sys.argv[1:]``) and the
    --config file it names, whose entries come first so the command line wins.
    An unknown option, a positional argument or an unreadable config file logs CRITICAL
    and exits 1, as pywebsocket does; a bad option value exits 2 (argparse)."""
    parser = _build_option_parser()
    options, rest = parser.parse_known_args(args=args)
    if rest:
        logging.critical('Unrecognized arguments: %r (try --help)', rest)
        sys.exit(1)
    if not options.config_file:
        return options, rest
    try:
        from_config = _config_arguments(parser, options.config_file)
    except (OSError, configparser.Error) as e:
        logging.critical('Failed to read configuration file %r: %s', options.config_file, e)
        sys.exit(1)
    argv = sys.argv[1:] if args is None else list(args)
    return parser.parse_known_args(args=from_config + argv)


def _tls_settings(options):
    """The TLS part of the options as keyword arguments of ``_native.Server``; raises
    ValueError for a combination pywebsocket refuses."""
    if not getattr(options, 'use_tls', False):
        if getattr(options, 'tls_client_auth', False) or getattr(
                options, 'tls_client_cert_optional', False):
            raise ValueError('TLS must be enabled (--tls) for client authentication')
        return {}
    if not options.private_key or not options.certificate:
        raise ValueError('To use TLS, specify private_key and certificate')
    client_auth = 'off'
    if getattr(options, 'tls_client_auth', False):
        client_auth = 'optional' if options.tls_client_cert_optional else 'required'
    elif getattr(options, 'tls_client_cert_optional', False):
        raise ValueError('Client authentication must be enabled to specify '
                         'tls_client_cert_optional')
    return {
        'certificate': os.path.abspath(options.certificate),
        'private_key': os.path.abspath(options.private_key),
        'client_auth': client_auth,
        'client_ca': (os.path.abspath(options.tls_client_ca)
                      if getattr(options, 'tls_client_ca', '') else None),
    }


def _basic_auth(options):
    """``user:password`` for --basic-auth, or None. Also takes the ``Basic <base64>`` form
    that pywebsocket's ``_main`` leaves in the options."""
    if not getattr(options, 'use_basic_auth', False):
        return None
    credential = options.basic_auth_credential
    if credential.startswith('Basic '):
        credential = base64.b64decode(credential[len('Basic '):]).decode('utf-8')
    return credential


def _cgi_paths(options):
    directories = getattr(options, 'cgi_directories', None)
    if directories is None:
        directories = options.cgi_paths.split(',') if options.cgi_paths else []
    if getattr(options, 'is_executable_method', None) is not None:
        _logger.warning('is_executable_method is not used: wshd runs a CGI file when its '
                        'executable bit is set')
    return [d for d in directories if d]


def _listen_addresses(host, port):
    """The (ip, port) pairs to listen on: for '' the IPv6 wildcard (which takes IPv4 too on
    Linux) then the IPv4 one; else every address the host resolves to."""
    if not host:
        return [('::', port), ('0.0.0.0', port)]
    seen = []
    for family, _, _, _, sockaddr in socket.getaddrinfo(
            host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE):
        if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[:2] not in seen:
            seen.append(sockaddr[:2])
    return seen


class WebSocketServer(object):
    """pywebsocket's ``WebSocketServer`` on wshd: the constructor loads the handler tree
    and listens; ``serve_forever``, ``shutdown`` and ``server_close`` behave as
    socketserver's. ``_sockets`` holds ``(socket, addrinfo)`` pairs, one per listening
    socket (duplicates of wshd's, for ``getsockname()``)."""

    def __init__(self, options):
        handler_root = os.path.abspath(options.websock_handlers)
        scan_dir = getattr(options, 'scan_dir', None)
        map_file = getattr(options, 'websock_handlers_map_file', None)
        _native.set_log_level(logging.getLogger('wshd').getEffectiveLevel())
        self.websocket_server_options = options
        self._server = _native.Server(
            _listen_addresses(options.server_host, options.port),
            handler_root,
            scan_dir=os.path.abspath(scan_dir) if scan_dir else None,
            allow_handlers_outside_root=bool(
                getattr(options, 'allow_handlers_outside_root_dir', False)),
            handler_encoding=getattr(options, 'handler_encoding', None),
            map_file=os.path.abspath(map_file) if map_file else None,
            document_root=os.path.abspath(getattr(options, 'document_root', None) or '.'),
            cgi_paths=_cgi_paths(options),
            basic_auth=_basic_auth(options),
            validation_host=getattr(options, 'validation_host', None),
            validation_port=getattr(options, 'validation_port', None),
            backlog=getattr(options, 'request_queue_size', _DEFAULT_REQUEST_QUEUE_SIZE),
            reuse_port=bool(getattr(options, 'reuse_port', False)),
            shutdown_timeout=getattr(options, 'shutdown_timeout', _DEFAULT_SHUTDOWN_TIMEOUT),
            unsupported_frame_close_code=getattr(options, 'unsupported_frame_close_code',
                                                 1002),
            strict_extra_headers=bool(getattr(options, 'strict_extra_headers', False)),
            ping_interval=getattr(options, 'ping_interval', None),
            ping_timeout=getattr(options, 'ping_timeout', 20.0),
            send_timeout=getattr(options, 'send_timeout', 30.0),
            idle_timeout=getattr(options, 'idle_timeout', None),
            memory_trim_interval=getattr(options, 'memory_trim_interval', 10.0),
            trusted_proxies=list(getattr(options, 'trusted_proxies', None) or []),
            allow_hybi00=bool(getattr(options, 'allow_hybi00', False)),
            **_tls_settings(options))
        self._sockets = []
        for fd, _ in self._server.listening():
            sock = socket.socket(fileno=os.dup(fd))
            addrinfo = (sock.family, socket.SOCK_STREAM, socket.IPPROTO_TCP, '',
                        sock.getsockname())
            self._sockets.append((sock, addrinfo))
        self.server_address = self._sockets[0][0].getsockname()

    def fileno(self):
        return self._sockets[0][0].fileno()

    def serve_forever(self, poll_interval=0.5):
        """Serves until ``shutdown()`` (from another thread) or until a signal handler
        raises, e.g. KeyboardInterrupt."""
        self._server.serve_forever(poll_interval)

    def shutdown(self):
        """Stops ``serve_forever`` and waits until it has returned."""
        self._server.shutdown()

    def server_close(self):
        """Closes the listening sockets and what remains of the connections."""
        for sock, _ in self._sockets:
            sock.close()
        self._server.close()

    def active_connections(self):
        """The number of open WebSocket connections."""
        return self._server.active_connections()


def _configure_logging(options):
    """--log-level, --log-file (rotated by --log-max and --log-count) and
    --deflate-log-level, on Python's root logger, as pywebsocket configures them."""
    logging.addLevelName(common.LOGLEVEL_FINE, 'FINE')
    level = 'WARNING' if options.log_level == 'warn' else options.log_level.upper()
    root = logging.getLogger()
    root.setLevel(logging.getLevelName(level))
    if options.log_file:
        # Imported here only: it costs a few ms of start-up.
        from logging.handlers import RotatingFileHandler
        handler = RotatingFileHandler(
            options.log_file, 'a', options.log_max, options.log_count)
    else:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(
        '[%(asctime)s] [%(levelname)s] %(name)s: %(message)s'))
    root.addHandler(handler)
    deflate = ('WARNING' if options.deflate_log_level == 'warn'
               else options.deflate_log_level.upper())
    for package in ('pywebsocket3', 'mod_pywebsocket'):
        for cls in ('_Deflater', '_Inflater'):
            logging.getLogger('%s.util.%s' % (package, cls)).setLevel(deflate)


def _monitor(server, interval):
    while True:
        time.sleep(interval)
        _logger.info('%d open WebSocket connections', server.active_connections())


def _main(args=None):
    """Runs the server as the ``standalone.py`` program: changes to the document root,
    configures logging, serves until interrupted. A bad option exits with status 2, a
    server that cannot start with status 1."""
    options, _ = _parse_args_and_config(args=args)
    os.chdir(options.document_root)
    _configure_logging(options)
    options.cgi_directories = options.cgi_paths.split(',') if options.cgi_paths else []
    options.is_executable_method = None
    try:
        server = WebSocketServer(options)
    except (OSError, ValueError) as e:
        logging.critical('wshd: %s', e)
        sys.exit(1)
    for sock, _ in server._sockets:
        print('listening on %s' % _format_address(sock.getsockname()), flush=True)
    if options.thread_monitor_interval_in_sec > 0:
        threading.Thread(target=_monitor, args=(server, options.thread_monitor_interval_in_sec),
                         name='ThreadMonitor', daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        _logger.info('interrupted; shut down')
    finally:
        server.server_close()


def _format_address(sockaddr):
    host, port = sockaddr[0], sockaddr[1]
    return '[%s]:%d' % (host, port) if ':' in host else '%s:%d' % (host, port)


def main():
    """The ``wshd`` command installed by pip."""
    _main(sys.argv[1:])


if __name__ == '__main__':
    _main(sys.argv[1:])
