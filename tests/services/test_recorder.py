"""What a run writes goes through the recorder: saved, then published (or saved silently),
runs and steps moving only along their transition tables, deltas shaped as the SDK merges them."""

from __future__ import annotations

import copy

import pytest

from local_assistants.adapters.sqlite_store import SQLiteStore
from local_assistants.errors import InvalidStateError
from local_assistants.services.messages import MessagesService
from local_assistants.services.recorder import RunRecorder

NOW = 1_700_000_000


class Rec:
    def __init__(self, tmp_path):
        self.store = SQLiteStore(tmp_path / "db.sqlite")
        self.events: list[tuple[str, str, dict]] = []
        self.messages = MessagesService(self.store, clock=lambda: NOW)
        self.recorder = RunRecorder(self.store, self.messages, self.publish, clock=lambda: NOW)

    def publish(self, run_id, event, data):
        self.events.append((run_id, event, copy.deepcopy(data)))

    def names(self):
        return [e for _, e, _ in self.events]

    def run(self, status="queued", **fields) -> dict:
        run = {"id": "run_1", "object": "thread.run", "thread_id": "thread_1", "assistant_id": "asst_1",
               "status": status, "started_at": None, "completed_at": None, "failed_at": None, "cancelled_at": None,
               "expires_at": NOW + 600, "required_action": None, "last_error": None, **fields}
        return self.store.insert("runs", run, thread_id=run["thread_id"], status=status)


@pytest.fixture
def rec(tmp_path):
    return Rec(tmp_path)


def test_a_run_moves_along_its_table_saved_then_published(rec):
    run = rec.recorder.run_to(rec.run(), "in_progress")
    assert run["started_at"] == NOW
    assert rec.store.get("runs", "run_1")["status"] == "in_progress"
    assert rec.store.find("runs", status="in_progress")[0]["id"] == "run_1"  # the indexed column follows
    assert rec.events == [("run_1", "thread.run.in_progress", run)]
    done = rec.recorder.run_to(run, "completed", usage={"total_tokens": 3})
    assert done["completed_at"] == NOW and done["usage"] == {"total_tokens": 3} and done["expires_at"] is None
    assert rec.store.get("runs", "run_1") == done
    with pytest.raises(InvalidStateError):
        rec.recorder.run_to(done, "in_progress")
    assert rec.store.get("runs", "run_1")["status"] == "completed"


def test_publish_false_saves_without_an_event(rec):
    rec.recorder.run_to(rec.run(status="in_progress"), "failed", publish=False, last_error={"code": "x"})
    assert rec.events == [] and rec.store.get("runs", "run_1")["last_error"] == {"code": "x"}
    assert rec.recorder.fresh({"id": "run_1"})["status"] == "failed"
    assert rec.recorder.fresh({"id": "gone"}) == {"id": "gone"}


def test_a_step_is_written_and_announced_and_settled_silently(rec):
    run = rec.run(status="in_progress")
    step = rec.recorder.open_step(run, "tool_calls")
    assert rec.names() == ["thread.run.step.created", "thread.run.step.in_progress"]
    assert step["step_details"] == {"type": "tool_calls", "tool_calls": []} and step["status"] == "in_progress"
    assert rec.recorder.steps("run_1") == [step]
    rec.recorder.step_delta(step, {"index": 0, "id": "call_1"})
    assert rec.events[-1][2] == {"id": step["id"], "object": "thread.run.step.delta",
                                 "delta": {"step_details": {"type": "tool_calls",
                                                            "tool_calls": [{"index": 0, "id": "call_1"}]}}}
    done = rec.recorder.open_step(run, "tool_calls")
    rec.recorder.step_to(done, "completed")
    assert rec.names()[-1] == "thread.run.step.completed"
    rec.events.clear()
    rec.recorder.settle_steps("run_1", "cancelled")
    assert rec.events == []
    by_id = {s["id"]: s for s in rec.recorder.steps("run_1")}
    assert by_id[step["id"]]["status"] == "cancelled" and by_id[step["id"]]["cancelled_at"] == NOW
    assert by_id[done["id"]]["status"] == "completed"  # a settled step stays as it was


def test_the_answer_step_and_its_message_are_written_together_then_announced(rec):
    run = rec.run(status="in_progress")
    step, message = rec.recorder.open_message(run)
    assert step["step_details"]["message_creation"]["message_id"] == message["id"]
    assert rec.names() == ["thread.run.step.created", "thread.run.step.in_progress",
                           "thread.message.created", "thread.message.in_progress"]
    assert (message["role"], message["status"], message["run_id"], message["content"]) == (
        "assistant", "in_progress", "run_1", [])
    assert rec.store.find("messages", run_id="run_1") == [message]
    rec.recorder.message_delta(message, {"index": 0, "type": "text", "text": {"value": "Hi"}})
    assert rec.events[-1][1:] == ("thread.message.delta", {"id": message["id"], "object": "thread.message.delta",
                                                           "delta": {"content": [{"index": 0, "type": "text",
                                                                                  "text": {"value": "Hi"}}]}})
    rec.recorder.message_to(message, "incomplete", incomplete_details={"reason": "max_tokens"})
    stored = rec.store.get("messages", message["id"])
    assert stored["status"] == "incomplete" and stored["incomplete_at"] == NOW
    assert stored["incomplete_details"] == {"reason": "max_tokens"}
    assert rec.names()[-1] == "thread.message.incomplete"
