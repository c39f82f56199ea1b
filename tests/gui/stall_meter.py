"""Measures how long the main thread stops answering: a 10 ms timer records the longest gap between ticks."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer

TICK_MS = 10


class StallMeter(QObject):
    """``longest_ms`` is the longest time between two ticks minus the tick itself, since :meth:`start`."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0
        self.longest_ms = 0.0
        self.ticks = 0

    def start(self) -> None:
        self.longest_ms = 0.0
        self.ticks = 0
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._tick()
        self._timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest_ms = max(self.longest_ms, (now - self._last) * 1000.0 - TICK_MS)
        self._last = now
        self.ticks += 1
