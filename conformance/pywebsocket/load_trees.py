#!/usr/bin/env python3
"""Serve pywebsocket3's own handler trees with wshd and check what loads.

Usage: load_trees.py SDIST_ROOT

Starts $WSHD_BIN on SDIST_ROOT/example and on SDIST_ROOT/test/testdata/handlers
(the tree pywebsocket3's test_dispatch.py loads) and checks that:
  - the server starts and listens although some files are broken;
  - the source warnings are exactly the broken files test_dispatch.py expects,
    with pywebsocket's messages;
  - every other *_wsh.py is served by its handler: a handshake to its resource
    is answered by the handler (101, or the handler's own refusal or abort),
    never 404, while broken files and unknown resources are 404.
Exit status 0 when all hold, 1 otherwise.
"""

import os
import re
import socket
import subprocess
import sys
import time

# The broken files of test/testdata/handlers and the warning for each
# (pywebsocket3's test_dispatch.py, test_source_warnings).
EXPECTED_WARNINGS = {
    'blank_wsh.py': 'web_socket_do_extra_handshake is not defined.',
    'sub/non_callable_wsh.py': 'web_socket_do_extra_handshake is not callable.',
    'sub/wrong_handshake_sig_wsh.py':
        'web_socket_do_extra_handshake is not defined.',
    'sub/wrong_transfer_sig_wsh.py': 'web_socket_transfer_data is not defined.',
}

HANDSHAKE = ('GET %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n'
             'Connection: Upgrade\r\n'
             'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
             'Sec-WebSocket-Version: 13\r\n\r\n')

WARNING = re.compile(r'Warning in source loading: (\S+): (.*)$')


def start(wshd, root):
    proc = subprocess.Popen(
        [wshd, '-H', '127.0.0.1', '-p', '0', '-w', root, '--log-level', 'warn'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = proc.stdout.readline().decode()
    if not line.startswith('listening on '):
        proc.kill()
        sys.exit('load_trees.py: wshd did not start on %s: %r\n%s' %
                 (root, line, proc.stderr.read().decode()))
    host, port = line.split()[-1].rsplit(':', 1)
    return proc, (host, int(port))


def status_line(addr, resource):
    """The first line the server answers a handshake with ('' if it closed
    without answering, as AbortedByUserException does)."""
    with socket.create_connection(addr, timeout=10) as s:
        s.sendall((HANDSHAKE % resource).encode())
        data = b''
        while b'\r\n' not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b'\r\n', 1)[0].decode('latin-1')


def handler_files(root):
    for dirpath, _, files in os.walk(root):
        for name in sorted(files):
            if name.endswith('_wsh.py'):
                yield os.path.relpath(os.path.join(dirpath, name), root)


def resource_of(relpath):
    return '/' + relpath[:-len('_wsh.py')].replace(os.sep, '/')


def check_tree(wshd, root, expected_warnings):
    problems = []
    proc, addr = start(wshd, root)
    try:
        time.sleep(0.2)
        for relpath in handler_files(root):
            resource = resource_of(relpath)
            line = status_line(addr, resource)
            broken = relpath in expected_warnings
            served = not line.startswith('HTTP/1.1 404')
            print('  %-34s %-8s %s' % (resource, 'broken' if broken else 'loaded',
                                       line or '(closed without an answer)'))
            if served == broken:
                problems.append('%s: %s' % (resource, line or 'closed'))
        line = status_line(addr, '/no_such_resource')
        if not line.startswith('HTTP/1.1 404'):
            problems.append('/no_such_resource: %s (expected 404)' % line)
    finally:
        proc.kill()
        _, err = proc.communicate()
    warnings = {}
    for raw in err.decode(errors='replace').splitlines():
        m = WARNING.search(raw)
        if m:
            warnings[os.path.relpath(m.group(1), root)] = m.group(2).strip()
    if warnings != expected_warnings:
        problems.append('source warnings %r, expected %r' % (warnings, expected_warnings))
    return problems


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    sdist = os.path.abspath(argv[1])
    wshd = os.path.abspath(os.environ.get('WSHD_BIN', 'target/release/wshd'))
    problems = []
    for tree, warnings in [('example', {}),
                           ('test/testdata/handlers', EXPECTED_WARNINGS)]:
        root = os.path.join(sdist, tree)
        print('load_trees.py: %s' % root)
        problems += check_tree(wshd, root, warnings)
    for p in problems:
        print('PROBLEM: %s' % p)
    print('load_trees.py: %s' % ('ok' if not problems else '%d problems' % len(problems)))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
