"""The queue panel shows each job's state, progress and error, and its buttons act on the queue."""

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QScrollArea

from ented_desktop.core.errors import UserError
from ented_desktop.core.library import Library
from ented_desktop.gui.job_queue import JobQueue, Step
from ented_desktop.gui.job_queue_panel import JobQueuePanel


@pytest.fixture
def library(tmp_path):
    lib = Library(tmp_path / "lib")
    yield lib
    lib.close()


def test_rows_follow_the_jobs_and_buttons_act(qtbot, library):
    gate = threading.Event()

    def factory(payload):
        def work(control):
            yield Step(0.25, "first quarter")
            gate.wait(5)
            if payload.get("fail"):
                raise UserError("No trained ENTED model is installed.")
            yield Step(1.0, "all")
            return "Restored 1 of 1 photos."
        return work

    queue = JobQueue(library, {"restore": factory})
    panel = JobQueuePanel(queue)
    qtbot.addWidget(panel)
    panel.show()
    assert panel.empty.isVisible()
    ok = queue.submit("restore", {"title": "Restore album"})
    bad = queue.submit("restore", {"title": "Restore person", "fail": True})
    assert not panel.empty.isVisible() and set(panel.rows) == {ok, bad}
    row = panel.rows[ok]
    qtbot.waitUntil(lambda: row.text.text() == "first quarter", timeout=3000)
    assert row.title.text() == "Restore album" and row.state.text() == "Running"
    assert row.bar.value() == 250
    assert row.pause_button.isVisible() and row.cancel_button.isVisible() and not row.retry_button.isVisible()
    row.pause_button.click()
    assert row.state.text() == "Paused" and row.resume_button.isVisible()
    row.resume_button.click()
    gate.set()
    qtbot.waitUntil(lambda: queue.entries[bad].state == "failed", timeout=5000)
    assert row.state.text() == "Done" and row.text.text() == "Restored 1 of 1 photos."
    bad_row = panel.rows[bad]
    assert bad_row.text.text() == "No trained ENTED model is installed."
    assert bad_row.retry_button.isVisible() and not bad_row.pause_button.isVisible()
    panel.clear_finished()
    assert bad in panel.rows and ok not in panel.rows  # failed jobs stay until re-run or cancelled
    queue.stop_all()


def test_a_long_title_is_shortened_so_the_state_and_buttons_always_show(qtbot, library):
    gate = threading.Event()

    def factory(payload):
        def work(control):
            yield Step(0.5, "Iteration 3, 2 min 05 s left")
            gate.wait(5)
            return "done"
        return work

    queue = JobQueue(library, {"finetune": factory})
    panel = JobQueuePanel(queue)
    qtbot.addWidget(panel)
    panel.resize(260, 400)
    panel.show()
    qtbot.waitExposed(panel)
    title = "Fine-tune a personal model for Uncle Justin from 12 photos"
    job = queue.submit("finetune", {"title": title})
    row = panel.rows[job]
    try:
        qtbot.waitUntil(lambda: row.state.text() == "Running" and row.pause_button.isVisible(), timeout=3000)
        # The layout settles after the text changes (later on a loaded machine): wait for it, then check.
        qtbot.waitUntil(lambda: row.state.width() >= row.state.sizeHint().width(), timeout=3000)  # not "Runn"
        scroll = panel.findChild(QScrollArea)
        assert not scroll.horizontalScrollBar().isVisible()
        assert row.width() <= scroll.viewport().width()
        assert row.cancel_button.geometry().right() < row.width()
        assert row.title.text() == title and row.title.toolTip() == title
    finally:
        gate.set()
    qtbot.waitUntil(lambda: row.state.text() == "Done", timeout=3000)
    qtbot.waitUntil(lambda: row.state.width() >= row.state.sizeHint().width(), timeout=3000)
    queue.stop_all()


def test_a_finetune_job_can_be_shown_again_from_its_row(qtbot, library):
    gate = threading.Event()

    def factory(payload):
        def work(control):
            yield Step(0.1, "Learning: step 1, 14 min left")
            gate.wait(5)
            return "Fine-tuned."
        return work

    queue = JobQueue(library, {"finetune": factory, "restore": factory})
    panel = JobQueuePanel(queue)
    qtbot.addWidget(panel)
    panel.show()
    restore = queue.submit("restore", {"title": "Restore album"})
    finetune = queue.submit("finetune", {"title": "Fine-tune for Anna"})  # waits behind the restore
    row = panel.rows[finetune]
    assert not row.show_button.isHidden() and panel.rows[restore].show_button.isHidden()
    shown = []
    panel.showRequested.connect(shown.append)
    row.show_button.click()
    qtbot.mouseDClick(row, Qt.MouseButton.LeftButton)
    qtbot.mouseDClick(panel.rows[restore], Qt.MouseButton.LeftButton)  # a restore has no window of its own
    assert shown == [finetune, finetune]
    gate.set()
    qtbot.waitUntil(lambda: not queue.active(), timeout=5000)
    assert row.show_button.isHidden()  # a finished run shows its result by itself
    queue.stop_all()
