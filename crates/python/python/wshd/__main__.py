"""``python -m wshd``: the same as the ``wshd`` command and ``standalone.py``."""

from pywebsocket3 import standalone

standalone.main()
