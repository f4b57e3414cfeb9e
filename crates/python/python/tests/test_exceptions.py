import unittest

from pywebsocket3 import _stream_exceptions as ex
from pywebsocket3 import msgutil
from pywebsocket3 import stream


class HierarchyTest(unittest.TestCase):
    def test_hierarchy(self):
        self.assertTrue(issubclass(ex.InvalidFrameException,
                                   ex.ConnectionTerminatedException))
        self.assertEqual(ex.ConnectionTerminatedException.__bases__,
                         (Exception,))
        for cls in (ex.BadOperationException, ex.UnsupportedFrameException,
                    ex.InvalidUTF8Exception):
            self.assertEqual(cls.__bases__, (Exception,))
            self.assertFalse(issubclass(cls, ex.ConnectionTerminatedException))

    def test_catch_order(self):
        # The dispatcher catches InvalidFrameException before
        # ConnectionTerminatedException; both must work.
        try:
            raise ex.InvalidFrameException('x')
        except ex.ConnectionTerminatedException as e:
            self.assertEqual(str(e), 'x')

    def test_reexports_identical(self):
        for name in ('ConnectionTerminatedException', 'InvalidFrameException',
                     'BadOperationException', 'UnsupportedFrameException',
                     'InvalidUTF8Exception'):
            self.assertIs(getattr(msgutil, name), getattr(ex, name))
            self.assertIs(getattr(stream, name), getattr(ex, name))


class ImportsTest(unittest.TestCase):
    def test_all_modules_import(self):
        import importlib
        for name in ('pywebsocket3', 'pywebsocket3.common',
                     'pywebsocket3._stream_exceptions',
                     'pywebsocket3.handshake', 'pywebsocket3.handshake.base',
                     'pywebsocket3.handshake.hybi', 'pywebsocket3.stream',
                     'pywebsocket3.msgutil', 'pywebsocket3.util',
                     'pywebsocket3.http_header_util',
                     'pywebsocket3.extensions', 'pywebsocket3.dispatch'):
            importlib.import_module(name)

    def test_handler_import_forms(self):
        # Forms found in WPT / Chromium / Firefox handlers.
        from pywebsocket3 import common, msgutil, stream, util  # noqa
        from pywebsocket3 import handshake  # noqa
        from pywebsocket3.handshake import AbortedByUserException  # noqa
        from pywebsocket3.handshake.hybi import \
            compute_accept_from_unicode  # noqa
        from pywebsocket3.common import ExtensionParameter  # noqa
        from pywebsocket3.extensions import \
            ExtensionProcessorInterface  # noqa
        from pywebsocket3.extensions import \
            PerMessageDeflateExtensionProcessor  # noqa
        from pywebsocket3.util import _Inflater, pack_byte, hexify  # noqa
        from pywebsocket3.stream import (create_header,  # noqa
                                         create_text_frame,
                                         create_close_frame,
                                         create_closing_handshake_body)


if __name__ == '__main__':
    unittest.main()
