"""The kernel pool on real sandboxed kernels: pre-started kernels survive the thread that
started them, are handed to threads with their folders, and are reaped and capped; and the
launcher and process lookup beneath them.  (What code run in a kernel cannot do is in
``tests/tools/test_sandbox_attacks.py``.)"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from conftest import KERNEL_PYTHON, SANDBOX_ROOT
from local_assistants.adapters.jupyter import KernelPool, ProcessLauncher, processes_of
from local_assistants.adapters.sandbox import SandboxSpec


@pytest.fixture
def pool(tmp_path):
    p = KernelPool(SandboxSpec(kernel_python=KERNEL_PYTHON), SANDBOX_ROOT / f"pool-{tmp_path.name}",
                   pool_size=1, max_kernels=2, idle_timeout=3600)
    yield p
    p.close()


def _wait_pooled(pool):
    deadline = time.monotonic() + 30
    while not any(k.started for k in pool.ready):
        assert time.monotonic() < deadline, "no kernel was pre-started"
        time.sleep(0.05)
    return next(k for k in pool.ready if k.started)


def test_a_kernel_started_by_a_background_refill_outlives_that_thread(pool):
    pool.refill_in_background()
    pooled = _wait_pooled(pool)
    time.sleep(0.5)  # the refill thread has ended by now
    assert pooled.alive()
    kernel, new = pool.kernel_for("thread_a")
    assert kernel is pooled and new
    assert kernel.execute("print(1+1)").logs == "2"


def test_a_pooled_kernel_gets_the_threads_existing_files(pool):
    first, _ = pool.kernel_for("thread_b")
    first.execute("open('/mnt/data/data.txt', 'w').write('hello')")
    pool.restart("thread_b")  # its kernel is gone; its folder (its disk) stays
    pool.refill_in_background()
    pooled = _wait_pooled(pool)
    kernel, _ = pool.kernel_for("thread_b")
    assert kernel is pooled and kernel.uid != first.uid
    assert kernel.execute("open('data.txt').read()").logs == "'hello'"  # its working folder too
    assert kernel.execute("import os; os.stat('/mnt/data/data.txt').st_uid == os.getuid()").logs == "True"


def test_the_same_thread_keeps_its_kernel_and_state(pool):
    kernel, new = pool.kernel_for("thread_c")
    kernel.execute("x = 5")
    again, new_again = pool.kernel_for("thread_c")
    assert again is kernel and new and not new_again
    assert again.execute("x").logs == "5"


def test_idle_kernels_are_reaped_and_the_cap_evicts_the_least_recently_used(pool):
    a, _ = pool.kernel_for("thread_1")
    b, _ = pool.kernel_for("thread_2")
    c, _ = pool.kernel_for("thread_3")  # over the cap (2 + 1 pooled): the oldest gives way
    live = {k.uid for k in [*pool.by_thread.values(), *pool.ready] if k.alive()}
    assert len(pool.by_thread) <= 3 and not a.alive() and c.alive() and c.uid in live
    pool.idle_timeout = 0
    time.sleep(0.01)
    assert pool.reap_idle() >= 1
    assert not b.alive()


def test_kernels_run_under_a_sandbox_root_too_deep_for_a_socket_path(tmp_path):
    """A Unix socket path holds 107 bytes: under a deep root (a private home's shared root
    is one) the kernels' sockets go to a short folder of that root's own."""
    deep = SANDBOX_ROOT / f"deep-{tmp_path.name}" / ("d" * 60)
    p = KernelPool(SandboxSpec(kernel_python=KERNEL_PYTHON), deep, pool_size=0, max_kernels=1, idle_timeout=3600)
    try:
        assert len(str(deep / ".slots" / "61000" / "jupyter" / "k-2")) > 107
        assert not str(p.workspaces.slots_dir).startswith(str(deep))
        kernel, _ = p.kernel_for("thread_deep")
        assert kernel.execute("print(6 * 7)").logs == "42"
    finally:
        p.close()


def test_runtimes_sharing_a_root_or_nested_in_it_never_break_each_others_kernels(tmp_path):
    """A server and a script on one home (or a benchmark under the server's root) run at
    once: each has its own uids, and starting or closing one leaves the other's kernels,
    folders and environment alone (a second runtime's start-up cleaning once unmounted
    every mount under its root: "mount point does not exist", "the kernel exited")."""
    spec = SandboxSpec(kernel_python=KERNEL_PYTHON)
    outer = SANDBOX_ROOT / f"shared-{tmp_path.name}"
    first = KernelPool(spec, outer / "inner", pool_size=0, max_kernels=1)
    try:
        kernel, _ = first.kernel_for("thread_first")
        assert kernel.execute("open('kept.txt', 'w').write('x'); print(6 * 7)").logs == "42"
        for root in (outer, outer / "inner"):  # a runtime at the parent root, then at the same root
            other = KernelPool(spec, root, pool_size=0, max_kernels=1)
            try:
                assert not set(other.uids) & set(first.uids) and other.probe_uid != first.probe_uid
                theirs, _ = other.kernel_for("thread_other")
                assert theirs.execute("print(1 + 1)").logs == "2"
            finally:
                other.close()
            assert kernel.alive() and kernel.execute("print(open('kept.txt').read())").logs == "x"
        again, fresh = first.kernel_for("thread_new")  # the first can still start kernels
        assert fresh and again.execute("print(3 * 3)").logs == "9"
    finally:
        first.close()


# A child that dies with the thread that started it, as bubblewrap's --die-with-parent does.
_DIES_WITH_PARENT = ("import ctypes, time; ctypes.CDLL(None).prctl(1, 9); print('ready', flush=True); "
                     "time.sleep(600)")  # PR_SET_PDEATHSIG, SIGKILL


def _start_from_a_short_lived_thread(popen):
    got = {}

    def short_lived():  # as a request handler or a pool refill would
        got["proc"] = popen([sys.executable, "-c", _DIES_WITH_PARENT], stdout=subprocess.PIPE, text=True)
        got["proc"].stdout.readline()

    caller = threading.Thread(target=short_lived)
    caller.start()
    caller.join()
    return got["proc"]


def test_the_launcher_starts_processes_that_outlive_the_thread_asking_for_them():
    plain = _start_from_a_short_lived_thread(subprocess.Popen)
    assert plain.wait(timeout=30) == -9  # what a kernel started so would suffer
    plain.stdout.close()
    launcher = ProcessLauncher()
    proc = _start_from_a_short_lived_thread(launcher.popen)
    try:
        time.sleep(0.5)
        assert proc.poll() is None
        with pytest.raises(FileNotFoundError):  # a failure is the caller's, and the launcher goes on
            launcher.popen(["/nonexistent/no-such-program"])
        assert launcher.popen(["true"]).wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        launcher.close()


def test_processes_of_a_uid_are_found_in_proc():
    assert os.getpid() in processes_of(os.getuid())
    assert processes_of(2_000_000_000) == []  # no process has it
