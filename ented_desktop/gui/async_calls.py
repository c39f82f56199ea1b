"""Run short blocking calls (a face crop, a reference suggestion) off the main thread, keyed, de-duplicated.

The result of ``call(key, fn)`` arrives as ``done(key, result)`` on the main thread, or as
``failed(key, message)``. A key already in flight is not started twice; ``forget`` drops results that
are no longer wanted (the album changed), by generation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from ented_desktop.gui.workers import lower_thread_priority, readable_error

log = logging.getLogger(__name__)


class _Signals(QObject):
    result = Signal(int, object, object, str)  # generation, key, result, error message ("" when fine)


class _Call(QRunnable):
    def __init__(self, generation: int, key: Hashable, fn: Callable[[], Any], signals: _Signals) -> None:
        super().__init__()
        self.generation, self.key, self.fn, self.signals = generation, key, fn, signals

    def run(self) -> None:
        lower_thread_priority()
        try:
            value = self.fn()
        except Exception as exc:  # reported to the main thread, never raised in the pool
            log.warning("background call %r failed", self.key, exc_info=True)
            self.signals.result.emit(self.generation, self.key, None, readable_error(exc))
            return
        self.signals.result.emit(self.generation, self.key, value, "")


class AsyncCalls(QObject):
    done = Signal(object, object)
    failed = Signal(object, str)

    def __init__(self, parent: QObject | None = None, max_threads: int = 2) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._signals = _Signals()
        self._signals.result.connect(self._on_result)
        self._in_flight: set[Hashable] = set()
        self._generation = 0

    def call(self, key: Hashable, fn: Callable[[], Any]) -> bool:
        """Start ``fn`` unless ``key`` is already running; True when started."""
        if key in self._in_flight:
            return False
        self._in_flight.add(key)
        self._pool.start(_Call(self._generation, key, fn, self._signals))
        return True

    def busy(self, key: Hashable) -> bool:
        return key in self._in_flight

    def forget(self) -> None:
        """Results of calls started before now will be dropped."""
        self._generation += 1
        self._in_flight.clear()

    def wait(self, timeout_ms: int = 5000) -> bool:
        return self._pool.waitForDone(timeout_ms)

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Wait for running calls and drop every result still on its way (the owner is going away)."""
        self.forget()
        return self.wait(timeout_ms)

    def _on_result(self, generation: int, key: Hashable, value: Any, error: str) -> None:
        if generation != self._generation:
            return
        self._in_flight.discard(key)
        if error:
            self.failed.emit(key, error)
        else:
            self.done.emit(key, value)
