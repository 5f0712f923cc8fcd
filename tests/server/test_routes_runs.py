"""The run routes' own reading of ``stream`` and ``include[]``, and what a run started
without streaming answers; on the app with stand-in services (tests/api/test_runs.py
runs real models through these routes with the SDK, streaming included)."""

from __future__ import annotations

import pytest

from stand_in import app_client, stand_in_runtime


class Runs:
    def __init__(self):
        self.created: list[tuple] = []

    def create(self, thread_id, *, start, **body):
        self.created.append((thread_id, start, body))
        return {"id": "run_1", "object": "thread.run", "status": "queued"}


class Worker:
    def __init__(self):
        self.enqueued: list[str] = []

    def enqueue(self, run_id):
        self.enqueued.append(run_id)


@pytest.fixture
def runtime():
    return stand_in_runtime(poll_after_ms=250, runs=Runs(), worker=Worker())


@pytest.fixture
def client(runtime):
    with app_client(runtime) as c:
        yield c


def test_a_run_without_streaming_is_queued_and_answered_with_a_poll_hint(client, runtime):
    resp = client.post("/v1/threads/thread_1/runs", json={"assistant_id": "asst_1", "stream": False})
    assert resp.json()["id"] == "run_1" and resp.headers["openai-poll-after-ms"] == "250"
    # made without starting it (start=False), then handed to the worker once
    assert runtime.runs.created == [("thread_1", False, {"assistant_id": "asst_1", "stream": False})]
    assert runtime.worker.enqueued == ["run_1"]


@pytest.mark.parametrize("path, body", [
    ("/v1/threads/thread_1/runs", {"assistant_id": "asst_1", "stream": "yes"}),
    ("/v1/threads/runs", {"assistant_id": "asst_1", "stream": 1}),
    ("/v1/threads/thread_1/runs/run_1/submit_tool_outputs", {"tool_outputs": [], "stream": "true"}),
])
def test_stream_must_be_a_boolean(client, runtime, path, body):
    resp = client.post(path, json=body)
    assert resp.status_code == 400
    assert resp.json()["error"] == {"message": "Invalid type for 'stream': expected a boolean.",
                                    "type": "invalid_request_error", "param": "stream", "code": None}
    assert runtime.runs.created == [] and runtime.worker.enqueued == []


def test_include_is_checked_before_a_run_is_made(client, runtime):
    resp = client.post("/v1/threads/thread_1/runs", params={"include[]": "everything"},
                       json={"assistant_id": "asst_1"})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "include"
    assert runtime.runs.created == []
