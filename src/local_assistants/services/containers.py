"""Containers (OpenAI's ``/v1/containers``): the code interpreter's named sandboxes and their files.

A container is a kernel and a folder keyed by the container's id instead of a thread's
(``tools.code_interpreter.kernel_key``): the same pool of sandboxed kernels, the same
per-key disk image.  Its files are what is in that folder: a user's upload (or an
uploaded file named by id) is written there, and every file a run's code writes there
(and every image it displays) is recorded as one of its files, ``source: "assistant"``.

**Idle containers expire**: a container whose ``last_active_at`` is older than its
``expires_after.minutes`` (20 by default) reads ``status: "expired"``, refuses runs and
new files (400), and ``expire_idle`` (housekeeping) ends its kernel and deletes its
folder and its files' rows.  Runs (``use``), code and new files keep it active.

**The folder is the sandbox's to write**, even while the server works in it, so every
file operation goes through ``adapters.safe_files`` (by descriptor, never through a
link, never blocking on a FIFO), under the kernel's lock (the pool never lends out or
drops a kernel whose lock is held, so its folder stays mounted meanwhile).  A file read
back is copied out bounded by the size it had when opened.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import threading
from contextlib import contextmanager
from typing import Any, BinaryIO, Callable, Iterator

from ..adapters.safe_files import Folder
from ..core import validation as v
from ..errors import InvalidRequestError, LocalAssistantsError, NotFoundError, PayloadTooLargeError
from ..ids import Clock, new_id, system_clock
from ..ports import ObjectStore, Page
from .base import ResourceService, deleted, list_query
from .files import FilesService

DEFAULT_MINUTES = 20
"""Idle minutes after which a container expires, unless its ``expires_after`` says otherwise."""
MAX_MINUTES = 7 * 24 * 60
MEMORY_LIMITS = ("1g", "4g", "16g", "64g")
DEFAULT_MEMORY_LIMIT = "1g"
MAX_FILE_IDS = 100
MAX_FILE_NAME_BYTES = 255
"""A file name in a container's folder (ext4's limit)."""
DATA_DIR = "/mnt/data"
AUTO_NAME = "auto"
_SPOOL_BYTES = 8 << 20
_CHUNK = 1 << 20
_PRIVATE = "_local"  # what a container file's row keeps beyond its API object


def _public(obj: dict) -> dict:
    return {k: val for k, val in obj.items() if k != _PRIVATE}


def _expires_after(value: Any) -> dict:
    if value is None:
        return {"anchor": "last_active_at", "minutes": DEFAULT_MINUTES}
    if not isinstance(value, dict):
        raise InvalidRequestError("Invalid type for 'expires_after': expected an object.", param="expires_after")
    v.refuse_unknown(value, {"anchor", "minutes"}, "expires_after")
    if value.get("anchor") != "last_active_at":
        raise InvalidRequestError("Invalid value for 'expires_after.anchor': expected 'last_active_at'.",
                                  param="expires_after.anchor")
    minutes = value.get("minutes")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_MINUTES:
        raise InvalidRequestError(f"Invalid 'expires_after.minutes': expected an integer from 1 to {MAX_MINUTES}.",
                                  param="expires_after.minutes")
    return {"anchor": "last_active_at", "minutes": minutes}


def _network_policy(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise InvalidRequestError("Invalid type for 'network_policy': expected an object.", param="network_policy")
    kind = v.enum(value.get("type"), "network_policy.type", ("disabled", "allowlist"))
    if kind is None:
        raise v.missing("network_policy.type")
    if kind == "allowlist":
        raise InvalidRequestError("This server runs offline: a container's network policy can only be "
                                  "'disabled'.", param="network_policy.type")
    v.refuse_unknown(value, {"type"}, "network_policy")


def file_name(filename: Any, param: str = "file") -> str:
    """The name a file takes in a container's folder: the last part of ``filename`` (a path
    never reaches outside the folder); refused when there is no plain name left."""
    if not isinstance(filename, str):
        raise InvalidRequestError(f"Invalid type for '{param}': expected a file name.", param=param)
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    if name in ("", ".", "..") or "\0" in name:
        raise InvalidRequestError(f"Invalid file name {filename[:100]!r}: expected a plain file name.", param=param)
    if len(name.encode("utf-8", "surrogatepass")) > MAX_FILE_NAME_BYTES:
        raise InvalidRequestError(f"Invalid file name: at most {MAX_FILE_NAME_BYTES} bytes.", param=param)
    return name


class _Counted:
    """A reader that counts what it gave and refuses to give more than ``limit`` bytes."""

    def __init__(self, src: BinaryIO, limit: int):
        self.src, self.limit, self.total = src, limit, 0

    def read(self, n: int = -1) -> bytes:
        data = self.src.read(n)
        self.total += len(data)
        if self.total > self.limit:
            raise PayloadTooLargeError(f"File is too large: the limit is {self.limit} bytes.", param="file")
        return data


class ContainersService(ResourceService):
    """Containers and their files.  ``kernels`` is the code interpreter's pool
    (``adapters.jupyter.KernelPool``: kernels and folders by key); ``availability`` says
    None when the sandbox can run, else why not."""

    table = "containers"
    noun = "container"
    files_table = "container_files"

    def __init__(self, store: ObjectStore, files: FilesService, kernels, clock: Clock = system_clock, *,
                 availability: Callable[[], str | None] = lambda: None):
        super().__init__(store, clock)
        self.files = files
        self.kernels = kernels
        self._availability = availability
        self._lock = threading.RLock()  # use/touch against expiry, and a thread's auto container

    # -- containers ------------------------------------------------------------------------
    def create(self, name: Any = None, file_ids: Any = None, expires_after: Any = None, memory_limit: Any = None,
               network_policy: Any = None, skills: Any = None) -> dict:
        name = v.text(name, "name", v.MAX_NAME, required=True)
        files = self._files(file_ids)
        obj = self._new(name, expires_after=_expires_after(expires_after),
                        memory_limit=v.enum(memory_limit, "memory_limit", MEMORY_LIMITS) or DEFAULT_MEMORY_LIMIT,
                        network_policy=network_policy, skills=skills)
        self._insert(obj, files)
        return self._view(obj)

    def _new(self, name: str, *, expires_after: dict, memory_limit: str, network_policy: Any = None,
             skills: Any = None) -> dict:
        _network_policy(network_policy)
        if skills is not None and not isinstance(skills, list):
            raise InvalidRequestError("Invalid type for 'skills': expected an array.", param="skills")
        if skills:
            raise InvalidRequestError("Skills are not available on this server.", param="skills")
        now = self.now()
        return {"id": new_id("container"), "object": "container", "created_at": now, "status": "running",
                "name": name, "expires_after": expires_after, "last_active_at": now,
                "memory_limit": memory_limit, "network_policy": {"type": "disabled"}}

    def _insert(self, obj: dict, files: list[dict], thread_id: str | None = None) -> None:
        self.store.insert(self.table, obj, thread_id=thread_id)
        if files:
            try:
                self._copy_in(obj["id"], files)
            except BaseException:
                self._remove(obj["id"])  # no half-made container
                raise

    def _files(self, file_ids: Any) -> list[dict]:
        if file_ids is None:
            return []
        if not isinstance(file_ids, list) or not all(isinstance(f, str) for f in file_ids):
            raise InvalidRequestError("Invalid type for 'file_ids': expected an array of strings.", param="file_ids")
        if len(file_ids) > MAX_FILE_IDS:
            raise InvalidRequestError(f"Invalid 'file_ids': at most {MAX_FILE_IDS} files.", param="file_ids")
        return [self.files.get(f) for f in dict.fromkeys(file_ids)]

    def retrieve(self, container_id: str) -> dict:
        return self._view(self.get(container_id))

    def list(self, *, limit: Any = 20, order: Any = "desc", after: str | None = None, before: str | None = None,
             name: str | None = None) -> Page:
        if name is None:
            page = self.list_page(limit=limit, order=order, after=after, before=before)
            return Page([self._view(c) for c in page.data], page.has_more)
        # No column holds the name: filtered here (a name filter is rare, containers few).
        query = list_query(limit, order, after, before)
        rows = [c for c in self.store.find(self.table) if c["name"] == name]
        if query.order == "desc":
            rows.reverse()
        ids = [c["id"] for c in rows]
        start, end = 0, len(rows)
        for cursor, param in ((query.after, "after"), (query.before, "before")):
            if cursor is not None and cursor not in ids:
                raise InvalidRequestError(f"Invalid '{param}': no container with id '{cursor}' in this list.",
                                          param=param)
        if query.after is not None:
            start = ids.index(query.after) + 1
        if query.before is not None:
            end = ids.index(query.before)
            if query.after is None:
                start = max(start, end - query.limit)
        chosen = rows[start:end][: query.limit]
        backwards = query.before is not None and query.after is None
        return Page([self._view(c) for c in chosen], start > 0 if backwards else start + len(chosen) < end)

    def delete(self, container_id: str) -> dict:
        self.get(container_id)
        self._remove(container_id)
        return deleted(container_id, "container.deleted")

    def _remove(self, container_id: str) -> None:
        self.kernels.forget(container_id)  # its kernel and its folder
        with self.store.transaction():
            self.store.delete_where(self.files_table, container_id=container_id)
            self.store.delete(self.table, container_id)

    # -- expiry and activity ---------------------------------------------------------------
    def expired(self, obj: dict) -> bool:
        if obj.get("status") == "expired":
            return True
        minutes = (obj.get("expires_after") or {}).get("minutes") or DEFAULT_MINUTES
        return self.now() - int(obj.get("last_active_at") or obj["created_at"]) > minutes * 60

    def _view(self, obj: dict) -> dict:
        return {**obj, "status": "expired"} if self.expired(obj) else obj

    def use(self, container_id: str) -> dict:
        """The container a run names, kept active: 404 if unknown, 400 if it has expired."""
        with self._lock:
            obj = self.get(container_id)
            if self.expired(obj):
                raise InvalidRequestError(f"Container {container_id} is expired. Create a new container.")
            self._touched(obj)
            return obj

    def touch(self, container_id: str) -> None:
        """Record activity (code ran): pushes the expiry back; nothing for an unknown or expired one."""
        with self._lock:
            obj = self.store.get(self.table, container_id)
            if obj is not None and not self.expired(obj):
                self._touched(obj)

    def _touched(self, obj: dict) -> None:
        now = self.now()
        if obj.get("last_active_at") != now:
            obj["last_active_at"] = now
            self.store.update(self.table, obj)

    def expire_idle(self) -> int:
        """Housekeeping: containers idle past their minutes are marked expired, their kernel
        ended, their folder and files' rows deleted; return how many."""
        ended = 0
        for obj in self.store.find(self.table):
            if obj.get("status") == "expired" or not self.expired(obj) or self.kernels.busy(obj["id"]):
                continue
            with self._lock:
                current = self.store.get(self.table, obj["id"])
                if current is None or current.get("status") == "expired" or not self.expired(current):
                    continue  # deleted, or used, meanwhile
                current["status"] = "expired"
                self.store.update(self.table, current)
            self.kernels.forget(obj["id"])
            self.store.delete_where(self.files_table, container_id=obj["id"])
            ended += 1
        return ended

    def for_thread(self, thread_id: str, file_ids: Any = None, memory_limit: Any = None) -> dict:
        """A thread's automatic container (``container: {"type": "auto", "file_ids": [...]}``):
        its running one (reused), else a new one; the files named are copied in (once)."""
        files = self._files(file_ids)
        limit = v.enum(memory_limit, "memory_limit", MEMORY_LIMITS)
        with self._lock:
            current = next((c for c in reversed(self.store.find(self.table, thread_id=thread_id))
                            if not self.expired(c)), None)
            if current is not None:
                self._touched(current)
            else:
                current = self._new(AUTO_NAME, expires_after=_expires_after(None),
                                    memory_limit=limit or DEFAULT_MEMORY_LIMIT)
                self.store.insert(self.table, current, thread_id=thread_id)
        placed = {(c.get(_PRIVATE) or {}).get("file_id")
                  for c in self.store.find(self.files_table, container_id=current["id"])}
        missing = [f for f in files if f["id"] not in placed]
        if missing:
            self._copy_in(current["id"], missing)
        return self._view(current)

    # -- container files ---------------------------------------------------------------------
    @contextmanager
    def _folder(self, container_id: str) -> Iterator[tuple[Folder, int | None]]:
        """The container's folder (its kernel started if need be) and the uid files there belong
        to, under the kernel's lock: the pool neither lends out nor drops a locked kernel."""
        why = self._availability()
        if why:
            raise LocalAssistantsError(why)
        for _ in range(3):
            kernel, _fresh = self.kernels.kernel_for(container_id)
            with kernel.lock:
                if kernel.slot.thread_id != container_id:
                    continue  # dropped between the two: another kernel
                with Folder(kernel.workdir) as folder:
                    yield folder, None if self.kernels.spec.unsafe else kernel.uid
                return
        raise InvalidRequestError(f"The container {container_id}'s folder could not be reached; try again.")

    def _copy_in(self, container_id: str, files: list[dict]) -> None:
        for obj in files:
            with self._stored(obj["id"]) as src:
                self._write(container_id, file_name(obj["filename"] or obj["id"], "file_ids"), src, file_id=obj["id"])

    @contextmanager
    def _stored(self, file_id: str) -> Iterator[BinaryIO]:
        """An uploaded (or stored output) file's bytes; 404 once it is deleted."""
        try:
            src = open(self.files.path(file_id), "rb")
        except FileNotFoundError:
            raise NotFoundError(f"No file found with id '{file_id}'.") from None
        with src:
            yield src

    def create_file(self, container_id: str, *, file: BinaryIO | None = None, filename: str | None = None,
                    file_id: Any = None) -> dict:
        """A file put in the container's folder: an upload (``file``, named ``filename``) or an
        uploaded file (``file_id``)."""
        if file is not None and file_id is not None:
            raise InvalidRequestError("Give either 'file' or 'file_id', not both.", param="file_id")
        if file is None and file_id is None:
            raise v.missing("file")
        self.use(container_id)
        if file_id is not None:
            if not isinstance(file_id, str) or not file_id:
                raise InvalidRequestError("Invalid type for 'file_id': expected a string.", param="file_id")
            stored = self.files.get(file_id)
            with self._stored(file_id) as src:
                return _public(self._write(container_id, file_name(stored["filename"] or file_id, "file_id"), src,
                                           file_id=file_id))
        return _public(self._write(container_id, file_name(filename), file))

    def _write(self, container_id: str, name: str, src: BinaryIO, *, file_id: str | None = None) -> dict:
        counted = _Counted(src, self.files.max_bytes)
        with self._folder(container_id) as (folder, uid):
            try:
                folder.put_file(name, counted, uid=uid)  # a link at the name is replaced, never followed
            except OSError as err:
                if err.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise InvalidRequestError(f"The container {container_id}'s folder is full: delete files "
                                              "to make room.", param="file") from None
                raise InvalidRequestError(f"Could not write {name} in the container: {err.strerror}.",
                                          param="file") from None
        return self._record(container_id, name, counted.total, "user", file_id=file_id)

    def _record(self, container_id: str, name: str, size: int, source: str, *, file_id: str | None = None,
                image: bool = False) -> dict:
        """One row per path: a newer file at the same path replaces the older row."""
        path = f"{DATA_DIR}/{name}"
        row = {"id": new_id("container_file"), "object": "container.file", "created_at": self.now(),
               "bytes": size, "container_id": container_id, "path": path, "source": source,
               _PRIVATE: {"file_id": file_id, "image": image}}
        with self.store.transaction():
            if self.store.get(self.table, container_id) is None:
                raise NotFoundError(f"No container found with id '{container_id}'.")
            for old in self.store.find(self.files_table, container_id=container_id):
                if old["path"] == path:
                    self.store.delete(self.files_table, old["id"])
            self.store.insert(self.files_table, row, container_id=container_id, file_id=file_id)
        return row

    def record_output(self, container_id: str, file_id: str, name: str, *, image: bool = False) -> dict | None:
        """A file a run's code wrote in the container's folder (``name``), or an image it
        displayed (not in the folder: at ``/mnt/data/<cfile id>.png``, read from the stored
        copy), kept as the stored file ``file_id``: recorded as a container file."""
        stored = self.store.get("files", file_id)
        if stored is None or self.store.get(self.table, container_id) is None:
            return None
        if image:
            cfile = new_id("container_file")
            row = {"id": cfile, "object": "container.file", "created_at": self.now(), "bytes": stored["bytes"],
                   "container_id": container_id, "path": f"{DATA_DIR}/{cfile}.png", "source": "assistant",
                   _PRIVATE: {"file_id": file_id, "image": True}}
            self.store.insert(self.files_table, row, container_id=container_id, file_id=file_id)
            return _public(row)
        return _public(self._record(container_id, name, stored["bytes"], "assistant", file_id=file_id))

    def file_of(self, file_id: str) -> dict | None:
        """The container file recorded for a stored file (a run's output), if any."""
        rows = self.store.find(self.files_table, file_id=file_id)
        return _public(rows[-1]) if rows else None

    def _file(self, container_id: str, file_id: str) -> dict:
        self.get(container_id)
        row = self.store.get(self.files_table, file_id)
        if row is None or row["container_id"] != container_id:
            raise NotFoundError(f"No container file found with id '{file_id}'.")
        return row

    def retrieve_file(self, container_id: str, file_id: str) -> dict:
        return _public(self._file(container_id, file_id))

    def list_files(self, container_id: str, *, limit: Any = 20, order: Any = "desc", after: str | None = None,
                   before: str | None = None) -> Page:
        self.get(container_id)
        page = self.store.list(self.files_table, list_query(limit, order, after, before,
                                                            where={"container_id": container_id}))
        return Page([_public(r) for r in page.data], page.has_more)

    def content(self, container_id: str, file_id: str) -> tuple[dict, BinaryIO]:
        """The file's bytes as they are in the container's folder now (a displayed image: its
        stored copy), copied out bounded by the size seen at open; the caller closes it."""
        row = self._file(container_id, file_id)
        private = row.get(_PRIVATE) or {}
        out = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)
        try:
            if private.get("image"):
                with self._stored(private["file_id"]) as src:
                    shutil.copyfileobj(src, out, _CHUNK)
            else:
                if self.expired(self.get(container_id)):
                    raise NotFoundError(f"Container {container_id} is expired: its files are gone.")
                name = row["path"].rsplit("/", 1)[-1]
                with self._folder(container_id) as (folder, _uid):
                    opened = folder.open_regular(name)  # None for a link, a FIFO, a folder, or nothing
                    if opened is None:
                        raise NotFoundError(f"The file {row['path']} is no longer in the container "
                                            f"{container_id}.")
                    src, size = opened
                    with src:
                        left = size  # it may still be growing: what was there at open
                        while left > 0 and (chunk := src.read(min(_CHUNK, left))):
                            out.write(chunk)
                            left -= len(chunk)
            out.seek(0)
            return _public(row), out
        except BaseException:
            out.close()
            raise

    def delete_file(self, container_id: str, file_id: str) -> dict:
        """The row, and the file in the container's folder (a link there is removed, never followed)."""
        row = self._file(container_id, file_id)
        private = row.get(_PRIVATE) or {}
        if not private.get("image") and not self.expired(self.get(container_id)):
            name = row["path"].rsplit("/", 1)[-1]
            with self._folder(container_id) as (folder, _uid):
                try:
                    os.unlink(name, dir_fd=folder.fd)  # unlink removes a link itself, never its target
                except (FileNotFoundError, IsADirectoryError, PermissionError):
                    pass  # gone already, or code made it a folder: the row goes all the same
        self.store.delete(self.files_table, file_id)
        return deleted(file_id, "container.file.deleted")
