"""The run lifecycle transition table, checked over every (src, dst) pair of statuses."""

from __future__ import annotations

import itertools

import pytest

from local_assistants.core import run_state as rs
from local_assistants.errors import InvalidRequestError, InvalidStateError

# The lifecycle this project implements, written out independently of the module's table.
EXPECTED = {
    rs.QUEUED: {rs.IN_PROGRESS, rs.CANCELLING, rs.CANCELLED, rs.FAILED, rs.EXPIRED},
    rs.IN_PROGRESS: {rs.COMPLETED, rs.INCOMPLETE, rs.FAILED, rs.REQUIRES_ACTION, rs.CANCELLING,
                     rs.EXPIRED},
    rs.REQUIRES_ACTION: {rs.QUEUED, rs.CANCELLING, rs.EXPIRED, rs.FAILED},
    rs.CANCELLING: {rs.CANCELLED, rs.FAILED},
    rs.COMPLETED: set(),
    rs.INCOMPLETE: set(),
    rs.FAILED: set(),
    rs.CANCELLED: set(),
    rs.EXPIRED: set(),
}
STAMPS = {
    rs.IN_PROGRESS: "started_at",
    rs.COMPLETED: "completed_at",
    rs.INCOMPLETE: "completed_at",
    rs.FAILED: "failed_at",
    rs.CANCELLED: "cancelled_at",
}
ALL_STAMP_FIELDS = {"started_at", "completed_at", "failed_at", "cancelled_at"}
PAIRS = list(itertools.product(rs.STATUSES, rs.STATUSES))
ALLOWED = [(s, d) for s, d in PAIRS if d in EXPECTED[s]]
REFUSED = [(s, d) for s, d in PAIRS if d not in EXPECTED[s]]
NOW = 1_700_000_123
REQUIRED_ACTION = {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": []}}


def make_run(status: str, **fields) -> dict:
    run = {
        "id": "run_abc",
        "object": "thread.run",
        "status": status,
        "created_at": 1_699_999_000,
        "expires_at": 1_700_000_600,
        "started_at": None,
        "completed_at": None,
        "failed_at": None,
        "cancelled_at": None,
        "required_action": REQUIRED_ACTION if status == rs.REQUIRES_ACTION else None,
        "metadata": {"k": "v"},
    }
    run.update(fields)
    return run


def test_status_sets_are_consistent():
    assert set(rs.STATUSES) == set(EXPECTED)
    assert len(rs.STATUSES) == len(set(rs.STATUSES)) == 9
    assert rs.TERMINAL | rs.ACTIVE == set(rs.STATUSES)
    assert not rs.TERMINAL & rs.ACTIVE
    assert rs.TERMINAL == {rs.COMPLETED, rs.INCOMPLETE, rs.FAILED, rs.CANCELLED, rs.EXPIRED}
    assert set(rs.TRANSITIONS) == set(rs.STATUSES)
    assert {s: set(d) for s, d in rs.TRANSITIONS.items()} == EXPECTED
    assert rs.TIMESTAMP_FIELD == STAMPS
    assert rs.EVENT_FOR_STATUS == {s: f"thread.run.{s}" for s in rs.STATUSES}


@pytest.mark.parametrize("src,dst", PAIRS)
def test_can_transition_matches_table(src, dst):
    assert rs.can_transition(src, dst) is (dst in EXPECTED[src])


def test_can_transition_unknown_status():
    assert rs.can_transition("bogus", rs.QUEUED) is False
    assert rs.can_transition(rs.QUEUED, "bogus") is False
    with pytest.raises(InvalidStateError):
        rs.transition(make_run(rs.QUEUED), "bogus", NOW)
    with pytest.raises(InvalidStateError):
        rs.transition(make_run("bogus"), rs.IN_PROGRESS, NOW)


@pytest.mark.parametrize("src,dst", ALLOWED)
def test_allowed_transition(src, dst):
    run = make_run(src)
    before = {k: (dict(v) if isinstance(v, dict) else v) for k, v in run.items()}
    out = rs.transition(run, dst, NOW)

    assert run == before, "transition must not mutate its input"
    assert out is not run
    assert out["status"] == dst
    stamp = STAMPS.get(dst)
    for field in ALL_STAMP_FIELDS:
        assert out[field] == (NOW if field == stamp else None), field
    if dst == rs.REQUIRES_ACTION:
        assert out["required_action"] == run["required_action"]  # left for the caller to fill
    else:
        assert out["required_action"] is None
    if dst in rs.TERMINAL:
        assert out["expires_at"] is None
    else:
        assert out["expires_at"] == run["expires_at"]
    # Everything else is carried over untouched.
    untouched = set(run) - ALL_STAMP_FIELDS - {"status", "required_action", "expires_at"}
    assert {k: out[k] for k in untouched} == {k: run[k] for k in untouched}


@pytest.mark.parametrize("src,dst", ALLOWED)
def test_allowed_transition_clears_a_pending_required_action(src, dst):
    """A stale ``required_action`` never survives leaving requires_action (or any other move)."""
    out = rs.transition(make_run(src, required_action=REQUIRED_ACTION), dst, NOW)
    if dst == rs.REQUIRES_ACTION:
        assert out["required_action"] == REQUIRED_ACTION
    else:
        assert out["required_action"] is None


@pytest.mark.parametrize("src,dst", REFUSED)
def test_refused_transition_raises(src, dst):
    run = make_run(src)
    before = dict(run)
    with pytest.raises(InvalidStateError) as info:
        rs.transition(run, dst, NOW)
    err = info.value
    assert isinstance(err, InvalidRequestError)
    assert err.status_code == 400
    assert src in err.message and dst in err.message and "run_abc" in err.message
    assert run == before


@pytest.mark.parametrize("src,dst", ALLOWED)
def test_existing_timestamp_is_not_overwritten(src, dst):
    earlier = 1_600_000_000
    run = make_run(src, **{f: earlier for f in ALL_STAMP_FIELDS})
    out = rs.transition(run, dst, NOW)
    for field in ALL_STAMP_FIELDS:
        assert out[field] == earlier


def test_started_at_kept_across_a_tool_round_trip():
    run = rs.transition(make_run(rs.QUEUED), rs.IN_PROGRESS, 100)
    run = rs.transition(run, rs.REQUIRES_ACTION, 110)
    run = dict(run, required_action=REQUIRED_ACTION)
    run = rs.transition(run, rs.QUEUED, 120)
    assert run["required_action"] is None and run["expires_at"] is not None
    run = rs.transition(run, rs.IN_PROGRESS, 130)
    assert run["started_at"] == 100
    run = rs.transition(run, rs.COMPLETED, 140)
    assert (run["started_at"], run["completed_at"], run["expires_at"]) == (100, 140, None)


def test_missing_timestamp_key_is_stamped():
    run = {"id": "run_x", "status": rs.QUEUED}
    out = rs.transition(run, rs.IN_PROGRESS, NOW)
    assert out["started_at"] == NOW
    assert "expires_at" not in out  # only terminal states clear it


@pytest.mark.parametrize("status", sorted(rs.TERMINAL))
def test_terminal_states_have_no_exits(status):
    assert not rs.TRANSITIONS[status]
    for dst in rs.STATUSES:
        assert not rs.can_transition(status, dst)
        with pytest.raises(InvalidStateError):
            rs.transition(make_run(status), dst, NOW)


@pytest.mark.parametrize("status", sorted(rs.ACTIVE))
def test_every_active_status_can_reach_a_terminal_one(status):
    seen, frontier = {status}, [status]
    while frontier:
        nxt = [d for s in frontier for d in rs.TRANSITIONS[s] if d not in seen]
        seen.update(nxt)
        frontier = nxt
    assert seen & rs.TERMINAL
    # and in fact every active status has a terminal state one step away (failed or cancelled)
    assert rs.TRANSITIONS[status] & rs.TERMINAL


@pytest.mark.parametrize("status", sorted(rs.ACTIVE))
def test_every_active_status_can_be_cancelled_or_failed(status):
    assert rs.FAILED in rs.TRANSITIONS[status]
    walk = [status]
    while walk[-1] != rs.CANCELLED:
        nxt = rs.CANCELLING if walk[-1] != rs.CANCELLING else rs.CANCELLED
        assert rs.can_transition(walk[-1], nxt)
        walk.append(nxt)
        assert len(walk) <= 3


def test_every_status_is_reachable_from_queued():
    seen, frontier = {rs.QUEUED}, [rs.QUEUED]
    while frontier:
        nxt = [d for s in frontier for d in rs.TRANSITIONS[s] if d not in seen]
        seen.update(nxt)
        frontier = nxt
    assert seen == set(rs.STATUSES)
