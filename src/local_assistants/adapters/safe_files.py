"""File operations the server does, as root, in a folder sandboxed code can write.

Code may still be running while the server works there (a thread started by an
earlier execution), so any name can become a link, a FIFO or a directory
between two calls.  Every operation here therefore works relative to a
descriptor of the folder, never follows a link at any step, never blocks on a
special file, and re-checks what it opened through the descriptor itself:

- ``put_file`` writes a fresh file under a new temporary name (``O_EXCL``: a
  link there is refused, not followed), gives it to the sandbox uid through its
  descriptor, and renames it over the target name: a link at the target is
  replaced, never written through.
- ``open_regular`` opens with ``O_NOFOLLOW | O_NONBLOCK`` and keeps the
  descriptor only if ``fstat`` says regular file: a FIFO neither blocks nor is read.
- ``chown_tree`` walks with directory descriptors (``os.fwalk``) and changes
  owners without following links.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import BinaryIO

_CHUNK = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC


class Folder:
    """A folder the sandbox can write, held open by descriptor."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.fd = os.open(self.path, _DIR_FLAGS)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> "Folder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------
    def lstat(self, name: str) -> os.stat_result | None:
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except OSError:
            return None

    def regular_files(self) -> dict[str, tuple[int, int]]:
        """Regular files directly in the folder (never through a link): name -> (mtime_ns, size)."""
        out = {}
        with os.scandir(self.fd) as entries:
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    out[entry.name] = (st.st_mtime_ns, st.st_size)
        return out

    def open_regular(self, name: str) -> tuple[BinaryIO, int] | None:
        """``name`` opened for reading, with its size, if it is a regular file now."""
        if not _plain_name(name):
            return None
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=self.fd)
        except OSError:
            return None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            return None
        return os.fdopen(fd, "rb"), st.st_size

    # -- writing ------------------------------------------------------------------
    def put_file(self, name: str, source: BinaryIO, *, uid: int | None) -> None:
        """Write ``source`` as ``name``; whatever is at ``name`` (a link included) is replaced,
        a directory is not (OSError)."""
        if not _plain_name(name):
            raise ValueError(f"not a plain file name: {name!r}")
        tmp, fd = self._create_temporary()
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(_CHUNK):
                    out.write(chunk)
                if uid is not None:
                    os.fchown(out.fileno(), uid, uid)
            os.rename(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=self.fd)
            except OSError:
                pass
            raise

    def _create_temporary(self) -> tuple[str, int]:
        for _ in range(16):
            tmp = f".incoming-{secrets.token_hex(8)}"
            try:
                return tmp, os.open(tmp, _CREATE_FLAGS, 0o644, dir_fd=self.fd)
            except FileExistsError:  # someone put something there: another name
                continue
        raise FileExistsError("no free temporary name in the folder")


def chown_tree(path: Path | str, uid: int) -> None:
    """Give everything below ``path`` (and itself) to ``uid``, following no link."""
    for _, dirnames, filenames, dir_fd in os.fwalk(path, follow_symlinks=False):
        for name in [*dirnames, *filenames]:
            try:
                os.chown(name, uid, uid, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                pass
    os.chown(path, uid, uid, follow_symlinks=False)


def _plain_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\0" not in name
