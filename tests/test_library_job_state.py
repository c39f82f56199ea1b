import json

import pytest

from ented_desktop.core.library import JobState, JobStateError, Library, UnknownItemError
from ented_desktop.core.library.job_state import FINISHED, TRANSITIONS, can_move
from ented_desktop.core.library.schema import JOB_STATES


def test_the_states_are_those_the_jobs_table_allows_in_its_order():
    assert tuple(s.value for s in JobState) == JOB_STATES
    assert set(TRANSITIONS) == set(JobState)


def test_a_state_is_its_stored_string_wherever_it_is_used():
    assert JobState.DONE == "done"
    assert str(JobState.DONE) == "done"
    assert f"{JobState.DONE}" == "done"
    assert json.dumps({"state": JobState.DONE}) == '{"state": "done"}'
    assert {"done": 1}[JobState.DONE] == 1
    assert JobState("paused") is JobState.PAUSED


def test_finished_jobs_only_go_back_to_the_queue():
    for state in FINISHED:
        assert [s for s in JobState if can_move(state, s)] == [JobState.QUEUED]


def test_no_job_moves_into_interrupted_and_strings_work_like_states():
    assert not any(can_move(s, JobState.INTERRUPTED) for s in JobState)
    assert can_move("interrupted", "running")
    assert can_move(JobState.QUEUED, "paused")
    assert not can_move("queued", "done")
    assert not can_move("queued", "dancing")


def test_the_library_hands_out_job_states(tmp_path):
    with Library(tmp_path / "lib") as lib:
        job = lib.jobs.add("detect")
        assert lib.jobs.get(job).state is JobState.QUEUED
        lib.jobs.set_state(job, JobState.RUNNING)
        assert lib.jobs.claim_next() is None
        assert [j.id for j in lib.jobs.all(states=[JobState.RUNNING])] == [job]
        with pytest.raises(JobStateError, match="cannot go from running to dancing"):
            lib.jobs.set_state(job, "dancing")
        with pytest.raises(UnknownItemError):
            lib.jobs.set_state(job + 1, "dancing")
