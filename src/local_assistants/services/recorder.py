"""What a run writes, saved and then published: the run's status, its steps, its
messages, and the deltas streamed while they are written.

Every change goes through here, so a streaming client and a polling client see the
same objects, and runs and steps change status only through their transition tables
(``core.run_state``, ``core.step_state``).  ``publish=False`` saves without an event
(a cancel or an expiry settling a run's steps, a crash recovered at start).
"""

from __future__ import annotations

from typing import Any

from ..core import run_state, step_state
from ..ids import Clock, new_id, now_s, system_clock
from ..ports import ThreadStore
from .events import Publish
from .messages import MessagesService, index_item


class RunMoved(Exception):
    """A run's status changed under a writer (a cancel, the worker, an expiry): nothing
    was written. ``run`` is the run as stored now, or None if it is gone."""

    def __init__(self, run: dict | None):
        super().__init__(f"run is now {run and run['status']!r}")
        self.run = run


class RunRecorder:
    def __init__(self, store: ThreadStore, messages: MessagesService, publish: Publish,
                 clock: Clock = system_clock):
        self.store = store
        self.messages = messages
        self.publish = publish
        self.clock = clock

    def now(self) -> int:
        return now_s(self.clock)

    # -- runs ----------------------------------------------------------------------
    def save_run(self, run: dict, *, was: str | None = None) -> dict:
        """Write a run if its stored status is still ``was`` (by default the run's own):
        one compare-and-set, so no writer overwrites a status another one just wrote.
        Raises ``RunMoved`` when it changed."""
        expect = {"status": was or run["status"]}
        if not self.store.update_if("runs", run, expect, thread_id=run["thread_id"], status=run["status"]):
            raise RunMoved(self.store.get("runs", run["id"]))
        return run

    def run_to(self, run: dict, status: str, *, publish: bool = True, **fields: Any) -> dict:
        """Move ``run`` (as its writer last saw it) to ``status``: raises ``RunMoved``, having
        written nothing, if its stored status is no longer the one seen."""
        was = run["status"]
        run = run_state.transition(run, status, self.now())
        run.update(fields)
        self.save_run(run, was=was)
        if publish:
            self.publish(run["id"], run_state.EVENT_FOR_STATUS[status], run)
        return run

    def fresh(self, run: dict) -> dict:
        """The run as stored now (a cancel may have moved it), or ``run`` if it is gone."""
        return self.store.get("runs", run["id"]) or run

    # -- steps ---------------------------------------------------------------------
    def steps(self, run_id: str) -> list[dict]:
        return self.store.find("run_steps", run_id=run_id)

    def new_step(self, run: dict, kind: str) -> dict:
        """A step of ``kind`` (``message_creation`` or ``tool_calls``), in progress, not yet written."""
        return {
            "id": new_id("step"),
            "object": "thread.run.step",
            "created_at": self.now(),
            "run_id": run["id"],
            "assistant_id": run["assistant_id"],
            "thread_id": run["thread_id"],
            "type": kind,
            "status": step_state.IN_PROGRESS,
            "cancelled_at": None,
            "completed_at": None,
            "expired_at": None,
            "failed_at": None,
            "last_error": None,
            "step_details": ({"type": "message_creation", "message_creation": {"message_id": None}}
                             if kind == "message_creation" else {"type": "tool_calls", "tool_calls": []}),
            "usage": None,
            "metadata": {},
        }

    def insert_step(self, step: dict) -> dict:
        return self.store.insert("run_steps", step, thread_id=step["thread_id"], run_id=step["run_id"])

    def open_step(self, run: dict, kind: str) -> dict:
        """A new step, written and announced (``created``, then ``in_progress``)."""
        step = self.insert_step(self.new_step(run, kind))
        self.publish(run["id"], "thread.run.step.created", step)
        self.publish(run["id"], "thread.run.step.in_progress", step)
        return step

    def save_step(self, step: dict) -> dict:
        """Write what a step holds now (its calls' results), without an event."""
        return self.store.update("run_steps", step, thread_id=step["thread_id"], run_id=step["run_id"])

    def step_to(self, step: dict, status: str, *, publish: bool = True, **fields: Any) -> dict:
        step_state.transition(step, status, self.now())
        step.update(fields)
        self.save_step(step)
        if publish:
            self.publish(step["run_id"], step_state.EVENT_FOR_STATUS[status], step)
        return step

    def settle_steps(self, run_id: str, status: str, **fields: Any) -> None:
        """Every step of a run still in progress to ``status``, silently (inside the caller's
        transaction: the run's own event says what happened)."""
        for step in self.steps(run_id):
            if step["status"] == step_state.IN_PROGRESS:
                self.step_to(step, status, publish=False, **fields)

    def index_call(self, step: dict, call: dict) -> None:
        """A call joins the thread's items (the conversation's order) as it is recorded."""
        from .response_items import call_item_id

        index_item(self.store, step["thread_id"], call_item_id(call), "call:" + call["id"], step["id"])

    def index_output(self, step: dict, call: dict) -> None:
        """A function's output joins the thread's items when the client gives it."""
        from .response_items import output_item_id

        index_item(self.store, step["thread_id"], output_item_id(call["id"]), "output:" + call["id"], step["id"])

    def step_delta(self, step: dict, call: dict) -> None:
        """One tool call's delta (``call`` carries its ``index``), as the SDK merges them."""
        self.publish(step["run_id"], "thread.run.step.delta", {
            "id": step["id"], "object": "thread.run.step.delta",
            "delta": {"step_details": {"type": "tool_calls", "tool_calls": [call]}}})

    # -- messages ------------------------------------------------------------------
    def new_message(self, run: dict) -> dict:
        return {
            "id": new_id("message"),
            "object": "thread.message",
            "created_at": self.now(),
            "thread_id": run["thread_id"],
            "status": "in_progress",
            "incomplete_details": None,
            "completed_at": None,
            "incomplete_at": None,
            "role": "assistant",
            "content": [],
            "assistant_id": run["assistant_id"],
            "run_id": run["id"],
            "attachments": [],
            "metadata": {},
        }

    def open_message(self, run: dict) -> tuple[dict, dict]:
        """The answer's message_creation step and its (empty) message, written together, then
        announced: the step's ``created`` and ``in_progress``, then the message's."""
        step = self.new_step(run, "message_creation")
        message = self.new_message(run)
        step["step_details"]["message_creation"]["message_id"] = message["id"]
        with self.store.transaction():
            self.insert_step(step)
            self.messages.insert(message)
        self.publish(run["id"], "thread.run.step.created", step)
        self.publish(run["id"], "thread.run.step.in_progress", step)
        self.publish(run["id"], "thread.message.created", message)
        self.publish(run["id"], "thread.message.in_progress", message)
        return step, message

    def message_delta(self, message: dict, part: dict) -> None:
        """One content part's delta (``part`` carries its ``index``)."""
        self.publish(message["run_id"], "thread.message.delta",
                     {"id": message["id"], "object": "thread.message.delta", "delta": {"content": [part]}})

    def message_to(self, message: dict, status: str, *, publish: bool = True, **fields: Any) -> dict:
        """``completed`` or ``incomplete`` (with ``incomplete_details``), stamped now."""
        message.update(status=status, **{f"{status}_at": self.now()}, **fields)
        self.messages.save(message)
        if publish:
            self.publish(message["run_id"], f"thread.message.{status}", message)
        return message
