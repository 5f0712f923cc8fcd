"""The run worker: recovery after a crash (runs in progress failed, queued ones queued
again), expiry of runs waiting on requires_action, a worker that survives a failing run,
and a stop that fails a run which does not stop."""

from __future__ import annotations

import threading

from local_assistants.adapters.sqlite_store import SQLiteStore
from local_assistants.services import worker as worker_module
from local_assistants.services.executor import CRASH_MESSAGE
from local_assistants.services.messages import MessagesService
from local_assistants.services.recorder import RunRecorder
from local_assistants.services.worker import RunWorker
from conftest import wait_for

NOW = 1_700_000_000


class Executor:
    """The executor's part the worker uses: ``execute`` (moves the run in progress, then
    does what ``behave`` says) and ``abort``."""

    def __init__(self, recorder, behave=None):
        self.recorder = recorder
        self.behave = behave or (lambda run_id: None)
        self.executed: list[str] = []
        self.aborted = 0

    def execute(self, run_id):
        self.executed.append(run_id)
        self.recorder.run_to(self.recorder.store.get("runs", run_id), "in_progress")
        self.behave(run_id)

    def abort(self):
        self.aborted += 1


class World:
    def __init__(self, tmp_path, behave=None, **worker_options):
        self.store = SQLiteStore(tmp_path / "db.sqlite")
        self.events: list[tuple[str, str]] = []
        self.recorder = RunRecorder(self.store, MessagesService(self.store), self.publish, clock=lambda: NOW)
        self.executor = Executor(self.recorder, behave)
        self.worker = RunWorker(self.executor, self.recorder, tick_s=0.01, **worker_options)

    def publish(self, run_id, event, data):
        self.events.append((run_id, event))

    def run(self, run_id, status, **fields) -> dict:
        run = {"id": run_id, "object": "thread.run", "thread_id": "thread_1", "assistant_id": "asst_1",
               "status": status, "started_at": None, "completed_at": None, "failed_at": None,
               "cancelled_at": None, "expires_at": NOW + 600, "required_action": None, "last_error": None,
               **fields}
        return self.store.insert("runs", run, thread_id="thread_1", status=status)

    def status(self, run_id) -> str:
        return self.store.get("runs", run_id)["status"]


def test_recovery_fails_what_a_crash_left_in_progress_and_queues_what_never_started(tmp_path):
    w = World(tmp_path)
    crashed = w.run("run_a", "in_progress")
    w.run("run_b", "cancelling")
    w.run("run_c", "queued")
    w.run("run_d", "completed")
    step = w.recorder.open_step(crashed, "tool_calls")
    _, message = w.recorder.open_message(crashed)
    w.events.clear()
    w.worker.recover()
    for run_id in ("run_a", "run_b"):
        run = w.store.get("runs", run_id)
        assert run["status"] == "failed" and run["failed_at"] == NOW
        assert run["last_error"] == {"code": "server_error", "message": CRASH_MESSAGE}
    steps = {s["id"]: s for s in w.store.find("run_steps", run_id="run_a")}
    assert steps[step["id"]]["status"] == "failed"
    assert steps[step["id"]]["last_error"]["message"] == CRASH_MESSAGE
    msg = w.store.get("messages", message["id"])
    assert msg["status"] == "incomplete" and msg["incomplete_details"] == {"reason": "run_failed"}
    assert w.status("run_c") == "queued" and w.status("run_d") == "completed"
    assert w.events == []  # nobody listens to a run from before the crash
    assert w.worker._queue.get_nowait() == "run_c"


def test_a_run_waiting_past_its_expiry_expires_with_its_steps(tmp_path):
    w = World(tmp_path)
    late = w.run("run_late", "requires_action", expires_at=NOW)
    w.run("run_waiting", "requires_action", expires_at=NOW + 1)
    w.run("run_unbounded", "requires_action", expires_at=None)
    step = w.recorder.open_step(late, "tool_calls")
    w.events.clear()
    w.worker.expire_waiting()
    assert w.status("run_late") == "expired"
    assert w.store.get("run_steps", step["id"])["status"] == "expired"
    assert w.status("run_waiting") == w.status("run_unbounded") == "requires_action"
    assert w.events == [("run_late", "thread.run.expired")]


def test_the_worker_executes_queued_runs_in_order_and_survives_a_failing_one(tmp_path):
    def behave(run_id):
        if run_id == "run_1":
            raise RuntimeError("boom")

    chores = []
    w = World(tmp_path, behave, housekeeping=[lambda: chores.append(1)], housekeeping_every_s=0)
    for run_id in ("run_1", "run_2"):
        w.run(run_id, "queued")
    w.worker.start()  # recovery queues them
    try:
        wait_for(lambda: len(w.executor.executed) == 2, timeout=30)
    finally:
        w.worker.stop(timeout=10)
    assert w.executor.executed == ["run_1", "run_2"]
    assert chores  # housekeeping ran between runs
    assert w.worker.running == []


def test_a_drained_worker_leaves_queued_runs_queued(tmp_path):
    w = World(tmp_path)
    w.worker.start()
    w.worker.drain()
    w.run("run_1", "queued")
    w.worker.enqueue("run_1")
    w.worker.stop(timeout=10)
    assert w.executor.executed == [] and w.status("run_1") == "queued"


def test_a_run_that_does_not_stop_is_aborted_then_failed(tmp_path, monkeypatch):
    monkeypatch.setattr(worker_module, "ABORT_WAIT_S", 0.05)
    started, release = threading.Event(), threading.Event()

    def behave(run_id):
        started.set()
        release.wait(30)  # stuck outside the decode loop: abort does not reach it

    w = World(tmp_path, behave)
    w.run("run_1", "queued")
    w.worker.start()
    try:
        assert started.wait(30)
        w.worker.stop(timeout=0)
        assert w.executor.aborted == 1
        run = w.store.get("runs", "run_1")
        assert run["status"] == "failed" and run["last_error"]["message"] == CRASH_MESSAGE
    finally:
        release.set()


def test_a_run_busy_with_tool_work_does_not_hold_up_the_next_one(tmp_path):
    """Code that runs for a long time (here: until released) in one run; the next run,
    queued after it, executes meanwhile on a slot of its own."""
    release = threading.Event()
    done = []

    def behave(run_id):
        if run_id == "run_slow":
            release.wait(30)
        done.append(run_id)

    w = World(tmp_path, behave, max_concurrent=2)
    for run_id in ("run_slow", "run_fast"):
        w.run(run_id, "queued")
    w.worker.start()
    try:
        wait_for(lambda: done == ["run_fast"], timeout=30)
        assert w.worker.running == ["run_slow"]
        release.set()
        wait_for(lambda: done == ["run_fast", "run_slow"], timeout=30)
    finally:
        release.set()
        w.worker.stop(timeout=10)


def test_runs_beyond_the_limit_wait_queued_and_start_in_arrival_order(tmp_path):
    releases = {f"run_{i}": threading.Event() for i in range(5)}

    def behave(run_id):
        releases[run_id].wait(30)

    w = World(tmp_path, behave, max_concurrent=2)
    w.worker.start()
    try:
        for run_id in releases:
            w.run(run_id, "queued")
            w.worker.enqueue(run_id)
        wait_for(lambda: len(w.executor.executed) == 2, timeout=30)
        assert w.executor.executed == ["run_0", "run_1"]
        assert [w.status(f"run_{i}") for i in range(2, 5)] == ["queued"] * 3
        for i in range(5):  # each run that ends lets the oldest waiting one start
            releases[f"run_{i}"].set()
            wait_for(lambda: len(w.executor.executed) == min(5, i + 3), timeout=30)
            assert len(w.worker.running) <= 2
        assert w.executor.executed == [f"run_{i}" for i in range(5)]
    finally:
        for event in releases.values():
            event.set()
        w.worker.stop(timeout=10)


def test_a_stop_fails_every_run_that_does_not_stop(tmp_path, monkeypatch):
    monkeypatch.setattr(worker_module, "ABORT_WAIT_S", 0.05)
    release = threading.Event()
    w = World(tmp_path, lambda run_id: release.wait(30), max_concurrent=3)
    for run_id in ("run_1", "run_2"):
        w.run(run_id, "queued")
    w.worker.start()
    try:
        wait_for(lambda: len(w.executor.executed) == 2, timeout=30)
        w.worker.stop(timeout=0)
        assert w.executor.aborted == 1
        assert [w.status(r) for r in ("run_1", "run_2")] == ["failed", "failed"]
    finally:
        release.set()
