"""Schedules background jobs, one at a time per lane, and keeps the library's jobs table in step.

A job is a row in the library's jobs table (kind + JSON payload) and, while it runs, a
:class:`~ented_desktop.gui.workers.GeneratorWorker`. What a kind of job does is given by a
:data:`WorkFactory` from :mod:`ented_desktop.gui.tasks`; this module only decides when it runs and
records what happened. Library writes made while a job runs (start, progress, end) happen on the
worker's thread, so a slow disk never stalls the window. Imports are not a library job kind; they run
the same way as transient entries (negative ids) that are shown but not recorded. A job's work is a generator
of :class:`Step` or, for core functions that report through callbacks (fine-tuning), a plain function
that sends its steps with ``control.report``; both are recorded and shown alike.

Jobs left ``queued`` by the previous session are started again; ``interrupted`` (the program ended
while they ran), ``paused`` and ``failed`` ones are shown for the user to re-run.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal

from ented_desktop.core.library import Job, JobState, JobStateError, Library, UnknownItemError, can_move
from ented_desktop.gui.workers import GeneratorWorker, WorkControl

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.05  # at most 20 progress reports a second reach the window per job
DB_PROGRESS_INTERVAL_S = 0.5
LANES = {"import": "files", "detect": "faces", "restore": "compute", "finetune": "compute", "export": "files"}


@dataclass(frozen=True)
class Step:
    """A progress report from a job: how far (0..1, None when unknown) and what it is doing; ``done`` says what is
    done so far ("restoring 3 of 12 photos"), for the job's text when it is cancelled."""

    fraction: float | None
    text: str
    event: Any = None  # something the window reacts to (a photo got faces, a version was made)
    done: str | None = None


# payload (plus "job_id" for a recorded job) -> work
WorkFactory = Callable[[dict[str, Any]], Callable[[WorkControl], Generator[Step, None, Any]]]


@dataclass
class JobEntry:
    """What the queue panel shows for one job."""

    job_id: int
    kind: str
    title: str
    state: JobState
    fraction: float | None = 0.0
    text: str = ""
    error: str | None = None
    result: Any = None
    payload: dict[str, Any] = field(default_factory=dict)
    done: str | None = None  # the latest Step.done

    @property
    def recorded(self) -> bool:
        return self.job_id > 0

    # What the user may do follows the library's transition table (job_state.TRANSITIONS).
    def can_pause(self) -> bool:
        return can_move(self.state, JobState.PAUSED)

    def can_resume(self) -> bool:
        return self.state == JobState.PAUSED

    def can_cancel(self) -> bool:
        return can_move(self.state, JobState.CANCELLED)

    def can_retry(self) -> bool:
        """Queued again from the start: not a done job (nothing to retry), nor a paused one (it is resumed)."""
        return (self.recorded and self.state not in (JobState.DONE, JobState.PAUSED)
                and can_move(self.state, JobState.QUEUED))


def job_title(kind: str, payload: dict[str, Any]) -> str:
    if payload.get("title"):
        return str(payload["title"])
    return {"detect": "Find faces", "restore": "Restore photos", "export": "Export", "finetune": "Fine-tune",
            "import": "Import"}.get(kind, kind)


class JobQueue(QObject):
    """Owns the jobs of this session. Signals: ``changed(job_id)`` for any change of an entry,
    ``event(job_id, object)`` for a :attr:`Step.event`, ``finished(job_id, state)`` at the end, and ``idle()``
    when a job ends and none is left queued, running or paused."""

    added = Signal(int)
    changed = Signal(int)
    event = Signal(int, object)
    finished = Signal(int, str)
    idle = Signal()

    def __init__(self, library: Library, factories: dict[str, WorkFactory],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.factories = factories
        self.entries: dict[int, JobEntry] = {}
        self._workers: dict[int, GeneratorWorker] = {}
        self._waiting: dict[str, list[int]] = {}
        self._lane_busy: dict[str, int | None] = {}
        self._pools: dict[str, QThreadPool] = {}
        self._transient_ids = itertools.count(-1, -1)
        self._closing = False

    # -- session start ---------------------------------------------------------------------------
    def load_previous(self) -> list[JobEntry]:
        """Show the unfinished jobs of earlier sessions; restart those that were only waiting."""
        shown = []
        unfinished = (JobState.QUEUED, JobState.PAUSED, JobState.INTERRUPTED, JobState.FAILED)
        for job in self.library.jobs.all(states=unfinished):
            entry = self._entry_from(job)
            self.entries[job.id] = entry
            self.added.emit(job.id)
            shown.append(entry)
            if job.state == JobState.QUEUED:
                self._enqueue(job.id)
        return shown

    def _entry_from(self, job: Job) -> JobEntry:
        text = {JobState.INTERRUPTED: "Interrupted when the program ended; re-run it to start it again.",
                JobState.PAUSED: "Paused.", JobState.QUEUED: "Waiting…"}.get(JobState(job.state), "")
        return JobEntry(job.id, job.kind, job_title(job.kind, job.payload), JobState(job.state), job.progress, text,
                        job.error, payload=job.payload)

    # -- submitting ------------------------------------------------------------------------------
    def submit(self, kind: str, payload: dict[str, Any]) -> int:
        """Record a job of ``kind`` and queue it; returns its id (negative for unrecorded imports)."""
        if kind not in self.factories:
            raise ValueError(f"no work for job kind {kind!r}")
        job_id = next(self._transient_ids) if kind == "import" else self.library.jobs.add(kind, payload)
        self.entries[job_id] = JobEntry(job_id, kind, job_title(kind, payload), JobState.QUEUED, 0.0, "Waiting…",
                                        payload=payload)
        self.added.emit(job_id)
        self._enqueue(job_id)
        return job_id

    def _enqueue(self, job_id: int) -> None:
        lane = LANES.get(self.entries[job_id].kind, "compute")
        self._waiting.setdefault(lane, []).append(job_id)
        self._start_next(lane)

    def _pool(self, lane: str) -> QThreadPool:
        if lane not in self._pools:
            pool = QThreadPool(self)
            pool.setMaxThreadCount(1)
            self._pools[lane] = pool
        return self._pools[lane]

    def _start_next(self, lane: str) -> None:
        if self._lane_busy.get(lane) is not None:
            return
        waiting = self._waiting.get(lane, [])
        while waiting:
            job_id = waiting.pop(0)
            entry = self.entries.get(job_id)
            if entry is None or entry.state != JobState.QUEUED:
                continue
            self._lane_busy[lane] = job_id
            self._run(entry, lane)
            return

    def _run(self, entry: JobEntry, lane: str) -> None:
        job_id = entry.job_id
        # A recorded job's work also gets its id, to find what an earlier run of the same job did.
        work = self.factories[entry.kind]({**entry.payload, "job_id": job_id} if entry.recorded else entry.payload)
        gate = _StepGate(self.library if entry.recorded else None, job_id)

        def tracked(control: WorkControl) -> Generator[Step, None, Any]:
            # Runs on the worker thread: the library writes for this job happen here, not in the window.
            gate.started()
            produced = work(control)
            if not inspect.isgenerator(produced):
                return produced  # callback-style work: its steps went through control.report
            while True:
                try:
                    step = next(produced)
                except StopIteration as stop:
                    return stop.value
                if gate.admit(step):
                    yield step

        worker = GeneratorWorker(tracked)

        def reported(step: Step) -> None:  # a step sent by callback-style work, on the worker thread
            if gate.admit(step):
                worker.signals.progress.emit(step)

        worker.control.connect(reported, worker.signals.paused.emit)
        worker.signals.started.connect(lambda: self._on_started(job_id))
        worker.signals.progress.connect(lambda step: self._on_step(job_id, step))
        worker.signals.paused.connect(lambda paused: self._on_paused(job_id, paused))
        worker.signals.finished.connect(lambda result: self._on_end(job_id, lane, JobState.DONE, result=result))
        worker.signals.failed.connect(lambda message: self._on_end(job_id, lane, JobState.FAILED, error=message))
        worker.signals.cancelled.connect(lambda: self._on_end(job_id, lane, JobState.CANCELLED))
        self._workers[job_id] = worker
        self._pool(lane).start(worker)

    # -- worker reports --------------------------------------------------------------------------
    def _update(self, job_id: int, **changes: Any) -> None:
        entry = self.entries.get(job_id)
        if entry is None:
            return
        self.entries[job_id] = replace(entry, **changes)
        self.changed.emit(job_id)

    def _on_started(self, job_id: int) -> None:
        entry = self.entries.get(job_id)
        if entry is not None and entry.state != JobState.PAUSED:  # a late "started" must not hide a pause
            self._update(job_id, state=JobState.RUNNING, text="Starting…")

    def _on_step(self, job_id: int, step: Step) -> None:
        entry = self.entries.get(job_id)
        if entry is None:
            return
        fraction = entry.fraction if step.fraction is None and entry.fraction else step.fraction
        changes: dict[str, Any] = {"fraction": fraction, "text": step.text}
        if step.done is not None:
            changes["done"] = step.done
        self._update(job_id, **changes)
        if step.event is not None:
            self.event.emit(job_id, step.event)

    def _on_paused(self, job_id: int, paused: bool) -> None:
        """The worker reached its pause point ("Pausing…" until then); going on again, resume() said already."""
        entry = self.entries.get(job_id)
        if paused and entry is not None and entry.state == JobState.PAUSED:  # not resumed or cancelled meanwhile
            self._update(job_id, text="Paused.")

    def _on_end(self, job_id: int, lane: str, state: JobState, *, result: Any = None,
                error: str | None = None) -> None:
        self._workers.pop(job_id, None)
        entry = self.entries.get(job_id)
        if entry is not None:
            self._record_end(entry, state, error)
            texts = {JobState.DONE: summary_of(result), JobState.FAILED: error or "Failed.",
                     JobState.CANCELLED: cancelled_text(entry)}
            text = texts[state]
            self._update(job_id, state=state, fraction=1.0 if state == JobState.DONE else entry.fraction, text=text,
                         error=error, result=result)
            self.finished.emit(job_id, state)
        self._lane_busy[lane] = None
        self._start_next(lane)
        if not self._closing and not self.active():
            self.idle.emit()

    def _record_end(self, entry: JobEntry, state: JobState, error: str | None) -> None:
        if not entry.recorded or (self._closing and state == JobState.CANCELLED):
            return  # stopped because the program is closing: left running, so it shows as interrupted
        try:
            current = self.library.jobs.get(entry.job_id).state
            if current == JobState.PAUSED and state != JobState.CANCELLED:  # ended before reaching the pause point
                self.library.jobs.set_state(entry.job_id, JobState.RUNNING)
            if current != state:
                self.library.jobs.set_state(entry.job_id, state, error)
        except (JobStateError, UnknownItemError) as exc:
            log.warning("job %s: could not record %s: %s", entry.job_id, state, exc)

    # -- user actions ----------------------------------------------------------------------------
    def pause(self, job_id: int) -> None:
        entry = self.entries[job_id]
        if not entry.can_pause():
            return
        if entry.recorded:
            self.library.jobs.set_state(job_id, JobState.PAUSED)
        worker = self._workers.get(job_id)
        if worker is not None:
            worker.pause()
        self._update(job_id, state=JobState.PAUSED, text="Paused." if worker is None else "Pausing…")

    def resume(self, job_id: int) -> None:
        entry = self.entries[job_id]
        if not entry.can_resume():
            return
        worker = self._workers.get(job_id)
        if worker is not None:
            if entry.recorded:
                self.library.jobs.set_state(job_id, JobState.RUNNING)
            self._update(job_id, state=JobState.RUNNING, text="Resuming…")
            worker.resume()
        else:
            if entry.recorded:
                self.library.jobs.set_state(job_id, JobState.QUEUED)
            self._update(job_id, state=JobState.QUEUED, text="Waiting…")
            self._enqueue(job_id)

    def cancel(self, job_id: int) -> None:
        entry = self.entries[job_id]
        if not entry.can_cancel():
            return
        worker = self._workers.get(job_id)
        if worker is not None:
            self._update(job_id, text="Stopping…")
            worker.abort()  # the worker's cancelled signal records the end
            return
        if entry.recorded:
            self.library.jobs.set_state(job_id, JobState.CANCELLED)
        self._update(job_id, state=JobState.CANCELLED, text=cancelled_text(entry))
        self.finished.emit(job_id, JobState.CANCELLED)

    def retry(self, job_id: int) -> None:
        entry = self.entries[job_id]
        if not entry.can_retry():
            return
        self.library.jobs.set_state(job_id, JobState.QUEUED)
        self._update(job_id, state=JobState.QUEUED, fraction=0.0, text="Waiting…", error=None, result=None)
        self._enqueue(job_id)

    def clear_finished(self) -> None:
        """Forget finished jobs (the library forgets done and cancelled ones; failed ones stay there)."""
        for job_id in [j for j, e in self.entries.items() if e.state in (JobState.DONE, JobState.CANCELLED)]:
            del self.entries[job_id]
        self.library.jobs.delete_finished()

    # -- queries and shutdown --------------------------------------------------------------------
    def waiting(self, job_id: int) -> bool:
        """Whether the job is queued behind another job of its lane (not started yet)."""
        entry = self.entries.get(job_id)
        lane = LANES.get(entry.kind, "compute") if entry is not None else None
        return lane is not None and job_id in self._waiting.get(lane, [])

    def active(self) -> list[JobEntry]:
        return [e for e in self.entries.values() if e.state in (JobState.QUEUED, JobState.RUNNING, JobState.PAUSED)]

    @property
    def closing(self) -> bool:
        """True once :meth:`stop_all` was called: the window is going, and nothing new should start."""
        return self._closing

    def stop_all(self, timeout_ms: int = 10000) -> bool:
        """Stop every running job and wait for them (the window is closing); True when all stopped.

        The stopped jobs stay "running" in the library, which marks them interrupted when it is opened
        next, so the user sees them and can re-run them."""
        self._closing = True
        for worker in list(self._workers.values()):
            worker.abort()
        return all(pool.waitForDone(timeout_ms) for pool in self._pools.values())


class _StepGate:
    """Records a job's start and progress in the library (at most every :data:`DB_PROGRESS_INTERVAL_S`)
    and lets through to the window only the steps it needs: those with an event, and others at most
    every :data:`PROGRESS_INTERVAL_S`. Used on the job's worker thread only."""

    def __init__(self, library: Library | None, job_id: int) -> None:
        self.library = library
        self.job_id = job_id
        self.last_ui = self.last_db = 0.0

    def started(self) -> None:
        if self.library is not None:
            self.library.jobs.mark_started(self.job_id)

    def admit(self, step: Step) -> bool:
        now = time.monotonic()
        if self.library is not None and step.fraction is not None and now - self.last_db >= DB_PROGRESS_INTERVAL_S:
            self.library.jobs.set_progress(self.job_id, step.fraction)
            self.last_db = now
        if step.event is not None or step.done is not None or now - self.last_ui >= PROGRESS_INTERVAL_S:
            self.last_ui = now
            return True
        return False


def cancelled_text(entry: JobEntry) -> str:
    """"Cancelled after restoring 3 of 12 photos.", or "Cancelled." when it had done nothing yet."""
    return f"Cancelled after {entry.done}." if entry.done else "Cancelled."


def summary_of(result: Any) -> str:
    """The one-line outcome a finished job shows (its work returns a string, or something with .summary)."""
    if isinstance(result, str):
        return result
    summary = getattr(result, "summary", None)
    return summary() if callable(summary) else (summary or "Done.")
