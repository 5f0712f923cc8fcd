"""The kernels' folders: a small mount per kernel slot, a disk image per thread.

Under the sandbox root::

    .slots/<uid>/          a tmpfs of 1 MiB / 64 inodes per live kernel (shared propagation)
        jupyter/           the kernel's connection file and sockets   -> /run/jupyter
        data/              where the thread's disk is mounted          -> /mnt/data
    .disks/<thread>.ext4   each thread's folder: a sparse ext4 image of THREAD_DISK_BYTES
    .envs/<uid block>/     the kernel's Python environment, read-only  -> /opt/kernel
    <thread>/              thread folders where no disk image can be made (no quota)

**The quota is the file system's size**: a thread's code that fills its
folder gets ENOSPC ("No space left on device") from the kernel, whatever it
writes and however fast, and the host disk holds at most the image.  (This
machine's kernel has no quota format for ext4 project quotas, hence one image
per thread.)

**A pooled kernel gets its folder later**: the slot is mounted ``shared``
before the kernel starts and bubblewrap binds ``data/`` as a slave, so the
thread's disk, mounted on ``data/`` by the host when a thread takes the kernel,
appears at ``/mnt/data`` inside.  The kernel then changes into it.

**Several runtimes may share a root** (a server and a script on one home): each
owns only the slots of its block of uids (see ``uid_lease``) and its own
environment overlay, and cleans only those at start, so it never unmounts a live
runtime's kernels' folders.

**No host path shows inside**: each bind's source is the root (or a child) of a
file system of its own, so ``/proc/self/mountinfo`` shows ``/`` or ``/data``
where a plain bind would show the host path; the environment is an overlay
whose layers are named ``/proc/self/fd/N``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .safe_files import chown_tree
from .sandbox import CHAIN_ENV, env_root

log = logging.getLogger(__name__)

THREAD_DISK_BYTES = 512 << 20
"""Size of each thread's folder (its quota): the sum of every file in /mnt/data."""
THREAD_DISK_INODES = 8192
"""Files and folders a thread's folder can hold."""
SLOT_BYTES = 1 << 20
SLOT_INODES = 64

_THREAD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class WorkspaceError(RuntimeError):
    pass


@dataclass
class Slot:
    """One kernel's mounts: ``conn`` (/run/jupyter) and ``data`` (/mnt/data)."""

    uid: int
    path: Path
    conn: Path
    data: Path
    thread_id: str | None = None
    disk: Path | None = None  # the image mounted on data, if any
    mounted: bool = False


MAX_SOCKET_PATH = 100
"""A Unix socket path holds 107 bytes; kept a little shorter."""
_LONGEST_SOCKET = "/4294967295/jupyter/k-9999"  # <uid>/jupyter/<a kernel's socket>


class Workspaces:
    def __init__(self, root: Path, *, sandboxed: bool, uids: range, disk_bytes: int = THREAD_DISK_BYTES,
                 disk_inodes: int = THREAD_DISK_INODES):
        """``uids``: this runtime's block (its lease); their slots and its environment
        overlay are its own, everything else under ``root`` may be another runtime's."""
        self.root = Path(root)
        self.uids = uids
        self.sandboxed = sandboxed
        self.disk_bytes = disk_bytes
        self.disk_inodes = disk_inodes
        self._lock = threading.Lock()
        self._images: bool | None = None  # whether disk images work here (found at first use)
        self._env: Path | None = None

    @property
    def slots_dir(self) -> Path:
        """``ROOT/.slots``, unless its kernels' sockets would not fit a Unix socket path (108
        bytes: a deep root, such as the shared root of a private home, gave "File name too
        long"); then a short folder of this root's own under /run (or the temporary folder)."""
        here = self.root / ".slots"
        if len(str(here)) + len(_LONGEST_SOCKET) <= MAX_SOCKET_PATH:
            return here
        base = Path("/run") if os.geteuid() == 0 and Path("/run").is_dir() else Path(tempfile.gettempdir())
        return base / "local-assistants-slots" / hashlib.sha256(str(self.root).encode()).hexdigest()[:12]

    @property
    def disks_dir(self) -> Path:
        return self.root / ".disks"

    @property
    def env_mount(self) -> Path:
        return self.root / ".envs" / str(self.uids.start)

    def disk_image(self, thread_id: str) -> Path:
        return self.disks_dir / f"{_thread_name(thread_id)}.ext4"

    def plain_folder(self, thread_id: str) -> Path:
        return self.root / _thread_name(thread_id)

    @property
    def quota(self) -> tuple[int, int] | None:
        """(bytes, files) of a thread's folder when a quota holds here."""
        return (self.disk_bytes, self.disk_inodes) if self._images else None

    # -- start and end ------------------------------------------------------------
    def clean_stale(self) -> None:
        """What a dead runtime left with this block of uids (its slots' mounts, its
        environment overlay): unmounted and removed.  Nothing else under the root is
        touched: another live runtime may be using it."""
        self.root.mkdir(parents=True, exist_ok=True)
        own = [(self.slots_dir / str(uid)).absolute() for uid in self.uids] + [self.env_mount.absolute()]
        stale = [m for m in _mounts_below(self.root) + _mounts_below(self.slots_dir)
                 if any(m == place or place in m.parents for place in own)]
        for mount_point in sorted(set(stale), key=lambda p: -len(str(p))):
            _umount(mount_point)
        for place in own:
            shutil.rmtree(place, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            if self._env is not None and self._env == self.env_mount:
                _umount(self.env_mount)
            self._env = None

    # -- the kernel's environment -------------------------------------------------
    def kernel_env(self, kernel_python: Path) -> Path:
        """What to bind at /opt/kernel: a read-only overlay of the environment, so that
        its host path does not show inside; the environment itself if that fails."""
        with self._lock:
            if self._env is None:
                self._env = self._mount_env(env_root(kernel_python)) if self.sandboxed else env_root(kernel_python)
            return self._env

    def _mount_env(self, env: Path) -> Path:
        target = self.env_mount
        empty = self.root / ".empty"
        try:
            target.mkdir(parents=True, exist_ok=True)
            empty.mkdir(exist_ok=True)
            lower = os.open(env, os.O_RDONLY | os.O_DIRECTORY)
            other = os.open(empty, os.O_RDONLY | os.O_DIRECTORY)
            try:
                _run(["mount", "-t", "overlay", "kernel-env", "-o",
                      f"ro,nosuid,nodev,lowerdir=/proc/self/fd/{lower}:/proc/self/fd/{other}", str(target)],
                     pass_fds=(lower, other))
            finally:
                os.close(lower)
                os.close(other)
            return target
        except (OSError, WorkspaceError) as err:
            log.warning("the kernel environment is bound as it is (its host path shows in the sandbox): %s", err)
            return env

    # -- slots ----------------------------------------------------------------------
    def open_slot(self, uid: int) -> Slot:
        path = self.slots_dir / str(uid)
        slot = Slot(uid=uid, path=path, conn=path / "jupyter", data=path / "data")
        if not self.sandboxed:
            path.mkdir(parents=True, exist_ok=True)
            return slot
        self.slots_dir.mkdir(parents=True, exist_ok=True)
        for folder in (self.slots_dir, self.slots_dir.parent):  # the sandbox uid passes through both
            if folder != self.root:
                os.chmod(folder, 0o711)
        if path.is_mount():
            _umount(path)
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir()
        _run(["mount", "-t", "tmpfs", "-o", f"size={SLOT_BYTES},nr_inodes={SLOT_INODES},mode=0711,nosuid,nodev",
              "kernel-slot", str(path)])
        slot.mounted = True
        try:
            _run(["mount", "--make-shared", str(path)])
            slot.data.mkdir(mode=0o755)
            slot.conn.mkdir(mode=0o700)
        except BaseException:
            self.close_slot(slot)
            raise
        return slot

    def attach(self, slot: Slot, thread_id: str) -> None:
        """The thread's folder at ``slot.data``, owned by the slot's uid."""
        if slot.thread_id is not None:
            raise WorkspaceError(f"slot {slot.uid} already holds thread {slot.thread_id}")
        if not self.sandboxed:
            slot.data = self.plain_folder(thread_id)
            slot.data.mkdir(parents=True, exist_ok=True)
            slot.thread_id = thread_id
            return
        if self._images is not False:
            try:
                image = self._image_for(thread_id)
                self._mount_image(image, slot.data)
                slot.disk = image
                self._images = True
            except WorkspaceError as err:
                if self._images:
                    raise
                log.warning("thread folders are plain folders here, without a quota: %s", err)
                self._images = False
        if slot.disk is None:
            folder = self.plain_folder(thread_id)
            folder.mkdir(parents=True, exist_ok=True)
            _run(["mount", "--bind", str(folder), str(slot.data)])
        slot.thread_id = thread_id
        chown_tree(slot.data, slot.uid)

    def detach(self, slot: Slot) -> None:
        if slot.thread_id is None:
            return
        if self.sandboxed:
            _umount(slot.data)
        slot.thread_id = None
        slot.disk = None
        if not self.sandboxed:
            slot.data = slot.path / "data"

    def close_slot(self, slot: Slot) -> None:
        self.detach(slot)
        if slot.mounted:
            _umount(slot.path)
            slot.mounted = False
        shutil.rmtree(slot.path, ignore_errors=True)

    def forget(self, thread_id: str) -> None:
        """Delete a thread's folder (its disk image, or its plain folder); detach it first."""
        try:
            self.disk_image(thread_id).unlink(missing_ok=True)
            shutil.rmtree(self.plain_folder(thread_id), ignore_errors=True)  # fd-based: follows no link
        except WorkspaceError:  # not a thread id: nothing of it here
            pass

    def usage(self, slot: Slot) -> tuple[int, int] | None:
        """(bytes, files) free in the slot's folder when it is a disk of its own."""
        if slot.disk is None:
            return None
        st = os.statvfs(slot.data)
        return st.f_bavail * st.f_frsize, st.f_favail

    # -- disk images ------------------------------------------------------------------
    def _image_for(self, thread_id: str) -> Path:
        image = self.disk_image(thread_id)
        if image.exists():
            return image
        self.disks_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.disks_dir, 0o700)
        tmp = image.with_name(f".{image.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            with open(tmp, "wb") as f:
                f.truncate(self.disk_bytes)
            _run(["mkfs.ext4", "-q", "-F", "-m", "0", "-N", str(self.disk_inodes), "-J", "size=4",
                  "-E", "nodiscard,lazy_itable_init=0,lazy_journal_init=0,root_owner=0:0", str(tmp)])
            os.replace(tmp, image)
        finally:
            tmp.unlink(missing_ok=True)
        return image

    def _mount_image(self, image: Path, target: Path) -> None:
        deadline = time.monotonic() + 10
        while _loop_in_use(image):  # mounted twice, an ext4 image is ruined
            if time.monotonic() > deadline:
                raise WorkspaceError(f"the disk {image.name} is still in use")
            time.sleep(0.1)
        _run(["mount", "-t", "ext4", "-o", "loop,nosuid,nodev,noatime,discard", str(image), str(target)])
        lost = target / "lost+found"
        if lost.is_dir() and not lost.is_symlink():
            try:
                lost.rmdir()
            except OSError:
                pass


def check_mounts(probe_dir: Path) -> str | None:
    """None when the server can mount the kernels' slots here; otherwise why not."""
    target = Path(probe_dir) / "mount-probe"
    try:
        target.mkdir(parents=True, exist_ok=True)
        _run(["mount", "-t", "tmpfs", "-o", "size=4k,nr_inodes=4", "kernel-probe", str(target)])
        _umount(target)
        return None
    except (OSError, WorkspaceError) as err:
        return f"The code interpreter mounts a small folder per kernel, which failed here: {err}"


def _thread_name(thread_id: str) -> str:
    if not _THREAD_NAME.fullmatch(thread_id):  # match: "$" let a trailing newline through
        raise WorkspaceError(f"not a thread id: {thread_id!r}")
    return thread_id


def _run(cmd: list[str], pass_fds: tuple[int, ...] = ()) -> None:
    try:
        done = subprocess.run(cmd, env=dict(CHAIN_ENV), capture_output=True, pass_fds=pass_fds, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise WorkspaceError(f"{cmd[0]} failed: {err}") from err
    if done.returncode != 0:
        raise WorkspaceError(f"{' '.join(cmd[:3])} failed: {done.stderr.decode(errors='replace').strip()[:300]}")


def _umount(path: Path) -> None:
    """Unmount, lazily if busy (the last process of a killed kernel may still be going)."""
    subprocess.run(["umount", "-l", str(path)], env=dict(CHAIN_ENV), capture_output=True, timeout=60)


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _mounts_below(root: Path) -> list[Path]:
    prefix = str(root.absolute()).rstrip("/") + "/"
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        parts = line.split()
        if len(parts) > 4:
            point = _unescape(parts[4])
            if point.startswith(prefix):
                found.append(Path(point))
    return found


def _loop_in_use(image: Path) -> bool:
    real = os.path.realpath(image)
    for backing in Path("/sys/block").glob("loop*/loop/backing_file"):
        try:
            name = backing.read_text().strip()
        except OSError:
            continue
        if name == real or name == f"{real} (deleted)":
            return True
    return False
