"""Background work as generators run on a thread pool, reporting to the main thread through signals.

A unit of work is a generator function taking a :class:`WorkControl`. It yields progress values
(anything; the receiver decides what they mean) and returns a result. Between two yields the worker
checks whether it was asked to stop or pause, so the work itself never has to know about Qt.
Core functions that report through callbacks instead (``progress_fn``/``abort_fn``) are given
``control.report`` and ``control.should_stop``; such work may be a plain function.
Exceptions never escape into the pool: they arrive on the main thread as ``failed(message)``.
"""

from __future__ import annotations

import inspect
import logging
import os
import threading
import traceback
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from ented_desktop.core.errors import UserError

log = logging.getLogger(__name__)

Work = Callable[["WorkControl"], Generator[Any, None, Any] | Any]


class WorkCancelled(Exception):
    """Raised inside the work when it was asked to stop; the worker reports it as ``cancelled``."""


class WorkControl:
    """Thread-safe stop and pause flags shared by the main thread and one worker."""

    def __init__(self) -> None:
        self._abort = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._sink: Callable[[Any], None] = lambda value: None
        self._on_pause: Callable[[bool], None] = lambda paused: None

    def connect(self, sink: Callable[[Any], None], on_pause: Callable[[bool], None]) -> None:
        """Where :meth:`report` values and pause changes go (the worker's signals)."""
        self._sink = sink
        self._on_pause = on_pause

    def report(self, value: Any) -> None:
        """Send a progress value from inside a callback-style core function."""
        self._sink(value)

    def abort(self) -> None:
        self._abort.set()
        self._running.set()  # a paused worker must wake up to notice it was stopped

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def aborted(self) -> bool:
        return self._abort.is_set()

    def paused(self) -> bool:
        return not self._running.is_set()

    def should_stop(self) -> bool:
        """Block while paused, then tell whether the work must stop (an ``aborted``/``abort_fn`` callback)."""
        if self.paused() and not self.aborted():
            self._on_pause(True)
            self._running.wait()
            self._on_pause(False)
        return self.aborted()

    def checkpoint(self) -> None:
        """Block while paused; raise :class:`WorkCancelled` once stopped."""
        if self.should_stop():
            raise WorkCancelled


BACKGROUND_NICENESS = 5  # how much less CPU priority a pool thread has than the window's thread
_thread_state = threading.local()


def lower_thread_priority() -> None:
    """Make the calling pool thread yield the CPU to the main thread on a busy machine.

    Python threads share one interpreter lock; when a background thread holding it is descheduled, the
    window waits too. On Linux, niceness is per thread, so raising it for pool threads lets the
    scheduler pick the main thread first. Done once per thread; a no-op where unsupported.
    """
    if getattr(_thread_state, "lowered", False) or not hasattr(os, "setpriority"):
        return
    _thread_state.lowered = True
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + BACKGROUND_NICENESS)
    except OSError:
        log.debug("could not lower the priority of a background thread", exc_info=True)


def readable_error(exc: BaseException) -> str:
    """One sentence for the user: a UserError speaks for itself, anything else is named as unexpected."""
    if isinstance(exc, UserError):
        return str(exc)
    text = str(exc).strip() or exc.__class__.__name__
    return f"Unexpected error ({exc.__class__.__name__}): {text}"


class WorkerSignals(QObject):
    started = Signal()
    progress = Signal(object)
    paused = Signal(bool)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()


class GeneratorWorker(QRunnable):
    """Runs one :data:`Work` on a pool thread. Exactly one of finished/failed/cancelled is emitted."""

    def __init__(self, work: Work) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the owner keeps it (and its signals) alive until a final signal
        self.work = work
        self.control = WorkControl()
        self.signals = WorkerSignals()
        self.control.connect(self.signals.progress.emit, self.signals.paused.emit)
        self.done = threading.Event()

    def abort(self) -> None:
        self.control.abort()

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    def run(self) -> None:
        lower_thread_priority()
        try:
            self._run()
        finally:
            self.done.set()

    def _run(self) -> None:
        if self.control.aborted():
            self.signals.cancelled.emit()
            return
        self.signals.started.emit()
        try:
            self.control.checkpoint()
            produced = self.work(self.control)
            if inspect.isgenerator(produced):
                produced = self._drive(produced)
            elif self.control.aborted():  # a callback-style function noticed the stop and returned early
                raise WorkCancelled
            self.signals.finished.emit(produced)
        except WorkCancelled:
            self.signals.cancelled.emit()
        except Exception as exc:  # delivered to the main thread; a worker thread must never die silently
            log.error("background work failed:\n%s", traceback.format_exc())
            self.signals.failed.emit(readable_error(exc))

    def _drive(self, gen: Generator[Any, None, Any]) -> Any:
        while True:
            try:
                value = next(gen)
            except StopIteration as stop:
                return stop.value
            self.signals.progress.emit(value)
            self.control.checkpoint()


def start(work: Work, pool: QThreadPool | None = None) -> GeneratorWorker:
    """Create a worker for ``work`` and queue it on ``pool`` (the global pool by default)."""
    worker = GeneratorWorker(work)
    (pool or QThreadPool.globalInstance()).start(worker)
    return worker
