"""The job queue against a real library: states recorded, progress, cancel, pause, retry, restart."""

import threading

import pytest

from ented_desktop.core.errors import UserError
from ented_desktop.core.library import Library
from ented_desktop.gui import job_queue
from ented_desktop.gui.job_queue import JobQueue, Step


def counting_work(steps, delay=0.0, fail_at=None, gate=None):
    def factory(payload):
        def work(control):
            for i in range(steps):
                if gate is not None:
                    gate.wait(5)
                if fail_at is not None and i == fail_at:
                    raise UserError("The photo could not be read.")
                threading.Event().wait(delay)
                yield Step((i + 1) / steps, f"step {i + 1}")
            return f"Did {steps} steps."
        return work
    return factory


@pytest.fixture
def library(tmp_path):
    lib = Library(tmp_path / "lib")
    yield lib
    lib.close()


def make_queue(qtbot, library, factory):
    return JobQueue(library, {"restore": factory, "import": factory})


def wait_state(qtbot, queue, job_id, state, timeout=5000):
    qtbot.waitUntil(lambda: queue.entries[job_id].state == state, timeout=timeout)


def test_a_job_runs_and_is_recorded(qtbot, library):
    queue = make_queue(qtbot, library, counting_work(5))
    job_id = queue.submit("restore", {"photo_ids": [1], "title": "Restore 1 photo"})
    assert library.jobs.get(job_id).kind == "restore"
    wait_state(qtbot, queue, job_id, "done")
    entry = queue.entries[job_id]
    assert entry.text == "Did 5 steps."
    assert entry.fraction == 1.0
    assert entry.title == "Restore 1 photo"
    job = library.jobs.get(job_id)
    assert job.state == "done"
    assert job.progress == 1.0
    queue.stop_all()


def test_failure_is_recorded_with_its_sentence(qtbot, library):
    queue = make_queue(qtbot, library, counting_work(5, fail_at=2))
    job_id = queue.submit("restore", {"photo_ids": [1]})
    wait_state(qtbot, queue, job_id, "failed")
    assert queue.entries[job_id].error == "The photo could not be read."
    assert library.jobs.get(job_id).error == "The photo could not be read."
    assert queue.entries[job_id].can_retry()
    queue.stop_all()


def test_cancel_a_running_job(qtbot, library):
    queue = make_queue(qtbot, library, counting_work(1000, delay=0.005))
    job_id = queue.submit("restore", {})
    wait_state(qtbot, queue, job_id, "running")
    queue.cancel(job_id)
    wait_state(qtbot, queue, job_id, "cancelled")
    assert library.jobs.get(job_id).state == "cancelled"
    queue.stop_all()


def test_pause_and_resume_a_running_job(qtbot, library):
    gate = threading.Event()
    queue = make_queue(qtbot, library, counting_work(3, gate=gate))
    job_id = queue.submit("restore", {})
    wait_state(qtbot, queue, job_id, "running")
    queue.pause(job_id)
    assert library.jobs.get(job_id).state == "paused"
    with qtbot.waitSignal(queue._workers[job_id].signals.paused, check_params_cb=lambda held: held, timeout=5000):
        gate.set()  # the worker goes on to the first step boundary, and is held there
    assert queue.entries[job_id].state == "paused"
    assert library.jobs.get(job_id).progress < 1.0
    queue.resume(job_id)
    wait_state(qtbot, queue, job_id, "done")
    assert library.jobs.get(job_id).state == "done"
    queue.stop_all()


@pytest.mark.parametrize("then_resume", [False, True])
def test_a_pause_made_while_the_worker_starts_stands(qtbot, library, monkeypatch, then_resume):
    starting, release = threading.Event(), threading.Event()
    start = job_queue._StepGate.started

    def slow_start(gate):  # the worker thread is scheduled but has not recorded its start yet
        starting.set()
        release.wait(5)
        start(gate)

    monkeypatch.setattr(job_queue._StepGate, "started", slow_start)
    queue = make_queue(qtbot, library, counting_work(3))
    job_id = queue.submit("restore", {})
    assert starting.wait(5)
    queue.pause(job_id)
    if then_resume:
        queue.resume(job_id)
    held = queue._workers[job_id].signals.paused
    try:
        if then_resume:
            release.set()
            wait_state(qtbot, queue, job_id, "done")  # it failed with "cannot go from running to running"
            assert library.jobs.get(job_id).state == "done"
        else:
            with qtbot.waitSignal(held, check_params_cb=lambda paused: paused, timeout=5000):
                release.set()  # the worker records its start, then is held at its first step boundary
            assert queue.entries[job_id].state == "paused"
            assert library.jobs.get(job_id).state == "paused"
            queue.resume(job_id)
            wait_state(qtbot, queue, job_id, "done")
    finally:
        queue.stop_all()  # a paused worker left behind would hold the test run open


def test_jobs_of_a_lane_run_one_at_a_time_and_queued_ones_can_be_paused(qtbot, library):
    gate = threading.Event()
    queue = make_queue(qtbot, library, counting_work(2, gate=gate))
    first = queue.submit("restore", {})
    second = queue.submit("restore", {})
    wait_state(qtbot, queue, first, "running")
    assert queue.entries[second].state == "queued"
    queue.pause(second)
    assert library.jobs.get(second).state == "paused"
    gate.set()
    wait_state(qtbot, queue, first, "done")  # the lane chose its next job then: not the paused one
    assert queue.entries[second].state == "paused"
    assert second not in queue._workers
    queue.resume(second)
    wait_state(qtbot, queue, second, "done")
    queue.stop_all()


def test_retry_runs_a_failed_job_again(qtbot, library):
    attempts = []

    def factory(payload):
        def work(control):
            attempts.append(1)
            yield Step(0.5, "half")
            if len(attempts) == 1:
                raise UserError("The disk is full.")
            return "ok"
        return work

    queue = make_queue(qtbot, library, factory)
    job_id = queue.submit("restore", {"photo_ids": [3]})
    wait_state(qtbot, queue, job_id, "failed")
    queue.retry(job_id)
    wait_state(qtbot, queue, job_id, "done")
    assert len(attempts) == 2
    assert library.jobs.get(job_id).state == "done"
    queue.stop_all()


def test_interrupted_jobs_are_shown_after_restart_and_can_be_rerun(qtbot, tmp_path):
    first = Library(tmp_path / "lib")
    job_id = first.jobs.add("restore", {"photo_ids": [1, 2], "title": "Restore 2 photos"})
    waiting = first.jobs.add("restore", {"photo_ids": [3]})
    first.jobs.set_state(job_id, "running")
    first.close()  # the program "ended" with the job running

    second = Library(tmp_path / "lib")
    queue = make_queue(qtbot, second, counting_work(2))
    shown = {e.job_id: e for e in queue.load_previous()}
    assert shown[job_id].state == "interrupted"
    assert "re-run" in shown[job_id].text
    assert shown[job_id].title == "Restore 2 photos"
    wait_state(qtbot, queue, waiting, "done")  # one that was only waiting starts by itself
    assert queue.entries[job_id].state == "interrupted"
    queue.retry(job_id)
    wait_state(qtbot, queue, job_id, "done")
    assert second.jobs.get(job_id).state == "done"
    queue.stop_all()
    second.close()


def test_callback_style_work_is_recorded_and_shown_like_a_generator(qtbot, library):
    """Work that reports through control.report (a core function with progress_fn) gets the same
    recording: running, progress in the library, its event delivered, done with its result."""
    gate = threading.Event()

    def factory(payload):
        def work(control):
            control.report(Step(0.5, "halfway", event="half"))
            gate.wait(5)
            return "Finished by callbacks."
        return work

    queue = JobQueue(library, {"finetune": factory})
    events = []
    queue.event.connect(lambda job_id, event: events.append(event))
    job_id = queue.submit("finetune", {})
    qtbot.waitUntil(lambda: queue.entries[job_id].text == "halfway", timeout=5000)
    assert library.jobs.get(job_id).state == "running"
    assert library.jobs.get(job_id).progress == 0.5
    assert events == ["half"]
    assert queue.entries[job_id].fraction == 0.5
    gate.set()
    wait_state(qtbot, queue, job_id, "done")
    assert queue.entries[job_id].text == "Finished by callbacks."
    assert library.jobs.get(job_id).state == "done"
    queue.stop_all()


def test_imports_are_shown_but_not_recorded(qtbot, library):
    queue = make_queue(qtbot, library, counting_work(2))
    job_id = queue.submit("import", {"album_id": 1, "paths": []})
    assert job_id < 0
    wait_state(qtbot, queue, job_id, "done")
    assert library.jobs.all() == []
    queue.stop_all()


def test_jobs_stopped_by_closing_show_as_interrupted_next_time(qtbot, tmp_path):
    library = Library(tmp_path / "lib")
    queue = make_queue(qtbot, library, counting_work(1000, delay=0.005))
    job_id = queue.submit("restore", {})
    wait_state(qtbot, queue, job_id, "running")
    assert queue.stop_all()
    wait_state(qtbot, queue, job_id, "cancelled")  # as shown; the library keeps it running, for next time
    library.close()
    reopened = Library(tmp_path / "lib")
    assert reopened.jobs.get(job_id).state == "interrupted"
    reopened.close()


def test_a_paused_job_says_paused_once_the_worker_is_held(qtbot, library):
    gate = threading.Event()
    queue = make_queue(qtbot, library, counting_work(3, gate=gate))
    job_id = queue.submit("restore", {})
    wait_state(qtbot, queue, job_id, "running")
    queue.pause(job_id)
    assert queue.entries[job_id].text == "Pausing…"
    gate.set()  # the worker goes on to its first step boundary and is held there
    qtbot.waitUntil(lambda: queue.entries[job_id].text == "Paused.", timeout=5000)  # it said "Pausing…" for ever
    assert queue.entries[job_id].state == "paused"
    queue.resume(job_id)
    wait_state(qtbot, queue, job_id, "done")
    queue.stop_all()


def photo_steps(total, gate):
    """Work that restores ``total`` photos and, after the second, waits for ``gate`` and then for a pause."""
    def factory(payload):
        def work(control):
            for i in range(1, total + 1):
                if i == 3:
                    gate.wait(5)
                    control.checkpoint()
                yield Step(i / total, f"photo {i}", event=i, done=f"restoring {i} of {total} photos")
            return "Done."
        return work
    return factory


def test_cancelled_says_how_many_photos_were_done(qtbot, library):
    gate = threading.Event()
    queue = make_queue(qtbot, library, photo_steps(12, gate))
    job_id = queue.submit("restore", {})
    qtbot.waitUntil(lambda: queue.entries[job_id].done == "restoring 2 of 12 photos", timeout=5000)
    queue.pause(job_id)
    gate.set()
    qtbot.waitUntil(lambda: queue.entries[job_id].text == "Paused.", timeout=5000)
    queue.cancel(job_id)
    wait_state(qtbot, queue, job_id, "cancelled")
    assert queue.entries[job_id].text == "Cancelled after restoring 2 of 12 photos."  # it said only "Cancelled."
    queue.stop_all()


def test_the_queue_says_idle_when_its_last_job_ends_and_not_before(qtbot, library):
    gate = threading.Event()
    queue = make_queue(qtbot, library, counting_work(2, gate=gate))
    idle = []
    queue.idle.connect(lambda: idle.append(len(queue.active())))
    first, second = queue.submit("restore", {}), queue.submit("restore", {})
    wait_state(qtbot, queue, first, "running")
    with qtbot.waitSignal(queue.idle, timeout=5000):
        gate.set()
    assert queue.entries[first].state == queue.entries[second].state == "done"
    assert idle == [0]  # once, when nothing was left
    queue.stop_all()
