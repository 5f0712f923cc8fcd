"""Blocks of sandbox uids, each held by one live runtime.

Several runtimes may run on one machine and one home at once: ``local-assistants
serve`` beside a script's ``LocalAssistants()``, the tutor benchmark beside the tests.
Their kernels must never share a uid (a uid's processes are counted, waited for and
reprioritised together), and what a runtime cleans up at start (its slots' mounts,
its environment overlay) must be only what a dead runtime left, never what a live one
uses.  So each runtime takes a block of uids, ``uid_base + k * BLOCK`` onwards, by an
exclusive ``flock`` on that block's lock file; the kernel releases the lock when the
process ends, however it ends, so a block whose lock can be taken belongs to nobody
alive and everything named after its uids is stale.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

BLOCK = 128
"""Uids in a block: a runtime's kernels (live and pre-started) plus one for its probe."""
MAX_BLOCKS = 32
"""Runtimes at once on one machine (61000 + 32 x 128 stays below 65534, ``nobody``)."""


def lock_dir() -> Path:
    """Machine-wide, as uids are: under /run for root, else the temporary folder."""
    if os.geteuid() == 0 and Path("/run").is_dir():
        return Path("/run/local-assistants/uids")
    return Path(tempfile.gettempdir()) / f"local-assistants-uids-{os.geteuid()}"


class UidLease:
    """``size`` uids from ``base`` on, this process's until ``release`` (or its end)."""

    def __init__(self, base: int, size: int, fd: int | None):
        self.base = base
        self.size = size
        self._fd = fd

    @classmethod
    def acquire(cls, uid_base: int, size: int, folder: Path | None = None) -> "UidLease":
        if not 0 < size <= BLOCK:
            raise ValueError(f"{size} sandbox uids asked for (kernels, pre-started ones and a probe); a runtime "
                             f"has at most {BLOCK}: lower LOCAL_ASSISTANTS_MAX_KERNELS")
        folder = folder or lock_dir()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for k in range(MAX_BLOCKS):
            base = uid_base + k * BLOCK
            fd = os.open(folder / f"{base}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return cls(base, size, fd)
        raise RuntimeError(f"all {MAX_BLOCKS} blocks of sandbox uids are held by other running runtimes")

    @property
    def uids(self) -> range:
        return range(self.base, self.base + self.size)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "UidLease":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
