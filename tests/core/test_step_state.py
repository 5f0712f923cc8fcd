"""The run-step lifecycle transition table, checked over every (src, dst) pair of statuses."""

from __future__ import annotations

import itertools

import pytest

from local_assistants.core import step_state as ss
from local_assistants.errors import InvalidRequestError, InvalidStateError

# The lifecycle OpenAI documents for run steps, written out independently of the module's table.
EXPECTED = {
    ss.IN_PROGRESS: {ss.COMPLETED, ss.FAILED, ss.CANCELLED, ss.EXPIRED},
    ss.COMPLETED: set(),
    ss.FAILED: set(),
    ss.CANCELLED: set(),
    ss.EXPIRED: set(),
}
STAMPS = {ss.COMPLETED: "completed_at", ss.FAILED: "failed_at", ss.CANCELLED: "cancelled_at",
          ss.EXPIRED: "expired_at"}
PAIRS = list(itertools.product(ss.STATUSES, ss.STATUSES))
ALLOWED = [(s, d) for s, d in PAIRS if d in EXPECTED[s]]
REFUSED = [(s, d) for s, d in PAIRS if d not in EXPECTED[s]]
NOW = 1_700_000_123


def make_step(status: str) -> dict:
    return {"id": "step_1", "status": status, "completed_at": None, "failed_at": None, "cancelled_at": None,
            "expired_at": None}


def test_table_covers_every_status():
    assert set(ss.TRANSITIONS) == set(ss.STATUSES) == set(EXPECTED)


def test_terminal_statuses_have_no_way_out():
    assert ss.TERMINAL == {s for s, out in EXPECTED.items() if not out}


@pytest.mark.parametrize("src, dst", ALLOWED)
def test_allowed_transition_stamps_its_time(src, dst):
    step = make_step(src)
    moved = ss.transition(step, dst, NOW)
    assert moved is step  # in place: the run loop holds the step it streams
    assert moved["status"] == dst
    assert moved[STAMPS[dst]] == NOW
    assert {k for k, v in moved.items() if k.endswith("_at") and v is not None} == {STAMPS[dst]}


@pytest.mark.parametrize("src, dst", REFUSED)
def test_refused_transition_raises_and_changes_nothing(src, dst):
    step = make_step(src)
    with pytest.raises(InvalidStateError) as err:
        ss.transition(step, dst, NOW)
    assert not ss.can_transition(src, dst)
    assert err.value.status_code == 400 and isinstance(err.value, InvalidRequestError)
    assert step == make_step(src)


def test_each_status_has_its_streaming_event():
    assert ss.EVENT_FOR_STATUS[ss.CANCELLED] == "thread.run.step.cancelled"
    assert set(ss.EVENT_FOR_STATUS) == set(ss.STATUSES)
