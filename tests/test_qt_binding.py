"""Guards against a Qt binding that would crash the app after a long session.

PySide6 6.12.0 on Python 3.11 drops one reference to None on every call of a method that returns nothing
(QTimer.start, QWidget.update, processEvents, ...); after some tens of thousands of such calls None is freed
and the interpreter aborts ("none_dealloc"). A sampling run makes several such calls per step.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer


def test_void_qt_calls_keep_none_alive(qapp):
    timer = QTimer()
    before = sys.getrefcount(None)
    for _ in range(2000):
        timer.start(1000)
        timer.stop()
        qapp.processEvents()
    assert sys.getrefcount(None) - before > -100
