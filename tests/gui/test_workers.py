"""The generator worker: progress, result, readable failures, cancel and pause between yields."""

import threading

import pytest
from PySide6.QtCore import QThreadPool

from ented_desktop.core.errors import UserError
from ented_desktop.gui.workers import GeneratorWorker, WorkControl, readable_error, start


@pytest.fixture
def pool():
    p = QThreadPool()
    yield p
    p.waitForDone(5000)


def test_progress_and_result_arrive_on_main_thread(qtbot, pool):
    def work(control):
        yield from range(3)
        return "done"

    seen = []
    worker = GeneratorWorker(work)
    on_main = threading.main_thread
    worker.signals.progress.connect(lambda v: seen.append((v, threading.current_thread() is on_main())))
    with qtbot.waitSignal(worker.signals.finished, timeout=3000) as blocker:
        pool.start(worker)
    assert blocker.args == ["done"]
    qtbot.waitUntil(lambda: len(seen) == 3)
    assert seen == [(0, True), (1, True), (2, True)]


def test_user_error_message_is_delivered_verbatim(qtbot, pool):
    def work(control):
        yield 1
        raise UserError("The photo folder cannot be read.")

    worker = GeneratorWorker(work)
    with qtbot.waitSignal(worker.signals.failed, timeout=3000) as blocker:
        pool.start(worker)
    assert blocker.args == ["The photo folder cannot be read."]


def test_unexpected_error_is_named():
    assert readable_error(ValueError("bad shape")) == "Unexpected error (ValueError): bad shape"


def test_abort_stops_between_yields(qtbot, pool):
    release = threading.Event()
    steps = []

    def work(control):
        for i in range(100):
            steps.append(i)
            yield i
            release.wait(2)

    worker = start(work, pool)
    qtbot.waitUntil(lambda: len(steps) >= 1)
    with qtbot.waitSignal(worker.signals.cancelled, timeout=3000):
        worker.abort()
        release.set()
    assert len(steps) < 100


def test_pause_blocks_until_resume(qtbot, pool):
    gate = threading.Event()
    steps = []

    def work(control):
        for i in range(5):
            steps.append(i)
            yield i
            if i == 1:
                gate.set()

    worker = GeneratorWorker(work)
    worker.pause()  # paused before the first step: nothing runs until resumed
    with qtbot.waitSignal(worker.signals.paused, timeout=3000, check_params_cb=lambda p: p is True):
        pool.start(worker)
    assert steps == []
    with qtbot.waitSignal(worker.signals.finished, timeout=3000):
        worker.resume()
    assert steps == [0, 1, 2, 3, 4]


def test_abort_wakes_a_paused_worker():
    control = WorkControl()
    control.pause()
    control.abort()
    assert control.aborted() and not control.paused()


def test_callback_style_work_reports_and_stops(qtbot, pool):
    """A core function with progress_fn/abort_fn runs as plain work; stopping it reports cancelled."""

    def finetune_like(progress_fn, abort_fn):
        for i in range(1000):
            if abort_fn():
                return "partial"
            progress_fn({"iteration": i})
            threading.Event().wait(0.002)
        return "complete"

    worker = GeneratorWorker(lambda c: finetune_like(c.report, c.should_stop))
    seen = []
    worker.signals.progress.connect(seen.append)
    with qtbot.waitSignal(worker.signals.cancelled, timeout=5000):
        pool.start(worker)
        qtbot.waitUntil(lambda: len(seen) >= 3)
        worker.abort()
    assert seen[0] == {"iteration": 0} and len(seen) < 1000
