"""Blocks of sandbox uids: each runtime takes a block of its own by a lock file, and a block
is free again once its holder releases it or ends, however it ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from local_assistants.adapters import uid_lease
from local_assistants.adapters.uid_lease import BLOCK, UidLease


def test_each_runtime_takes_its_own_uid_block_and_a_closed_ones_is_free_again(tmp_path):
    from local_assistants.adapters.uid_lease import BLOCK, UidLease

    folder = tmp_path / "locks"
    a = UidLease.acquire(70000, 5, folder)
    b = UidLease.acquire(70000, 5, folder)
    assert (a.base, b.base) == (70000, 70000 + BLOCK) and list(a.uids) == list(range(70000, 70005))
    a.release()
    c = UidLease.acquire(70000, 5, folder)
    assert c.base == 70000
    with pytest.raises(ValueError):
        UidLease.acquire(70000, BLOCK + 1, folder)
    b.release()
    c.release()


def test_a_lease_is_released_by_its_context_and_by_release_only_once(tmp_path):
    with UidLease.acquire(70000, 3, tmp_path) as lease:
        assert lease.held and lease.uids == range(70000, 70003)
        with pytest.raises(ValueError):
            UidLease.acquire(70000, 0, tmp_path)  # a runtime needs at least its probe's uid
    assert not lease.held
    lease.release()  # again: nothing to do
    with UidLease.acquire(70000, 3, tmp_path) as again:
        assert again.base == 70000


def test_when_every_block_is_held_the_next_runtime_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(uid_lease, "MAX_BLOCKS", 2)
    held = [UidLease.acquire(70000, 1, tmp_path) for _ in range(2)]
    try:
        assert [h.base for h in held] == [70000, 70000 + BLOCK]
        with pytest.raises(RuntimeError, match="all 2 blocks"):
            UidLease.acquire(70000, 1, tmp_path)
    finally:
        for h in held:
            h.release()


def test_a_block_held_by_a_process_that_was_killed_is_free_again(tmp_path):
    """The kernel drops the lock with the process: a runtime killed with SIGKILL (no cleanup)
    leaves its block to the next one, and while it lives nobody else gets it."""
    src = Path(uid_lease.__file__).resolve().parents[2]
    code = ("import sys, time; from pathlib import Path; from local_assistants.adapters.uid_lease import UidLease; "
            f"lease = UidLease.acquire(70000, 4, Path({str(tmp_path)!r})); print(lease.base, flush=True); "
            "time.sleep(600)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])}
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "70000"
        with UidLease.acquire(70000, 4, tmp_path) as beside:
            assert beside.base == 70000 + BLOCK
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        with UidLease.acquire(70000, 4, tmp_path) as after:
            assert after.base == 70000
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        holder.stdout.close()
