"""The code_interpreter tool: model-written code run in the thread's sandboxed kernel.

Before code runs, the files the assistant, the thread and the messages' attachments
give the code interpreter are put in ``/mnt/data`` under their names.  After it
runs: ``logs`` (stdout, the last expression's value as a notebook shows it, the
error), images from ``image/png`` outputs as files, and any regular file the
code wrote in ``/mnt/data`` as a file (symlinks are never followed; count and
size are capped).
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

MAX_COLLECTED_FILES = 20
MAX_COLLECTED_BYTES = 64 << 20


@dataclass
class CodeOutcome:
    logs: str
    image_file_ids: list[str]
    reset: bool


@dataclass
class ProducedFile:
    name: str
    file_id: str


@dataclass
class _RunFiles:
    produced: list[ProducedFile] = field(default_factory=list)
    images: list[str] = field(default_factory=list)


class CodeInterpreter:
    def __init__(self, pool, files, store, *, timeout_s: float, availability):
        self.pool = pool
        self.files = files
        self.store = store
        self.timeout_s = timeout_s
        self._availability = availability  # callable returning None or why the sandbox cannot run
        self._checked: str | None | bool = False
        self._by_run: dict[str, _RunFiles] = {}
        self._threads_with_state: set[str] = set()  # threads whose kernel ran code in this process
        self._lock = threading.Lock()

    def unavailable(self) -> str | None:
        """None when code can run; otherwise why not (checked once)."""
        if self._checked is False:
            self._checked = self._availability()
        return self._checked

    # -- running code -------------------------------------------------------------
    def run(self, run: dict, code: str) -> CodeOutcome:
        kernel, fresh = self.pool.kernel_for(run["thread_id"])
        self._put_input_files(run, kernel)
        before = _snapshot(kernel.workdir)
        result = kernel.execute(code, timeout=self.timeout_s)
        logs = result.logs
        if fresh and not result.reset and run["thread_id"] in self._threads_with_state:
            logs = "[a new kernel: variables and imports from earlier code are gone]\n" + logs
        with self._lock:
            bucket = self._by_run.setdefault(run["id"], _RunFiles())
        image_ids = []
        for n, png in enumerate(result.images):
            obj = self.files.store_bytes(io.BytesIO(png), filename=f"image-{len(bucket.images) + n + 1}.png",
                                         purpose="assistants_output")
            image_ids.append(obj["id"])
        bucket.images.extend(image_ids)
        bucket.produced.extend(self._collect(kernel.workdir, before))
        with self._lock:
            self._threads_with_state.add(run["thread_id"])
        return CodeOutcome(logs=logs or "(no output)", image_file_ids=image_ids, reset=result.reset)

    def take_outputs(self, run_id: str) -> tuple[list[str], list[ProducedFile]]:
        """Images and files this run's code produced (once: for its answer message)."""
        with self._lock:
            bucket = self._by_run.pop(run_id, None)
        return (bucket.images, bucket.produced) if bucket else ([], [])

    # -- files in and out -----------------------------------------------------------
    def input_file_ids(self, run: dict) -> list[str]:
        ids: list[str] = []
        assistant = self.store.get("assistants", run["assistant_id"]) or {}
        thread = self.store.get("threads", run["thread_id"]) or {}
        for owner in (assistant, thread):
            ids += ((owner.get("tool_resources") or {}).get("code_interpreter") or {}).get("file_ids") or []
        for message in self.store.find("messages", thread_id=run["thread_id"]):
            for att in message.get("attachments") or []:
                if any(t.get("type") == "code_interpreter" for t in att.get("tools") or []):
                    ids.append(att["file_id"])
        return list(dict.fromkeys(ids))

    def _put_input_files(self, run: dict, kernel) -> None:
        for file_id in self.input_file_ids(run):
            obj = self.store.get("files", file_id)
            if obj is None:
                continue
            name = os.path.basename(obj["filename"]) or file_id
            target = kernel.workdir / name
            try:
                st = os.lstat(target)
                if stat.S_ISREG(st.st_mode) and st.st_size == obj["bytes"]:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    continue
                target.unlink()  # a link or a changed copy: replace it, never write through it
            except FileNotFoundError:
                pass
            shutil.copyfile(self.files.path(file_id), target, follow_symlinks=False)
            if os.geteuid() == 0 and not self.pool.spec.unsafe:
                os.lchown(target, kernel.uid, kernel.uid)

    def _collect(self, workdir: Path, before: dict[str, tuple[int, int]]) -> list[ProducedFile]:
        produced = []
        for name, sig in sorted(_snapshot(workdir).items()):
            if before.get(name) == sig:
                continue
            if len(produced) >= MAX_COLLECTED_FILES:
                log.warning("code wrote more than %d files; the rest are not collected", MAX_COLLECTED_FILES)
                break
            if sig[1] > MAX_COLLECTED_BYTES:
                continue
            path = workdir / name
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                continue
            with os.fdopen(fd, "rb") as src:
                if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
                    continue
                obj = self.files.store_bytes(src, filename=name, purpose="assistants_output")
            produced.append(ProducedFile(name, obj["id"]))
        return produced


def _snapshot(workdir: Path) -> dict[str, tuple[int, int]]:
    """Regular files directly in the folder (never through a link): name -> (mtime_ns, size)."""
    out = {}
    try:
        entries = list(os.scandir(workdir))
    except FileNotFoundError:
        return out
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            out[entry.name] = (st.st_mtime_ns, st.st_size)
    return out
