"""The run worker: one thread in the server process executing queued runs in order,
expiring runs left waiting on ``requires_action``, and recovering after a crash.

Stopping is graceful: ``drain`` stops it taking runs (queued ones stay queued, for the
next start), and ``stop(timeout)`` lets the run in progress finish within ``timeout``,
then stops it and fails it exactly as the recovery after a crash would have.
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
                 housekeeping: Sequence[Callable[[], object]] = (), housekeeping_every_s: float = 30.0):
        self.executor = executor
        self.housekeeping = list(housekeeping)
        self.housekeeping_every_s = housekeeping_every_s
        self._last_housekeeping = 0.0
        self.recorder = recorder
        self.store = recorder.store
        self.tick_s = tick_s
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._draining = threading.Event()
        self.current: str | None = None
        """The run being executed, if any."""

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
        """Drain, give the run in progress ``timeout`` seconds to finish, then fail it as a
        crash would (the executor stops it between two tokens)."""
        self.drain()
        self._stopping.set()
        thread = self._thread
        if thread is None:
            return
        thread.join(max(0.0, timeout))
        if thread.is_alive():
            log.warning("run %s did not finish within the %.1f s grace period: stopping it", self.current, timeout)
            self.executor.abort()
            thread.join(ABORT_WAIT_S)
        if thread.is_alive():  # stuck outside the decode loop (in a kernel, loading a model)
            log.warning("run %s did not stop: marking it failed", self.current)
            self.fail_interrupted()
        self._thread = None

    def _loop(self) -> None:
        while not self._stopping.is_set():
            if self._draining.is_set():
                self._stopping.wait(self.tick_s)
                continue
            try:
                run_id = self._queue.get(timeout=self.tick_s)
            except queue.Empty:
                run_id = None
            if self._draining.is_set():
                continue  # taken off the queue, still queued in the store
            try:
                self.expire_waiting()
                if time.monotonic() - self._last_housekeeping > self.housekeeping_every_s:
                    self._last_housekeeping = time.monotonic()
                    for task in self.housekeeping:  # e.g. shutting down idle kernels
                        task()
                if run_id is not None:
                    self.current = run_id
                    try:
                        self.executor.execute(run_id)
                    finally:
                        self.current = None
            except Exception:  # never let the worker die: the next run must still execute
                log.exception("run worker error")

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
