"""Routes Python `logging` records into wshd's log (Rust tracing).

wshd runs this once when the interpreter starts; `_emit(levelno, name, levelname, text)`
is the Rust function that writes a record. The root logger gets one handler that forwards
every record at or above its level; levels come from --log-level and, for pywebsocket's
compression loggers, --deflate-log-level.
"""

import logging

logging.addLevelName(9, 'FINE')

# pywebsocket's compression loggers (util.get_class_logger names), set by
# --deflate-log-level; the shim is also importable as mod_pywebsocket.
DEFLATE_LOGGERS = (
    'pywebsocket3.util._Deflater', 'pywebsocket3.util._Inflater',
    'mod_pywebsocket.util._Deflater', 'mod_pywebsocket.util._Inflater',
)


class TracingHandler(logging.Handler):
    """Hands each record to wshd's log with its level and logger name."""

    def __init__(self, emit):
        logging.Handler.__init__(self)
        self._emit = emit
        self.setFormatter(logging.Formatter('%(message)s'))

    def emit(self, record):
        try:
            text = self.format(record)
            self._emit(record.levelno, record.name, record.levelname, text)
        except Exception:
            self.handleError(record)


def install(emit, level, deflate_level):
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, TracingHandler):
            root.removeHandler(handler)
    root.addHandler(TracingHandler(emit))
    set_levels(level, deflate_level)


def set_levels(level, deflate_level):
    logging.getLogger().setLevel(level)
    for name in DEFLATE_LOGGERS:
        logging.getLogger(name).setLevel(deflate_level)
