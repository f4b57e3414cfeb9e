#!/usr/bin/env python3
"""Run pywebsocket3's own end-to-end suite (test/test_endtoend.py) against wshd.

Usage: run_endtoend.py SDIST_ROOT EXPECTED_FILE

SDIST_ROOT is an unpacked pywebsocket3 source distribution; it and the `six`
package must already be importable (conformance/pywebsocket/run.sh arranges
both). The suite is imported unchanged; at run time only the way it starts
"the server" is patched: where it would run
    python standalone.py -H localhost -V localhost -p PORT -P PORT -d <sdist>/example ...
it runs
    $WSHD_BIN -H localhost -V localhost -p PORT -P PORT -d <sdist>/example ... \
        --unsupported-frame-close-code 1003
with the same arguments plus that one option: test_close_on_unsupported_frame
asserts pywebsocket's close code 1003 for a frame with RSV3 set, where wshd's
default is RFC 6455's 1002 (Autobahn|Testsuite's group 3 checks the default).
Every other subprocess the suite starts (example/echo_client.py) still runs
under Python.

EXPECTED_FILE lists the tests that are expected to fail, one per line as
`Class.test_method  # reason`. The exit status is 0 only when the failing
tests are exactly those: a failure not listed, or a listed test that passes,
makes it 1.
"""

import atexit
import os
import subprocess
import sys
import threading
import time
import unittest

# How long to wait for wshd to print `listening on ADDR` (it is bound then).
READY_TIMEOUT_SEC = 10.0

# Appended to every wshd command line: pywebsocket's close code for unsupported
# frames (see the module docstring).
COMPAT_ARGS = ['--unsupported-frame-close-code', '1003']


def load_expected(path):
    expected = {}
    with open(path, encoding='utf-8') as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith('#'):
                continue
            test_id, sep, reason = line.partition('#')
            test_id = test_id.strip()
            reason = reason.strip()
            if not sep or not reason or ' ' in test_id:
                sys.exit('%s:%d: expected `Class.test_method  # reason`, got %r'
                         % (path, lineno, raw.rstrip('\n')))
            expected[test_id] = reason
    return expected


def short_id(test):
    # `test.test_endtoend.EndToEndHyBiTest.test_echo` -> `EndToEndHyBiTest.test_echo`
    return '.'.join(test.id().split('.')[-2:])


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    sdist_root = os.path.abspath(argv[1])
    expected = load_expected(argv[2])
    wshd_bin = os.path.abspath(os.environ.get('WSHD_BIN', 'target/release/wshd'))
    if not os.access(wshd_bin, os.X_OK):
        sys.exit('run_endtoend.py: no executable wshd at %s (set WSHD_BIN)' % wshd_bin)

    # The suite does `import set_sys_path` (a module in test/) and
    # `from test import client_for_testing` (test/ as a package of the sdist
    # root), so both must come before the standard library's `test` package.
    sys.path[:0] = [sdist_root, os.path.join(sdist_root, 'test')]
    from test import test_endtoend  # noqa: E402  pylint: disable=import-outside-toplevel

    base = test_endtoend.EndToEndTestBase
    original_setup = base.setUp
    original_run_python_command = base._run_python_command
    started = []

    def kill_leftovers():
        for proc in started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    atexit.register(kill_leftovers)

    def setUp(self):
        original_setup(self)
        # Same path for the example tree (`-d`), the server is wshd.
        self.document_root = os.path.join(sdist_root, 'example')
        self.standalone_command = wshd_bin

    def _run_python_command(self, commandline, stdout=None, stderr=None):
        if not commandline or commandline[0] != wshd_bin:
            # example/echo_client.py: unchanged, under Python.
            return original_run_python_command(self, commandline, stdout, stderr)
        # wshd's stdout goes to a pipe of our own (not proc.stdout), so that
        # the suite's _close_server never closes it under the reader thread.
        commandline = list(commandline) + COMPAT_ARGS
        read_fd, write_fd = os.pipe()
        try:
            proc = subprocess.Popen(commandline,
                                    close_fds=True,
                                    stdout=write_fd,
                                    stderr=stderr)
        finally:
            os.close(write_fd)
        started.append(proc)
        wait_until_listening(proc, os.fdopen(read_fd, 'rb'))
        return proc

    base.setUp = setUp
    base._run_python_command = _run_python_command

    suite = unittest.defaultTestLoader.loadTestsFromModule(test_endtoend)
    start = time.monotonic()
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    elapsed = time.monotonic() - start
    kill_leftovers()
    return report(result, expected, elapsed)


def wait_until_listening(proc, stdout):
    """Reads wshd's stdout until `listening on`, then drains it in a thread.

    The suite itself only sleeps 0.2 s; this makes a slow start visible instead
    of racing it. If wshd exits first (e.g. it rejects an option) the test goes
    on and fails the way it would against any server that is not there.
    """
    deadline = time.monotonic() + READY_TIMEOUT_SEC
    lines = []
    ready = threading.Event()

    def pump():
        with stdout:
            for raw in stdout:
                line = raw.decode('utf-8', 'replace').rstrip('\n')
                if not ready.is_set():
                    lines.append(line)
                    if line.startswith('listening on '):
                        ready.set()
        ready.set()  # EOF: wshd exited.

    threading.Thread(target=pump, daemon=True).start()
    ready.wait(max(0.0, deadline - time.monotonic()))
    if any(line.startswith('listening on ') for line in lines):
        return
    try:
        status = proc.wait(timeout=1.0)
    except subprocess.TimeoutExpired:
        status = None
    detail = ''
    if status is not None and proc.stderr is not None:
        # The suite pipes stderr for some tests and never reads it; wshd has
        # exited, so show why.
        detail = '; stderr %r' % proc.stderr.read().decode('utf-8', 'replace')
    sys.stdout.write('\n  [wshd did not print `listening on`; exit status %r; stdout %r%s]\n'
                     % (status, lines, detail))


def report(result, expected, elapsed):
    failed = {}
    for test, trace in result.failures + result.errors:
        failed[short_id(test)] = trace.strip().splitlines()[-1]
    ran = set(result.ran_ids)

    unexpected_failures = sorted(t for t in failed if t not in expected)
    expected_failures = sorted(t for t in failed if t in expected)
    unexpected_passes = sorted(t for t in expected if t not in failed and t in ran)
    not_run = sorted(t for t in expected if t not in ran)

    out = sys.stdout
    out.write('\n=== wshd vs pywebsocket3 test_endtoend: %d run, %d failed '
              '(%d expected), %.1f s ===\n'
              % (result.testsRun, len(failed), len(expected_failures), elapsed))
    for t in expected_failures:
        out.write('expected failure:   %s  # %s\n      last line: %s\n'
                  % (t, expected[t], failed[t]))
    for t in unexpected_failures:
        out.write('UNEXPECTED FAILURE: %s\n      last line: %s\n' % (t, failed[t]))
    for t in unexpected_passes:
        out.write('UNEXPECTED PASS:    %s  # listed in expected.txt (%s); remove it\n'
                  % (t, expected[t]))
    for t in not_run:
        out.write('NOT RUN:            %s  # listed in expected.txt but not in the suite\n' % t)
    ok = not (unexpected_failures or unexpected_passes or not_run)
    out.write('RESULT: %s\n' % ('ok' if ok else 'FAILED'))
    return 0 if ok else 1


class RecordingResult(unittest.TextTestResult):
    """Also records the id of every test that started."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ran_ids = []

    def startTest(self, test):
        self.ran_ids.append(short_id(test))
        super().startTest(test)


unittest.TextTestRunner.resultclass = RecordingResult

if __name__ == '__main__':
    sys.exit(main(sys.argv))
