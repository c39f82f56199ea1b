"""Guards against a PySide6 build that drops references (PySide6 6.12.0 does, checked November 2026).

With 6.12.0 every ``SignalInstance.emit`` gives back a ``True`` it never took a reference to, and every
call of a Python slot from a C++ signal with arguments loses a reference to ``None``. On Python < 3.12
these objects are not immortal, so after a few hundred emits the interpreter aborts with
"bool_dealloc: deallocating True or False". The application emits signals for every thumbnail and
progress report, so such a build crashes it within seconds; pin PySide6 to a release without the bug.
"""

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QPushButton


class Probe(QObject):
    ping = Signal(int)


def test_emit_keeps_reference_counts(qapp):
    probe = Probe()
    probe.ping.connect(lambda value: None)
    before = sys.getrefcount(True)
    for _ in range(50):
        probe.ping.emit(1)
    assert sys.getrefcount(True) - before >= -5, "this PySide6 build leaks references to True on emit"


def test_slot_calls_from_cpp_keep_reference_counts(qapp):
    button = QPushButton()
    button.clicked.connect(lambda checked: None)
    before = sys.getrefcount(None)
    for _ in range(50):
        button.click()
    assert sys.getrefcount(None) - before >= -5, "this PySide6 build leaks references to None in slot calls"
