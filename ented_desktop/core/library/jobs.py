"""Jobs: long work (detect, restore, fine-tune, export) queued in the library, moved between the states of
:mod:`job_state` so that it survives the program closing."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from ented_desktop.core.library.connection import LibraryConnection, UnknownItemError, now
from ented_desktop.core.library.job_state import FINISHED, JobState, JobStateError, can_move
from ented_desktop.core.library.records import Job
from ented_desktop.core.library.schema import JOB_KINDS

_JOB_SQL = "SELECT id, kind, state, payload, progress, error, created, started, finished, updated FROM jobs"


def _job(r: sqlite3.Row) -> Job:
    return Job(
        r["id"],
        r["kind"],
        JobState(r["state"]),
        json.loads(r["payload"]),
        r["progress"],
        r["error"],
        r["created"],
        r["started"],
        r["finished"],
        r["updated"],
    )


def _move(conn: sqlite3.Connection, job_id: int, wanted: JobState | str, error: str | None) -> None:
    row = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise UnknownItemError("That job is no longer in the library.")
    if not can_move(row["state"], wanted):
        raise JobStateError(f"job {job_id} cannot go from {row['state']} to {wanted}")
    state = JobState(wanted)
    moment = now()
    if state is JobState.QUEUED:
        conn.execute(
            "UPDATE jobs SET state = ?, progress = 0, error = NULL, started = NULL, finished = NULL, "
            "updated = ? WHERE id = ?",
            (state, moment, job_id),
        )
    elif state is JobState.RUNNING:
        conn.execute(
            "UPDATE jobs SET state = ?, started = coalesce(started, ?), updated = ? WHERE id = ?",
            (state, moment, moment, job_id),
        )
    elif state in FINISHED:
        progress = ", progress = 1" if state is JobState.DONE else ""
        conn.execute(
            f"UPDATE jobs SET state = ?, error = ?, finished = ?, updated = ?{progress} WHERE id = ?",
            (state, error if state is JobState.FAILED else None, moment, moment, job_id),
        )
    else:
        conn.execute("UPDATE jobs SET state = ?, updated = ? WHERE id = ?", (state, moment, job_id))


class Jobs:
    """``Library.jobs``."""

    def __init__(self, db: LibraryConnection) -> None:
        self._db = db

    def interrupt_running(self) -> None:
        """Mark the jobs a previous session left running as interrupted (when the library is opened)."""
        with self._db.write() as conn:
            conn.execute(
                "UPDATE jobs SET state = ?, updated = ? WHERE state = ?",
                (JobState.INTERRUPTED, now(), JobState.RUNNING),
            )

    def add(self, kind: str, payload: dict[str, Any] | None = None) -> int:
        """Queue a job of ``kind`` (one of :data:`schema.JOB_KINDS`); returns its id."""
        if kind not in JOB_KINDS:
            raise ValueError(f"job kind must be one of {JOB_KINDS}, got {kind!r}")
        moment = now()
        with self._db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO jobs (kind, state, payload, created, updated) VALUES (?, ?, ?, ?, ?)",
                (kind, JobState.QUEUED, json.dumps(payload or {}), moment, moment),
            )
        return int(cursor.lastrowid)

    def get(self, job_id: int) -> Job:
        return _job(self._db.one(_JOB_SQL + " WHERE id = ?", (job_id,), "job"))

    def all(self, states: Iterable[JobState | str] | None = None, kind: str | None = None) -> list[Job]:
        """Jobs, oldest first, optionally only in ``states`` and of ``kind``."""
        clauses: list[str] = []
        args: list[str] = []
        if states is not None:
            wanted = [str(s) for s in states]
            clauses.append(f"state IN ({','.join('?' * len(wanted))})")
            args += wanted
        if kind is not None:
            clauses.append("kind = ?")
            args.append(kind)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return [_job(r) for r in self._db.conn().execute(_JOB_SQL + where + " ORDER BY id", args)]

    def claim_next(self, kind: str | None = None) -> Job | None:
        """Move the oldest queued job (of ``kind``) to running and return it; None when there is none."""
        with self._db.write() as conn:
            sql = "SELECT id FROM jobs WHERE state = ?" + (" AND kind = ?" if kind else "") + " ORDER BY id"
            row = conn.execute(sql, (JobState.QUEUED, kind) if kind else (JobState.QUEUED,)).fetchone()
            if row is None:
                return None
            _move(conn, row["id"], JobState.RUNNING, None)
        return self.get(row["id"])

    def set_state(self, job_id: int, state: JobState | str, error: str | None = None) -> None:
        """Move a job to ``state`` (see :data:`job_state.TRANSITIONS`); ``error`` goes with "failed".
        Raises JobStateError for a move the job's current state does not allow."""
        with self._db.write() as conn:
            _move(conn, job_id, state, error)

    def mark_started(self, job_id: int) -> None:
        """A worker began the job: queued -> running. A pause or resume the user made while the worker was
        starting stands (the check and the move are one transaction, so neither can slip in between)."""
        with self._db.write() as conn:
            row = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is not None and row["state"] == JobState.QUEUED:
                _move(conn, job_id, JobState.RUNNING, None)

    def set_progress(self, job_id: int, progress: float) -> None:
        """Record progress in [0, 1] of a running job."""
        with self._db.write() as conn:
            conn.execute(
                "UPDATE jobs SET progress = ?, updated = ? WHERE id = ?",
                (min(max(float(progress), 0.0), 1.0), now(), job_id),
            )

    def delete_finished(self) -> int:
        """Forget done and cancelled jobs; returns how many."""
        with self._db.write() as conn:
            return conn.execute(
                "DELETE FROM jobs WHERE state IN (?, ?)", (JobState.DONE, JobState.CANCELLED)
            ).rowcount
