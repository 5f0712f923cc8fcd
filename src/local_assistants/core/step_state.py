"""The run-step lifecycle as a pure transition table, as ``run_state`` is the run's.

    in_progress ──> completed | failed | cancelled | expired

A step is created ``in_progress`` (a tool-call step whose decoding already failed is
moved to ``failed`` before it is first written); every other status is terminal.
"""

from __future__ import annotations

from ..errors import InvalidStateError

IN_PROGRESS = "in_progress"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
EXPIRED = "expired"

STATUSES = (IN_PROGRESS, COMPLETED, FAILED, CANCELLED, EXPIRED)
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED, EXPIRED})

TRANSITIONS: dict[str, frozenset[str]] = {
    IN_PROGRESS: frozenset({COMPLETED, FAILED, CANCELLED, EXPIRED}),
    COMPLETED: frozenset(),
    FAILED: frozenset(),
    CANCELLED: frozenset(),
    EXPIRED: frozenset(),
}

# The timestamp field each status stamps on the step when entered.
TIMESTAMP_FIELD = {
    COMPLETED: "completed_at",
    FAILED: "failed_at",
    CANCELLED: "cancelled_at",
    EXPIRED: "expired_at",
}

# Streaming event for entering each status.
EVENT_FOR_STATUS = {s: f"thread.run.step.{s}" for s in STATUSES}


def can_transition(src: str, dst: str) -> bool:
    return dst in TRANSITIONS.get(src, frozenset())


def transition(step: dict, dst: str, now: int) -> dict:
    """Move ``step`` (in place, and return it) to ``dst`` with its timestamp set, or raise
    InvalidStateError.  In place: the run loop holds the step it streams deltas of."""
    src = step["status"]
    if not can_transition(src, dst):
        raise InvalidStateError(
            f"Cannot move run step {step.get('id')} from status '{src}' to '{dst}'.", param="status"
        )
    step["status"] = dst
    step[TIMESTAMP_FIELD[dst]] = now
    return step
