"""The run lifecycle as a pure transition table.

    queued ──> in_progress ──> completed | incomplete | failed | requires_action
      │             │                                             │
      │             └──> cancelling ──> cancelled                 ├──> queued (outputs submitted)
      │                                                           ├──> cancelling
      └──> cancelling | failed | expired                          └──> expired | failed

Terminal: completed, incomplete, failed, cancelled, expired.
"""

from __future__ import annotations

from ..errors import InvalidStateError

QUEUED = "queued"
IN_PROGRESS = "in_progress"
REQUIRES_ACTION = "requires_action"
CANCELLING = "cancelling"
CANCELLED = "cancelled"
FAILED = "failed"
COMPLETED = "completed"
INCOMPLETE = "incomplete"
EXPIRED = "expired"

STATUSES = (QUEUED, IN_PROGRESS, REQUIRES_ACTION, CANCELLING, CANCELLED, FAILED, COMPLETED,
            INCOMPLETE, EXPIRED)
TERMINAL = frozenset({COMPLETED, INCOMPLETE, FAILED, CANCELLED, EXPIRED})
ACTIVE = frozenset({QUEUED, IN_PROGRESS, REQUIRES_ACTION, CANCELLING})

TRANSITIONS: dict[str, frozenset[str]] = {
    QUEUED: frozenset({IN_PROGRESS, CANCELLING, CANCELLED, FAILED, EXPIRED}),
    IN_PROGRESS: frozenset({COMPLETED, INCOMPLETE, FAILED, REQUIRES_ACTION, CANCELLING, EXPIRED}),
    REQUIRES_ACTION: frozenset({QUEUED, CANCELLING, EXPIRED, FAILED}),
    CANCELLING: frozenset({CANCELLED, FAILED}),
    COMPLETED: frozenset(),
    INCOMPLETE: frozenset(),
    FAILED: frozenset(),
    CANCELLED: frozenset(),
    EXPIRED: frozenset(),
}

# The timestamp field each status stamps on the run when entered.
TIMESTAMP_FIELD = {
    IN_PROGRESS: "started_at",
    COMPLETED: "completed_at",
    INCOMPLETE: "completed_at",
    FAILED: "failed_at",
    CANCELLED: "cancelled_at",
}

# Streaming event for entering each status.
EVENT_FOR_STATUS = {s: f"thread.run.{s}" for s in STATUSES}


def can_transition(src: str, dst: str) -> bool:
    return dst in TRANSITIONS.get(src, frozenset())


def transition(run: dict, dst: str, now: int) -> dict:
    """Return ``run`` moved to ``dst`` with its timestamp set, or raise InvalidStateError."""
    src = run["status"]
    if not can_transition(src, dst):
        raise InvalidStateError(
            f"Cannot move run {run.get('id')} from status '{src}' to '{dst}'.", param="status"
        )
    out = dict(run, status=dst)
    stamp = TIMESTAMP_FIELD.get(dst)
    if stamp and out.get(stamp) is None:
        out[stamp] = now
    if dst != REQUIRES_ACTION:
        out["required_action"] = None
    if dst in TERMINAL:
        out["expires_at"] = None
    return out
