"""Sandboxed Jupyter kernels (jupyter_client + ipykernel), one per thread.

``SandboxedKernel`` is one kernel process started through the sandbox command,
spoken to with jupyter_client's blocking client over the ``ipc`` transport (TCP
loopback cannot cross the network namespace).  Interrupts are *messages* on the
control channel: a signal would hit the sandbox wrapper and kill the kernel.

``KernelPool`` keeps a few kernels started ahead of need and hands one to a
thread on its first code call, with that thread's folder at ``/mnt/data``: a
pooled kernel's folder is renamed into place (the bind mount follows the
directory), so no kernel start is waited for.
"""

from __future__ import annotations

import base64
import logging
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import zmq
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.connect import write_connection_file

from .sandbox import SandboxSpec

log = logging.getLogger(__name__)

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
MAX_MESSAGE_BYTES = 64 << 20


@dataclass
class Execution:
    """What one execution produced."""

    stdout: str = ""
    result: str | None = None  # execute_result text/plain: shown as a notebook shows the last line
    images: list[bytes] = field(default_factory=list)
    error: str | None = None
    timed_out: bool = False
    flooded: bool = False
    truncated: bool = False
    reset: bool = False  # the kernel was restarted: its state is gone

    @property
    def logs(self) -> str:
        parts = [self.stdout.rstrip("\n")] if self.stdout else []
        if self.result is not None:
            parts.append(self.result)
        if self.error:
            parts.append(self.error)
        if self.truncated:
            parts.insert(0, "[output truncated: only its end is kept]")
        if self.flooded:
            parts.append("[execution interrupted: it printed too much]")
        if self.timed_out:
            parts.append("[execution interrupted: it ran past the time limit]")
        if self.reset:
            parts.append("[the kernel was restarted: variables and imports from earlier code are gone]")
        return "\n".join(parts)


class _Tail:
    """Text kept from a stream: at most ``limit`` characters, the end kept."""

    def __init__(self, limit: int):
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.total = 0
        self.cut = False

    def add(self, text: str) -> None:
        self.total += len(text)
        self.parts.append(text)
        self.size += len(text)
        if self.size > 2 * self.limit:
            joined = "".join(self.parts)[-self.limit:]
            self.parts, self.size, self.cut = [joined], len(joined), True

    def text(self) -> str:
        joined = "".join(self.parts)
        if len(joined) > self.limit:
            self.cut = True
            joined = joined[-self.limit:]
        return joined


class ProcessLauncher:
    """Starts processes from one long-lived thread.

    bubblewrap's ``--die-with-parent`` (PR_SET_PDEATHSIG) fires when the *thread*
    that started it ends, not the process: a kernel started from a short-lived
    thread (a pool refill, a request handler) would be killed with it.
    """

    def __init__(self):
        self._jobs: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="kernel-launcher", daemon=True)
        self._thread.start()

    def popen(self, cmd: list[str], **kwargs) -> subprocess.Popen:
        done: queue.Queue = queue.Queue(maxsize=1)
        self._jobs.put((cmd, kwargs, done))
        ok, value = done.get()
        if not ok:
            raise value
        return value

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            cmd, kwargs, done = job
            try:
                done.put((True, subprocess.Popen(cmd, **kwargs)))
            except BaseException as err:  # handed back to the caller
                done.put((False, err))

    def close(self) -> None:
        self._jobs.put(None)


class SandboxedKernel:
    def __init__(self, spec: SandboxSpec, *, uid: int, workdir: Path, conn_dir: Path, context: zmq.Context,
                 launcher: ProcessLauncher | None = None):
        self.spec = spec
        self.launcher = launcher
        self.uid = uid
        self.workdir = Path(workdir)
        self.conn_dir = Path(conn_dir)
        self.context = context
        self.proc: subprocess.Popen | None = None
        self.client: BlockingKernelClient | None = None
        self.last_used = time.monotonic()
        self.lock = threading.Lock()
        self.started = False
        self.settled = threading.Event()  # set once start() has succeeded or failed

    # -- life -----------------------------------------------------------------
    def start(self, ready_timeout: float = 60) -> "SandboxedKernel":
        try:
            return self._start(ready_timeout)
        finally:
            self.settled.set()

    def _start(self, ready_timeout: float) -> "SandboxedKernel":
        self.settled.clear()
        shutil.rmtree(self.conn_dir, ignore_errors=True)
        self.conn_dir.mkdir(parents=True, mode=0o700)
        self.workdir.mkdir(parents=True, exist_ok=True)
        conn_file = self.conn_dir / "kernel.json"
        write_connection_file(str(conn_file), transport="ipc", ip=str(self.conn_dir / "k"),
                              key=os.urandom(16).hex().encode())
        if not self.spec.unsafe:
            for path in (self.conn_dir, conn_file, self.workdir):
                os.chown(path, self.uid, self.uid)
        argv = [str(self.spec.kernel_python), "-m", "ipykernel_launcher", "-f", str(conn_file),
                "--IPKernelApp.quiet=True", "--HistoryManager.enabled=False"]
        popen = self.launcher.popen if self.launcher is not None else subprocess.Popen
        self.proc = popen(
            self.spec.command(argv, uid=self.uid, workdir=self.workdir, conn_dir=self.conn_dir),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, cwd="/",
        )
        client = BlockingKernelClient(context=self.context)
        client.load_connection_file(str(conn_file))
        client.start_channels()
        self.client = client
        try:
            client.wait_for_ready(timeout=ready_timeout)
        except RuntimeError as err:
            self.shutdown()
            raise RuntimeError(f"the sandboxed kernel did not start: {err}") from err
        self.started = True
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def shutdown(self) -> None:
        self.started = False
        if self.client is not None:
            try:
                self.client.stop_channels()
            except Exception:  # the channels may already be broken
                pass
            self.client = None
        if self.proc is not None:
            try:
                # The whole chain (setpriv -> prlimit -> bwrap) is one process group;
                # killing bwrap ends its pid namespace and every process in it.
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            self.proc = None
            if not self.spec.unsafe:
                _wait_until_gone(self.uid)
        shutil.rmtree(self.conn_dir, ignore_errors=True)

    def interrupt(self) -> None:
        if self.client is None:
            return
        msg = self.client.session.msg("interrupt_request", content={})
        self.client.control_channel.send(msg)

    # -- code -------------------------------------------------------------------
    def execute(self, code: str, *, timeout: float = 60.0, max_output: int = 20_000,
                flood_limit: int = 2_000_000, grace: float = 3.0) -> Execution:
        """Run ``code``; on a timeout: interrupt, wait ``grace``, then restart the kernel."""
        with self.lock:
            self.last_used = time.monotonic()
            result = Execution()
            out = _Tail(max_output)
            client = self.client
            msg_id = client.execute(code, store_history=True, allow_stdin=False, stop_on_error=True)
            deadline = time.monotonic() + timeout
            interrupted_at: float | None = None
            while True:
                now = time.monotonic()
                if interrupted_at is None and (now >= deadline or out.total > flood_limit):
                    result.timed_out = now >= deadline
                    result.flooded = not result.timed_out
                    self.interrupt()
                    interrupted_at = now
                if interrupted_at is not None and now - interrupted_at > grace:
                    self._restart()
                    result.reset = True
                    break
                if not self.alive():
                    self._restart()
                    result.reset = True
                    break
                try:
                    msg = client.get_iopub_msg(timeout=0.2)
                except queue.Empty:
                    continue
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    out.add(content.get("text", ""))
                elif kind in ("execute_result", "display_data"):
                    data = content.get("data", {})
                    if "image/png" in data:
                        result.images.append(base64.b64decode(data["image/png"]))
                    elif kind == "execute_result" and "text/plain" in data:
                        result.result = data["text/plain"]
                    elif "text/plain" in data:
                        out.add(data["text/plain"] + "\n")
                elif kind == "error":
                    trace = "\n".join(content.get("traceback") or [])
                    result.error = _ANSI.sub("", trace) or f"{content.get('ename')}: {content.get('evalue')}"
                elif kind == "status" and content.get("execution_state") == "idle":
                    break
            if not result.reset:
                self._drain_shell(msg_id)
            result.stdout = out.text()
            result.truncated = out.cut
            if result.error and (result.timed_out or result.flooded):
                result.error = result.error.splitlines()[-1] if result.error.splitlines() else result.error
            self.last_used = time.monotonic()
            return result

    def _drain_shell(self, msg_id: str) -> None:
        try:
            while True:
                reply = self.client.get_shell_msg(timeout=1)
                if reply.get("parent_header", {}).get("msg_id") == msg_id:
                    return
        except queue.Empty:
            return

    def _restart(self) -> None:
        self.shutdown()
        self.start()


def processes_of(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except FileNotFoundError:
                pass
    return pids


def _wait_until_gone(uid: int, timeout: float = 5.0) -> None:
    """The pid namespace ends with bwrap, but its processes take a moment to go: a uid
    is reused only once they have (else the next kernel meets the process limit)."""
    deadline = time.monotonic() + timeout
    while processes_of(uid) and time.monotonic() < deadline:
        time.sleep(0.05)


class KernelPool:
    """Kernels per thread: a few started ahead, a cap on live ones, idle ones reaped."""

    def __init__(self, spec: SandboxSpec, root: Path, *, pool_size: int = 1, max_kernels: int = 4,
                 idle_timeout: float = 3600, uid_base: int = 61000):
        self.spec = spec
        self.root = Path(root)
        self.pool_size = pool_size
        self.max_kernels = max_kernels
        self.idle_timeout = idle_timeout
        self.uids = list(range(uid_base, uid_base + max_kernels + pool_size + 1))
        self.context = zmq.Context()
        self.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        self.launcher = ProcessLauncher()
        self.lock = threading.RLock()
        self.by_thread: OrderedDict[str, SandboxedKernel] = OrderedDict()
        self.ready: list[SandboxedKernel] = []
        self._closed = False
        self._refilling = False
        self.clean_stale()

    # -- folders ----------------------------------------------------------------
    @property
    def pool_dir(self) -> Path:
        return self.root / ".pool"

    @property
    def conn_root(self) -> Path:
        return self.root / ".kernels"

    def thread_dir(self, thread_id: str) -> Path:
        return self.root / thread_id

    def clean_stale(self) -> None:
        """Connection files, sockets and pooled folders left by a previous process."""
        for path in (self.pool_dir, self.conn_root):
            shutil.rmtree(path, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)

    # -- kernels ----------------------------------------------------------------
    def _free_uid(self) -> int:
        """A uid no live kernel has, the least recently handed out first."""
        used = {k.uid for k in [*self.by_thread.values(), *self.ready]}
        uid = next(u for u in self.uids if u not in used)
        self.uids.remove(uid)
        self.uids.append(uid)
        return uid

    def _new_kernel(self, workdir: Path) -> SandboxedKernel:
        uid = self._free_uid()
        kernel = SandboxedKernel(self.spec, uid=uid, workdir=workdir, conn_dir=self.conn_root / str(uid),
                                 context=self.context, launcher=self.launcher)
        return kernel

    def warm(self) -> None:
        """Start pooled kernels until the pool is full (call from a background thread)."""
        while True:
            with self.lock:
                if self._closed or len(self.ready) >= self.pool_size:
                    self._refilling = False
                    return
                try:
                    self._make_room()  # an idle thread's kernel gives way to the pool
                except RuntimeError:  # every kernel is busy: no pre-started one for now
                    self._refilling = False
                    return
                slot = self._new_kernel(self.pool_dir / f"slot-{time.monotonic_ns()}")
                self.ready.append(slot)  # reserve its uid while it starts
            try:
                slot.start()
            except Exception:
                log.exception("could not pre-start a kernel")
                with self.lock:
                    if slot in self.ready:
                        self.ready.remove(slot)
                    self._refilling = False
                return
            with self.lock:
                if self._closed:
                    slot.shutdown()
                    return

    def refill_in_background(self) -> None:
        with self.lock:
            if self._refilling or self._closed or self.pool_size == 0:
                return
            self._refilling = True
        threading.Thread(target=self.warm, name="kernel-pool", daemon=True).start()

    def _live(self) -> int:
        return len(self.by_thread) + len(self.ready)

    def kernel_for(self, thread_id: str) -> tuple[SandboxedKernel, bool]:
        """The thread's kernel, and whether it is new (its earlier state is gone)."""
        with self.lock:
            starting = [k for k in self.ready if not k.started] if thread_id not in self.by_thread else []
            has_ready = any(k.started for k in self.ready)
        if starting and not has_ready:
            # A pooled kernel is on its way: it is sooner than a cold start.
            starting[0].settled.wait(timeout=30)
        with self.lock:
            kernel = self.by_thread.get(thread_id)
            if kernel is not None and kernel.alive():
                self.by_thread.move_to_end(thread_id)
                return kernel, False
            if kernel is not None:
                self.by_thread.pop(thread_id)
                kernel.shutdown()
            self._make_room()
            pooled = next((k for k in self.ready if k.started and k.alive()), None)
            if pooled is not None:
                self.ready.remove(pooled)
                self._adopt_folder(pooled, thread_id)
                kernel = pooled
            else:
                kernel = self._new_kernel(self.thread_dir(thread_id))
                self._own_folder(kernel)
                self.by_thread[thread_id] = kernel  # reserve the uid while it starts
        if pooled is None:
            try:
                kernel.start()
            except Exception:
                with self.lock:
                    self.by_thread.pop(thread_id, None)
                raise
        with self.lock:
            self.by_thread[thread_id] = kernel
            self.by_thread.move_to_end(thread_id)
        self.refill_in_background()
        return kernel, True

    def _adopt_folder(self, kernel: SandboxedKernel, thread_id: str) -> None:
        """Give a pooled kernel the thread's folder: its own (bound at /mnt/data) is
        filled with the thread's files and renamed into the thread's place."""
        target = self.thread_dir(thread_id)
        if target.exists():
            for entry in os.listdir(target):
                os.rename(target / entry, kernel.workdir / entry)
            target.rmdir()
        os.rename(kernel.workdir, target)
        kernel.workdir = target
        self._own_folder(kernel)

    def _own_folder(self, kernel: SandboxedKernel) -> None:
        kernel.workdir.mkdir(parents=True, exist_ok=True)
        if self.spec.unsafe:
            return
        for dirpath, dirnames, filenames in os.walk(kernel.workdir, followlinks=False):
            for name in [*dirnames, *filenames]:
                os.lchown(os.path.join(dirpath, name), kernel.uid, kernel.uid)
        os.chown(kernel.workdir, kernel.uid, kernel.uid)

    def _make_room(self) -> None:
        while self._live() >= self.max_kernels + self.pool_size and self.by_thread:
            idle = [(t, k) for t, k in self.by_thread.items() if not k.lock.locked()]
            if not idle:
                raise RuntimeError(f"all {self.max_kernels} code-interpreter kernels are busy")
            thread_id, kernel = idle[0]  # least recently used
            self.by_thread.pop(thread_id)
            kernel.shutdown()

    def restart(self, thread_id: str) -> None:
        with self.lock:
            kernel = self.by_thread.pop(thread_id, None)
        if kernel is not None:
            kernel.shutdown()

    def reap_idle(self) -> int:
        now = time.monotonic()
        with self.lock:
            stale = [(t, k) for t, k in self.by_thread.items()
                     if now - k.last_used > self.idle_timeout and not k.lock.locked()]
            for thread_id, _ in stale:
                self.by_thread.pop(thread_id)
        for _, kernel in stale:
            kernel.shutdown()
        return len(stale)

    def close(self) -> None:
        with self.lock:
            self._closed = True
            kernels = [*self.by_thread.values(), *self.ready]
            self.by_thread.clear()
            self.ready.clear()
        for kernel in kernels:
            kernel.shutdown()
        shutil.rmtree(self.pool_dir, ignore_errors=True)
        self.launcher.close()
        self.context.term()
