"""The run worker: executes queued runs in the server process, several at once, expires
runs left waiting on ``requires_action``, and recovers after a crash.

Runs are started in arrival order, at most ``max_concurrent`` at a time (the others stay
``queued``); each executes on a thread of its own, so one run's tool work (code that runs
for a minute, a file search, a wait for tool outputs) never holds up another run's answer.
Decoding itself is shared: each model decodes the turns of all runs together, in one batch.

Stopping is graceful: ``drain`` stops it taking runs (queued ones stay queued, for the
next start), and ``stop(timeout)`` lets the runs in progress finish within ``timeout``,
then stops them and fails them exactly as the recovery after a crash would have.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from ..core import run_state, step_state
from typing import Callable, Sequence

from .executor import CRASH_MESSAGE, RunExecutor
from .recorder import RunMoved, RunRecorder

log = logging.getLogger(__name__)

ABORT_WAIT_S = 5.0
"""After the grace period, how long a stopped run may take to notice (a token, a kernel
call) before it is marked failed regardless."""


class RunWorker:
    def __init__(self, executor: RunExecutor, recorder: RunRecorder, *, tick_s: float = 1.0,
                 max_concurrent: int = 1,
                 housekeeping: Sequence[Callable[[], object]] = (), housekeeping_every_s: float = 30.0,
                 on_interrupted: Callable[[dict], object] = lambda run: None):
        self.executor = executor
        self.housekeeping = list(housekeeping)
        self.housekeeping_every_s = housekeeping_every_s
        self.on_interrupted = on_interrupted
        """Told of each run failed because the server stopped under it (its events were not published)."""
        self._last_housekeeping = 0.0
        self.recorder = recorder
        self.store = recorder.store
        self.tick_s = tick_s
        self.max_concurrent = max(1, max_concurrent)
        self._slots = threading.Semaphore(self.max_concurrent)
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._draining = threading.Event()
        self._running: dict[str, threading.Thread] = {}
        self._running_lock = threading.Lock()

    @property
    def running(self) -> list[str]:
        """The runs being executed now."""
        with self._running_lock:
            return list(self._running)

    def enqueue(self, run_id: str) -> None:
        self._queue.put(run_id)

    def start(self) -> None:
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="local-assistants-runs", daemon=True)
        self._thread.start()

    def drain(self) -> None:
        """Take no more runs (those queued stay ``queued`` in the store, for the next start)."""
        self._draining.set()
        self._queue.put(None)  # wake the loop

    def stop(self, timeout: float = 10) -> None:
        """Drain, give the runs in progress ``timeout`` seconds to finish, then fail them as a
        crash would (the executor stops each between two tokens)."""
        self.drain()
        self._stopping.set()
        thread = self._thread
        if thread is None:
            return
        deadline = time.monotonic() + max(0.0, timeout)
        thread.join(max(0.0, deadline - time.monotonic()))
        if not self._join_runs(deadline):
            log.warning("runs %s did not finish within the %.1f s grace period: stopping them", self.running, timeout)
            self.executor.abort()
            if not self._join_runs(time.monotonic() + ABORT_WAIT_S):
                # stuck outside the decode loop (in a kernel, loading a model)
                log.warning("runs %s did not stop: marking them failed", self.running)
                self.fail_interrupted()
        self._thread = None

    def _join_runs(self, deadline: float) -> bool:
        """Wait for the runs in progress until ``deadline``; True when none is left."""
        with self._running_lock:
            threads = list(self._running.values())
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not self.running

    def _loop(self) -> None:
        while not self._stopping.is_set():
            if self._draining.is_set():
                self._stopping.wait(self.tick_s)
                continue
            try:
                run_id = self._queue.get(timeout=self.tick_s)
            except queue.Empty:
                run_id = None
            try:
                self.expire_waiting()
                if time.monotonic() - self._last_housekeeping > self.housekeeping_every_s:
                    self._last_housekeeping = time.monotonic()
                    for task in self.housekeeping:  # e.g. shutting down idle kernels
                        task()
                if run_id is not None:
                    self._start(run_id)
            except Exception:  # never let the worker die: the next run must still execute
                log.exception("run worker error")

    def _start(self, run_id: str) -> None:
        """Execute ``run_id`` on a thread of its own once a slot is free (runs start in the
        order they were queued: only this loop takes them)."""
        while not self._slots.acquire(timeout=self.tick_s):
            self.expire_waiting()  # a run waiting for tool outputs holds no slot, but may expire
            if self._draining.is_set():
                return  # taken off the queue, still queued in the store
        if self._draining.is_set():
            self._slots.release()
            return
        thread = threading.Thread(target=self._execute, args=(run_id,), name=f"run-{run_id}", daemon=True)
        with self._running_lock:
            self._running[run_id] = thread
        thread.start()

    def _execute(self, run_id: str) -> None:
        try:
            self.executor.execute(run_id)
        except Exception:  # a run's failure is the run's: the worker goes on
            log.exception("run %s: executor error", run_id)
        finally:
            with self._running_lock:
                self._running.pop(run_id, None)
            self._slots.release()

    # -- start-up recovery and expiry -------------------------------------------
    def recover(self) -> None:
        """Finish what a crash left behind; queue what never started."""
        self.fail_interrupted()
        for run in self.store.find("runs", status=run_state.QUEUED):
            self.enqueue(run["id"])
        self.expire_waiting()

    def fail_interrupted(self) -> None:
        """Fail every run left in progress (or cancelling), its step and its message, as the
        server stopped under it."""
        for run in self.store.find("runs", status=[run_state.IN_PROGRESS, run_state.CANCELLING]):
            try:
                self._fail_interrupted(run)
            except RunMoved:
                continue  # it ended meanwhile (the grace period's last token): nothing was written
            log.warning("run %s was in progress when the server stopped: marked failed", run["id"])
            try:
                self.on_interrupted(run)
            except Exception:
                log.exception("run %s: telling of its failure failed", run["id"])

    def _fail_interrupted(self, run: dict) -> None:
        """One transaction: the run's compare-and-set first (``RunMoved`` rolls it all back)."""
        rec = self.recorder
        with self.store.transaction():
            rec.run_to(run, run_state.FAILED, publish=False,
                       last_error={"code": "server_error", "message": CRASH_MESSAGE})
            for message in self.store.find("messages", run_id=run["id"]):
                if message["status"] == "in_progress":
                    rec.message_to(message, "incomplete", publish=False,
                                   incomplete_details={"reason": "run_failed"})
            rec.settle_steps(run["id"], step_state.FAILED,
                             last_error={"code": "server_error", "message": CRASH_MESSAGE})

    def expire_waiting(self) -> None:
        now = self.recorder.now()
        for run in self.store.find("runs", status=run_state.REQUIRES_ACTION):
            if run.get("expires_at") is not None and run["expires_at"] <= now:
                try:
                    with self.store.transaction():
                        expired = self.recorder.run_to(run, run_state.EXPIRED, publish=False)
                        self.recorder.settle_steps(run["id"], step_state.EXPIRED)
                except RunMoved:
                    continue  # outputs submitted, or cancelled, since it was read
                self.recorder.publish(run["id"], "thread.run.expired", expired)
