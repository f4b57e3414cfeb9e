"""wptserve 4.0.3 from PyPI beside this package (which it imports in place of
pywebsocket3): a handler tree whose file imports ``wptserve.stash`` at load time loads,
and uses a running ``StashServer``, as WPT's stash handlers do."""

import os
import shutil
import sys
import unittest

import support
import test_wpt_daemon
import wsclient


class StashTest(unittest.TestCase):
    def test_a_handler_importing_wptserve_stash_loads_and_shares_state(self):
        from wptserve import stash
        tree = support.Tree()
        self.addCleanup(tree.remove)
        # Only this tree has it: it loads only where WPT_STASH_CONFIG is set.
        shutil.copy(os.path.join(support.HERE, 'stash_handlers', 'stash_wsh.py'),
                    tree.handlers)
        sys.path.insert(0, tree.lib)
        self.addCleanup(sys.path.remove, tree.lib)
        os.environ['WSHD_HARNESS_ENV'] = 'stash'
        self.addCleanup(os.environ.pop, 'WSHD_HARNESS_ENV')
        with stash.StashServer(('127.0.0.1', 0), authkey=b'wshd-harness-test'):
            daemon = test_wpt_daemon.WebSocketDaemon(
                '127.0.0.1', '0', tree.root, tree.handlers, True, None)
            daemon.start()
            try:
                writer = wsclient.Client(daemon.port, '/stash')
                writer.send_text('put 0f3c2a9e-5b1d-4c6e-9a7f-2d8e4b6c1a3f from the first connection')
                self.assertEqual(writer.recv_text(), 'ok')
                reader = wsclient.Client(daemon.port, '/stash')
                reader.send_text('take 0f3c2a9e-5b1d-4c6e-9a7f-2d8e4b6c1a3f')
                self.assertEqual(reader.recv_text(), "'from the first connection'")
                reader.send_text('take 0f3c2a9e-5b1d-4c6e-9a7f-2d8e4b6c1a3f')
                self.assertEqual(reader.recv_text(), 'None')
                writer.close()
                reader.close()
                # The stash server process did the sharing, not this one's globals.
                support.check_server(self, daemon.port, marker=tree.marker,
                                     env_value='stash')
            finally:
                daemon.stop()


if __name__ == '__main__':
    unittest.main()
