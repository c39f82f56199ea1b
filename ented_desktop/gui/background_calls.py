"""Short background calls, each carrying its own callbacks, and the one signal that says the library changed.

After Anki's ``QueryOp`` (reads) and ``CollectionOp`` (changes):

- ``calls.query(read, on_done, on_failed)`` runs ``read()`` on a pool thread and hands its result to ``on_done``
  on the main thread (a failure, as one sentence, to ``on_failed``);
- ``calls.change(write, what, on_done, on_failed)`` does the same for a change to the library, then emits
  ``changed(what)``. Changes run one at a time, in the order asked for. Every view refreshes on that signal for
  the parts it shows, so no view refreshes another.
  A long job's changes are announced with :meth:`BackgroundCalls.announce`.

Calls run through :class:`~ented_desktop.gui.workers.GeneratorWorker`, the driver long jobs use too. A ``key``
keeps a call from being started twice; :meth:`BackgroundCalls.forget` drops the answers still on their way.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QThreadPool, Signal

from ented_desktop.gui.workers import GeneratorWorker, WorkControl

log = logging.getLogger(__name__)
T = TypeVar("T")


class Changed(enum.Flag):
    """What a change to the library touched: the views showing it reload."""

    ALBUMS = enum.auto()
    PHOTOS = enum.auto()
    FACES = enum.auto()
    PEOPLE = enum.auto()
    VERSIONS = enum.auto()
    JOBS = enum.auto()


class BackgroundCalls(QObject):
    """``changed(Changed)`` is emitted after every change, made here or announced. A failure with no ``on_failed``
    is only logged (a thumbnail or a face crop that cannot be made keeps its placeholder)."""

    changed = Signal(object)

    def __init__(self, parent: QObject | None = None, max_threads: int = 2, pool: QThreadPool | None = None) -> None:
        super().__init__(parent)
        if pool is None:
            pool = QThreadPool(self)
            pool.setMaxThreadCount(max_threads)
        self._pool = pool
        self._change_pool = QThreadPool(self)  # changes run one at a time, in the order asked for
        self._change_pool.setMaxThreadCount(1)
        self._workers: set[GeneratorWorker] = set()  # kept alive until their last signal
        self._in_flight: set[Hashable] = set()
        self._generation = 0
        self._closed = False

    def query(self, read: Callable[[], T], on_done: Callable[[T], None],
              on_failed: Callable[[str], None] | None = None, *, key: Hashable | None = None) -> bool:
        """Run ``read`` in the background; False (and nothing started) while a call with ``key`` runs, or once shut
        down."""
        return self._start(read, on_done, on_failed, key, None)

    def change(self, write: Callable[[], T], what: Changed, on_done: Callable[[T], None] | None = None,
               on_failed: Callable[[str], None] | None = None, *, key: Hashable | None = None) -> bool:
        """Run a change to the library in the background, then ``on_done`` and ``changed(what)``. A failed change
        emits ``changed(what)`` too: it may have found the library other than the views show it."""
        return self._start(write, on_done, on_failed, key, what)

    def announce(self, what: Changed) -> None:
        """The library changed elsewhere (a long job): the views reload (not once shut down: it may be closed)."""
        if not self._closed:
            self.changed.emit(what)

    def busy(self, key: Hashable) -> bool:
        return key in self._in_flight

    def idle(self) -> bool:
        """No call is running or has an answer on its way."""
        return not self._workers

    def forget(self) -> None:
        """The answers of the calls started before now are dropped."""
        self._generation += 1
        self._in_flight.clear()

    def wait(self, timeout_ms: int = 5000) -> bool:
        return self._change_pool.waitForDone(timeout_ms) and self._pool.waitForDone(timeout_ms)

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Drop the calls not started yet, wait for those running and drop every answer still on its way (the owner
        is going away, and the library may be closed next)."""
        self._closed = True
        for worker in self._workers:
            worker.abort()  # one not started yet never runs; one running finishes its call
        self.forget()
        return self.wait(timeout_ms)

    def _start(self, fn: Callable[[], Any], on_done: Callable[[Any], None] | None,
               on_failed: Callable[[str], None] | None, key: Hashable | None, what: Changed | None) -> bool:
        if self._closed:
            return False  # shut down: the library may be closed already
        if key is not None:
            if key in self._in_flight:
                return False
            self._in_flight.add(key)
        generation = self._generation

        def work(control: WorkControl) -> Any:
            return fn()

        worker = GeneratorWorker(work)
        self._workers.add(worker)

        def end(failure: str | None, value: Any = None) -> None:
            self._workers.discard(worker)
            if generation != self._generation:
                return
            if key is not None:
                self._in_flight.discard(key)
            if failure is None:
                if on_done is not None:
                    on_done(value)
            elif on_failed is not None:
                on_failed(failure)
            else:
                log.warning("background call %r failed: %s", key, failure)
            if what is not None:
                self.changed.emit(what)

        worker.signals.finished.connect(lambda value: end(None, value))
        worker.signals.failed.connect(lambda message: end(message))
        worker.signals.cancelled.connect(lambda: end("Cancelled."))
        (self._pool if what is None else self._change_pool).start(worker)
        return True
