"""The states of a library job and the moves between them: one table used by the database, the queue and the GUI."""

from __future__ import annotations

from enum import Enum


class JobState(str, Enum):
    """A job's state; each value is the string stored in the library (``JobState.DONE == "done"``)."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # left running by a session that ended; only entered when the library is opened

    def __str__(self) -> str:
        # As enum.StrEnum (Python 3.11) does: f-strings and str() give the stored value on every Python version.
        return self.value


# state -> the states a job in it may move to.
TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.PAUSED, JobState.CANCELLED}),
    JobState.RUNNING: frozenset({JobState.PAUSED, JobState.DONE, JobState.FAILED, JobState.CANCELLED}),
    JobState.PAUSED: frozenset({JobState.RUNNING, JobState.QUEUED, JobState.CANCELLED}),
    JobState.DONE: frozenset({JobState.QUEUED}),
    JobState.FAILED: frozenset({JobState.QUEUED}),
    JobState.CANCELLED: frozenset({JobState.QUEUED}),
    JobState.INTERRUPTED: frozenset({JobState.QUEUED, JobState.RUNNING, JobState.CANCELLED}),
}

# States a job no longer moves out of by itself: only the user queues it again.
FINISHED: frozenset[JobState] = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED})


class JobStateError(ValueError):
    """A job asked to move to a state it cannot reach from its current one."""


def can_move(current: JobState | str, wanted: JobState | str) -> bool:
    """Whether a job in ``current`` may move to ``wanted`` (each a JobState or its stored string; a string that
    names no state is a state no job reaches)."""
    try:
        return JobState(wanted) in TRANSITIONS[JobState(current)]
    except ValueError:
        return False
