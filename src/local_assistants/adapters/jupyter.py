"""Sandboxed Jupyter kernels (jupyter_client + ipykernel), one per thread.

``SandboxedKernel`` is one kernel process started through the sandbox command,
spoken to over the ``ipc`` transport (TCP loopback cannot cross the network
namespace).  Interrupts are *messages* on the control channel: a signal would
hit the sandbox wrapper and kill the kernel.  Every message the kernel sends
is read through ``kernel_output`` (bounded, validated), never trusted.

``KernelPool`` keeps a few kernels started ahead of need.  Each kernel has a
slot (``workspace.Slot``: a uid and its small mount); a thread taking a pooled
kernel gets its folder (its disk) mounted into the slot, which the running
sandbox sees at ``/mnt/data``, so no kernel start is waited for.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
import queue
from collections import OrderedDict
from pathlib import Path

import zmq
from jupyter_client.blocking.client import BlockingKernelClient

from . import kernel_output
from .kernel_output import Execution, ExecutionOutput, receive
from .sandbox import CONN_DIR, DATA_DIR, CpuGroup, SandboxSpec, restore_priority
from .uid_lease import UidLease
from .workspace import THREAD_DISK_BYTES, THREAD_DISK_INODES, Slot, Workspaces

log = logging.getLogger(__name__)

__all__ = ["Execution", "KernelPool", "SandboxedKernel", "processes_of"]

STALE_DRAIN_MESSAGES = 10_000
"""Messages sent between executions that are read and dropped before the next one, at most."""
_NO_PARENT = "-"  # matches no message: what is drained is dropped unparsed


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
    def __init__(self, spec: SandboxSpec, *, slot: Slot, context: zmq.Context, env_dir: Path | None = None,
                 launcher: ProcessLauncher | None = None, cpu_group: CpuGroup | None = None):
        self.spec = spec
        self.slot = slot
        self.uid = slot.uid
        self.env_dir = env_dir
        self.launcher = launcher
        self.cpu_group = cpu_group
        self.context = context
        self.proc: subprocess.Popen | None = None
        self.client: BlockingKernelClient | None = None
        self.last_used = time.monotonic()
        self.lock = threading.Lock()
        self.started = False
        self.settled = threading.Event()  # set once start() has succeeded or failed

    @property
    def workdir(self) -> Path:
        """The thread's folder as the server sees it."""
        return self.slot.data

    @property
    def conn_dir(self) -> Path:
        return self.slot.conn

    # -- life -----------------------------------------------------------------
    def start(self, ready_timeout: float = 60) -> "SandboxedKernel":
        try:
            return self._start(ready_timeout)
        finally:
            self.settled.set()

    def _start(self, ready_timeout: float) -> "SandboxedKernel":
        self.settled.clear()
        sandboxed = not self.spec.unsafe
        self._fresh_conn_dir()
        self.workdir.mkdir(parents=True, exist_ok=True)
        info = {"transport": "ipc", "ip": f"{CONN_DIR}/k" if sandboxed else str(self.conn_dir / "k"),
                "shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5,
                "key": os.urandom(16).hex(), "signature_scheme": "hmac-sha256", "kernel_name": ""}
        conn_file = self.conn_dir / "kernel.json"
        fd = os.open(conn_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(info, f)
            if sandboxed:
                os.fchown(f.fileno(), self.uid, self.uid)
        if sandboxed:
            os.chown(self.conn_dir, self.uid, self.uid)
        inside_conn = f"{CONN_DIR}/kernel.json" if sandboxed else str(conn_file)
        argv = [self.spec.kernel_python_inside(), "-m", "ipykernel_launcher", "-f", inside_conn,
                "--IPKernelApp.quiet=True", "--HistoryManager.enabled=False",
                f"--IPKernelApp.exec_lines={json.dumps([_startup_line()])}"]
        launch = self.spec.launch(argv, uid=self.uid, workdir=self.workdir, conn_dir=self.conn_dir,
                                  env_dir=self.env_dir)
        popen = self.launcher.popen if self.launcher is not None else subprocess.Popen
        try:
            self.proc = popen(launch.cmd, env=launch.env, pass_fds=launch.fds, cwd=launch.cwd,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
        finally:
            launch.close()
        client = BlockingKernelClient(context=self.context)
        client.load_connection_info({**info, "ip": str(self.conn_dir / "k"), "key": info["key"].encode()})
        client.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=True)
        self.client = client
        try:
            self._wait_ready(ready_timeout)
        except RuntimeError:
            self.shutdown()
            raise
        if sandboxed and self.cpu_group is not None:
            # No code has run yet: every process of the sandbox is here, and later ones inherit.
            self.cpu_group.add(processes_of(self.uid))
        self.started = True
        return self

    def _fresh_conn_dir(self) -> None:
        if self.conn_dir.exists():
            shutil.rmtree(self.conn_dir)
        self.conn_dir.mkdir(parents=True, mode=0o700)

    def _wait_ready(self, timeout: float) -> None:
        """A kernel_info reply on shell and a message on iopub (it is connected), read bounded."""
        deadline = time.monotonic() + timeout
        iopub_seen = False
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError("the sandboxed kernel did not start: it exited")
            msg_id = self.client.kernel_info()
            until = time.monotonic() + 1
            replied = False
            while time.monotonic() < until:
                msg = receive(self.client.shell_channel.socket, self.client.session, 0.1)
                if msg and msg.kind == "kernel_info_reply" and msg.parent_id == msg_id:
                    replied = True
                    break
            while not iopub_seen:
                msg = receive(self.client.iopub_channel.socket, self.client.session, 0.2)
                if msg is None:
                    break
                iopub_seen = bool(msg.kind)
            if replied and iopub_seen:
                return
        raise RuntimeError(f"the sandboxed kernel did not start within {timeout:.0f} s")

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
            if not self.spec.unsafe:
                doomed = processes_of(self.uid)
                if self.cpu_group is not None:
                    self.cpu_group.release(doomed)
                restore_priority(doomed)
            try:
                # The whole chain (nice -> setpriv -> prlimit -> bwrap) is one process group;
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

    def enter_workdir(self, timeout: float = 30) -> None:
        """Change the kernel into /mnt/data: a pooled kernel started before its thread's folder
        was mounted there, and its working directory is still the empty one below."""
        where = DATA_DIR if not self.spec.unsafe else str(self.workdir)
        with self.lock:
            self._drain_stale()
            msg_id = self.client.execute(f"__import__('os').chdir({where!r})", silent=True, store_history=False)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.alive():
                msg = receive(self.client.shell_channel.socket, self.client.session, 0.2)
                if msg and msg.kind == "execute_reply" and msg.parent_id == msg_id:
                    if msg.content.get("status") != "ok":
                        break
                    return
            raise RuntimeError("the kernel could not enter its folder")

    # -- code -------------------------------------------------------------------
    def execute(self, code: str, *, timeout: float = 60.0, max_output: int = kernel_output.STREAM_CHARS,
                flood_limit: int = kernel_output.FLOOD_CHARS, grace: float = 3.0) -> Execution:
        """Run ``code``; on a timeout: interrupt, wait ``grace``, then restart the kernel."""
        with self.lock:
            self.last_used = time.monotonic()
            self._drain_stale()
            output = ExecutionOutput(max_output)
            result = output.result
            client = self.client
            msg_id = client.execute(code, store_history=True, allow_stdin=False, stop_on_error=True)
            deadline = time.monotonic() + timeout
            interrupted_at: float | None = None
            while True:
                now = time.monotonic()
                flooding = output.printed > flood_limit or output.received > kernel_output.FLOOD_BYTES
                if interrupted_at is None and (now >= deadline or flooding):
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
                msg = receive(client.iopub_channel.socket, client.session, 0.2, parent_id=msg_id)
                if msg is None or msg.parent_id != msg_id:
                    continue  # nothing yet, or from an earlier execution's threads, or malformed
                output.received += msg.size
                if output.add(msg):
                    break
            if not result.reset:
                self._drain_shell(msg_id)
            self.last_used = time.monotonic()
            return output.finish()

    def _drain_stale(self) -> None:
        """Drop what the kernel sent since the last execution (bounded: a kernel that never
        stops sending gets caught by the flood limit of the next execution)."""
        for socket in (self.client.iopub_channel.socket, self.client.shell_channel.socket):
            for _ in range(STALE_DRAIN_MESSAGES):
                if receive(socket, self.client.session, 0, parent_id=_NO_PARENT) is None:
                    break

    def _drain_shell(self, msg_id: str) -> None:
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            msg = receive(self.client.shell_channel.socket, self.client.session, 0.2)
            if msg and msg.parent_id == msg_id:
                return

    def _restart(self) -> None:
        self.shutdown()
        self.start()


def _startup_line() -> str:
    """The kernel's start-up code as one line that leaves no name in the user's namespace."""
    return f"exec({kernel_output.KERNEL_STARTUP!r}, {{'get_ipython': get_ipython}})"


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
                 idle_timeout: float = 3600, uid_base: int = 61000, disk_bytes: int = THREAD_DISK_BYTES,
                 disk_inodes: int = THREAD_DISK_INODES):
        self.spec = spec
        self.root = Path(root)
        self.pool_size = pool_size
        self.max_kernels = max_kernels
        self.idle_timeout = idle_timeout
        # A block of uids of this pool's own (another runtime may run beside it): its kernels'
        # (live, pre-started, and one being freed), and the last for the sandbox probe.
        self.lease = UidLease.acquire(uid_base, max_kernels + pool_size + 2)
        self.uids = list(self.lease.uids)[:-1]
        self.probe_uid = self.lease.uids[-1]
        self._slot_uids: set[int] = set()
        """Uids whose slot is open: handed out, and not yet closed by ``_drop`` (a kernel
        dropped outside the lock still holds its slot until then)."""
        self.workspaces = Workspaces(self.root, sandboxed=not spec.unsafe, uids=self.lease.uids,
                                     disk_bytes=disk_bytes, disk_inodes=disk_inodes)
        self.context = zmq.Context()
        kernel_output.configure(self.context)
        self.launcher = ProcessLauncher()
        self.lock = threading.RLock()
        self.by_thread: OrderedDict[str, SandboxedKernel] = OrderedDict()
        self.ready: list[SandboxedKernel] = []
        self._closed = False
        self._refilling = False
        self._cpu_group: CpuGroup | None | bool = False  # made at the first kernel
        self.clean_stale()

    def clean_stale(self) -> None:
        """Mounts, connection files and sockets left by a previous process."""
        self.workspaces.clean_stale()

    @property
    def probe_dir(self) -> Path:
        """Where this pool checks that the sandbox runs (its own: other runtimes probe too)."""
        return self.root / ".probe" / str(self.probe_uid)

    # -- kernels ----------------------------------------------------------------
    def _free_uid(self) -> int:
        """A uid no live kernel has and whose slot is closed, the least recently handed out
        first. (Reusing a uid whose slot a dropping kernel had not closed yet let that close
        unmount the new kernel's slot: "mount point does not exist".)"""
        with self.lock:
            used = {k.uid for k in [*self.by_thread.values(), *self.ready]} | self._slot_uids
            uid = next((u for u in self.uids if u not in used), None)
            if uid is None:
                raise RuntimeError("every code-interpreter kernel uid is in use or still being freed; try again")
            self.uids.remove(uid)
            self.uids.append(uid)
            self._slot_uids.add(uid)
            return uid

    def _new_kernel(self) -> SandboxedKernel:
        if self._cpu_group is False:
            self._cpu_group = CpuGroup.create() if not self.spec.unsafe else None
        uid = self._free_uid()
        try:
            slot = self.workspaces.open_slot(uid)
        except BaseException:
            with self.lock:
                self._slot_uids.discard(uid)
            raise
        env_dir = self.workspaces.kernel_env(self.spec.kernel_python) if not self.spec.unsafe else None
        return SandboxedKernel(self.spec, slot=slot, context=self.context, env_dir=env_dir,
                               launcher=self.launcher, cpu_group=self._cpu_group or None)

    def _drop(self, kernel: SandboxedKernel) -> None:
        try:
            kernel.shutdown()
            self.workspaces.close_slot(kernel.slot)
        finally:
            with self.lock:
                self._slot_uids.discard(kernel.slot.uid)

    def warm(self) -> None:
        """Start pooled kernels until the pool is full (call from a background thread)."""
        while True:
            with self.lock:
                if self._closed or len(self.ready) >= self.pool_size:
                    self._refilling = False
                    return
                try:
                    self._make_room()  # an idle thread's kernel gives way to the pool
                    kernel = self._new_kernel()
                except Exception:  # every kernel is busy, or no slot: no pre-started one for now
                    log.debug("no pre-started kernel for now", exc_info=True)
                    self._refilling = False
                    return
                self.ready.append(kernel)  # reserve its uid while it starts
            try:
                kernel.start()
            except Exception:
                if not self._closed:  # a pool closing meanwhile ends its starts
                    log.exception("could not pre-start a kernel")
                with self.lock:
                    if kernel in self.ready:
                        self.ready.remove(kernel)
                    self._refilling = False
                self._drop(kernel)
                return
            with self.lock:
                if self._closed:
                    self._drop(kernel)
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
                self._drop(kernel)
            self._make_room()
            pooled = next((k for k in self.ready if k.started and k.alive()), None)
            if pooled is not None:
                self.ready.remove(pooled)
                kernel = pooled
            else:
                kernel = self._new_kernel()
            self.by_thread[thread_id] = kernel  # reserve the uid while it gets ready
        try:
            self.workspaces.attach(kernel.slot, thread_id)
            if pooled is not None:
                kernel.enter_workdir()
            else:
                kernel.start()
        except Exception:
            with self.lock:
                if self.by_thread.get(thread_id) is kernel:
                    self.by_thread.pop(thread_id)
            self._drop(kernel)
            raise
        with self.lock:
            self.by_thread[thread_id] = kernel
            self.by_thread.move_to_end(thread_id)
        self.refill_in_background()
        return kernel, True

    def _make_room(self) -> None:
        while self._live() >= self.max_kernels + self.pool_size and self.by_thread:
            idle = [(t, k) for t, k in self.by_thread.items() if not k.lock.locked() and k.started]
            if not idle:
                raise RuntimeError(f"all {self.max_kernels} code-interpreter kernels are busy")
            thread_id, kernel = idle[0]  # least recently used
            self.by_thread.pop(thread_id)
            self._drop(kernel)

    def restart(self, thread_id: str) -> None:
        with self.lock:
            kernel = self.by_thread.pop(thread_id, None)
        if kernel is not None:
            self._drop(kernel)

    def forget(self, thread_id: str) -> None:
        """End the thread's kernel and delete its folder (e.g. when the thread is deleted)."""
        self.restart(thread_id)
        self.workspaces.forget(thread_id)

    def busy(self, thread_id: str) -> bool:
        """Whether the key's kernel is in use now (running code, or the server in its folder)."""
        with self.lock:
            kernel = self.by_thread.get(thread_id)
        return kernel is not None and kernel.lock.locked()

    def reap_idle(self) -> int:
        now = time.monotonic()
        with self.lock:
            stale = [(t, k) for t, k in self.by_thread.items()
                     if now - k.last_used > self.idle_timeout and not k.lock.locked() and k.started]
            for thread_id, _ in stale:
                self.by_thread.pop(thread_id)
        for _, kernel in stale:
            self._drop(kernel)
        return len(stale)

    def free_space(self, kernel: SandboxedKernel) -> tuple[int, int] | None:
        """(bytes, files) still free in the kernel's folder, where it has a quota."""
        return self.workspaces.usage(kernel.slot)

    @property
    def quota(self) -> tuple[int, int] | None:
        return self.workspaces.quota

    def close(self) -> None:
        with self.lock:
            self._closed = True
            kernels = [*self.by_thread.values(), *self.ready]
            self.by_thread.clear()
            self.ready.clear()
        for kernel in kernels:
            try:
                self._drop(kernel)
            except Exception:
                log.exception("could not stop a kernel")
        self.workspaces.close()
        self.launcher.close()
        self.lease.release()
        # destroy, not term: term waits for every socket to be closed, and a kernel that a
        # refill thread was still starting when the pool closed may have opened one after
        # its drop (a closing server then hung in term).
        self.context.destroy(linger=0)
