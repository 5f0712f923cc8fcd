"""The code_interpreter tool: model-written code run in a sandboxed kernel: the run's
container's (``kernel_key``: a Responses run's tool names a ``container_id``), else its
thread's.

Before a thread's code runs, the files the assistant, the thread and the messages'
attachments give the code interpreter are put in ``/mnt/data`` under their names (a
container's files are in its folder already: ``services.containers`` puts them there).
After it runs: ``logs`` (stdout, the last expression's value as a notebook shows it, the
error), images from ``image/png`` outputs as files, and any regular file the
code wrote in ``/mnt/data`` as a file (in a container, each also one of its container files).

The folder is the sandbox's to write while the server works in it (a thread
started by earlier code may still run), so every file operation goes through
``safe_files``: relative to a descriptor of the folder, never following a link,
never blocking on a FIFO.  Collected files are capped per run in number, in
size each and in total (``MAX_COLLECTED_*``); what is left out is said in the logs.
"""

from __future__ import annotations

import io
import logging
import stat
import threading
from dataclasses import dataclass, field
from typing import BinaryIO

from ..adapters.safe_files import Folder
from ..core.toolcalls import AnswerCode, ParsedCall
from ..errors import LocalAssistantsError
from ..ports import CodeOutcome, CodeRunner, ProducedFile
from .annotations import link_files
from .base import Answer, Call, Declared, ToolHandler

log = logging.getLogger(__name__)

MAX_COLLECTED_FILES = 20
"""Files collected as outputs per run, at most."""
MAX_COLLECTED_BYTES = 64 << 20
"""Size of one collected file, at most."""
MAX_COLLECTED_RUN_BYTES = 128 << 20
"""Size of all files collected in one run, at most."""
FULL_BYTES = 1 << 20


def container_id(run: dict) -> str | None:
    """The container a run's code interpreter tool names, if any."""
    for tool in run.get("tools") or []:
        if isinstance(tool, dict) and tool.get("type") == "code_interpreter":
            named = (tool.get("code_interpreter") or {}).get("container_id")
            if named:
                return named
    return None


def kernel_key(run: dict) -> str:
    """What a run's kernel and disk are keyed by: its container, else its thread."""
    return container_id(run) or run["thread_id"]


@dataclass
class _RunFiles:
    produced: list[ProducedFile] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    collected_bytes: int = 0


class CodeInterpreter:
    """Runs a run's code in its kernel (``kernel_key``).  ``containers`` (the runtime's
    ``services.containers.ContainersService``, or None) is told of a container run's
    activity and of the files its code produced."""

    def __init__(self, pool, files, store, *, timeout_s: float, availability, containers=None):
        self.pool = pool
        self.files = files
        self.store = store
        self.timeout_s = timeout_s
        self.containers = containers
        self._availability = availability  # callable returning None or why the sandbox cannot run
        self._checked: str | None | bool = False
        self._by_run: dict[str, _RunFiles] = {}
        self._threads_with_state: set[str] = set()  # keys whose kernel ran code in this process
        self._lock = threading.Lock()

    def unavailable(self) -> str | None:
        """None when code can run; otherwise why not (checked once)."""
        if self._checked is False:
            self._checked = self._availability()
        return self._checked

    def warm_up(self) -> None:
        self.pool.refill_in_background()  # ready by the time the model writes code

    # -- running code -------------------------------------------------------------
    def run(self, run: dict, code: str) -> CodeOutcome:
        key, container = kernel_key(run), container_id(run)
        if container is not None and self.containers is not None:
            self.containers.use(container)  # a container deleted or expired meanwhile: refused
        try:
            return self._run(run, code, key, container)
        finally:
            if container is not None and self.containers is not None:
                self.containers.touch(container)  # idle time counts from the end of the code

    def _run(self, run: dict, code: str, key: str, container: str | None) -> CodeOutcome:
        kernel, fresh = self.pool.kernel_for(key)
        with Folder(kernel.workdir) as folder:
            if container is None:  # a container's files are in its folder already
                self._put_input_files(run, kernel, folder)
            before = folder.regular_files()
        result = kernel.execute(code, timeout=self.timeout_s)
        notes = []
        with self._lock:
            bucket = self._by_run.setdefault(run["id"], _RunFiles())
        image_ids = []
        for n, png in enumerate(result.images):
            obj = self.files.store_bytes(io.BytesIO(png), filename=f"image-{len(bucket.images) + n + 1}.png",
                                         purpose="assistants_output")
            image_ids.append(obj["id"])
            if container is not None and self.containers is not None:
                self.containers.record_output(container, obj["id"], obj["filename"], image=True)
        bucket.images.extend(image_ids)
        with Folder(kernel.workdir) as folder:
            produced, left_out = self._collect(folder, before, bucket)
        bucket.produced.extend(produced)
        if container is not None and self.containers is not None:
            for made in produced:
                self.containers.record_output(container, made.file_id, made.name)
        if left_out:
            notes.append(f"[files not kept as outputs: {'; '.join(left_out)}]")
        notes += self._full_note(kernel)
        logs = "\n".join([result.logs, *notes]) if notes else result.logs
        if fresh and not result.reset and key in self._threads_with_state:
            logs = "[a new kernel: variables and imports from earlier code are gone]\n" + logs
        with self._lock:
            self._threads_with_state.add(key)
        return CodeOutcome(logs=logs or "(no output)", image_file_ids=image_ids, reset=result.reset)

    def _full_note(self, kernel) -> list[str]:
        quota, free = self.pool.quota, self.pool.free_space(kernel)
        if quota is None or free is None or (free[0] >= FULL_BYTES and free[1] > 0):
            return []
        return [f"[/mnt/data is full: a thread's files may take {quota[0] >> 20} MiB and {quota[1]} entries "
                "in all; delete files to make room]"]

    def take_outputs(self, run_id: str) -> tuple[list[str], list[ProducedFile]]:
        """Images and files this run's code produced (once: for its answer message)."""
        with self._lock:
            bucket = self._by_run.pop(run_id, None)
        return (bucket.images, bucket.produced) if bucket else ([], [])

    # -- files in and out -----------------------------------------------------------
    def input_file_ids(self, run: dict) -> list[str]:
        ids: list[str] = []
        assistant = (self.store.get("assistants", run["assistant_id"]) if run.get("assistant_id") else None) or {}
        thread = self.store.get("threads", run["thread_id"]) or {}
        for owner in (assistant, thread):
            ids += ((owner.get("tool_resources") or {}).get("code_interpreter") or {}).get("file_ids") or []
        for message in self.store.find("messages", thread_id=run["thread_id"]):
            for att in message.get("attachments") or []:
                if any(t.get("type") == "code_interpreter" for t in att.get("tools") or []):
                    ids.append(att["file_id"])
        return list(dict.fromkeys(ids))

    def _put_input_files(self, run: dict, kernel, folder: Folder) -> None:
        uid = None if self.pool.spec.unsafe else kernel.uid
        for file_id in self.input_file_ids(run):
            obj = self.store.get("files", file_id)
            if obj is None:
                continue
            name = obj["filename"].rsplit("/", 1)[-1] or file_id
            if name in (".", ".."):
                name = file_id
            st = folder.lstat(name)
            if st is not None and stat.S_ISREG(st.st_mode) and st.st_size == obj["bytes"]:
                continue
            try:
                with open(self.files.path(file_id), "rb") as src:
                    # A link or a changed copy at the name is replaced, never written through.
                    folder.put_file(name, src, uid=uid)
            except (OSError, ValueError) as err:  # e.g. a directory of that name, or the folder is full
                log.warning("input file %s not placed in the thread's folder: %s", file_id, err)

    def _collect(self, folder: Folder, before: dict[str, tuple[int, int]],
                 bucket: _RunFiles) -> tuple[list[ProducedFile], list[str]]:
        produced: list[ProducedFile] = []
        left_out: list[str] = []
        for name, sig in sorted(folder.regular_files().items()):
            if before.get(name) == sig:
                continue
            if len(bucket.produced) + len(produced) >= MAX_COLLECTED_FILES:
                left_out.append(f"{name} (over {MAX_COLLECTED_FILES} files per run)")
                continue
            opened = folder.open_regular(name)  # the name may be a link or a FIFO by now
            if opened is None:
                continue
            src, size = opened
            with src:
                if size > MAX_COLLECTED_BYTES:
                    left_out.append(f"{name} ({_mib(size)}, over {_mib(MAX_COLLECTED_BYTES)} per file)")
                    continue
                if bucket.collected_bytes + size > MAX_COLLECTED_RUN_BYTES:
                    left_out.append(f"{name} ({_mib(size)}, over {_mib(MAX_COLLECTED_RUN_BYTES)} of files per run)")
                    continue
                # The size seen at open bounds the read: the file may still be growing.
                obj = self.files.store_bytes(_Bounded(src, size), filename=name, purpose="assistants_output")
            bucket.collected_bytes += obj["bytes"]
            produced.append(ProducedFile(name, obj["id"]))
        return produced, left_out


class _Bounded:
    """A reader that stops after ``limit`` bytes."""

    def __init__(self, src: BinaryIO, limit: int):
        self.src = src
        self.left = limit

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.src.read(n)
        self.left -= len(data)
        return data


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.0f} MiB" if size >= 1 << 20 else f"{size} bytes"


class CodeInterpreterTool(ToolHandler):
    """The code interpreter in runs: code the model writes (a call, or, for a model with its
    own protocol, a block in its answer) runs here, in the run's kernel (``runner``): its
    container's or its thread's."""

    kind = "code_interpreter"

    def __init__(self, runner: CodeRunner | None):
        self.runner = runner

    @property
    def available(self) -> bool:
        return self.runner is not None

    def prepare(self, run: dict) -> None:
        why = self.runner.unavailable()
        if why:
            raise LocalAssistantsError(why)
        self.runner.warm_up()  # ready by the time the model writes code

    def declare(self, run: dict) -> Declared:
        return Declared(code=self.requested(run))

    def claims(self, call: ParsedCall) -> bool:
        return call.kind == "code_interpreter"

    def record(self, call: ParsedCall, call_id: str, index: int) -> tuple[dict, list[dict]]:
        stored = {"id": call_id, "type": "code_interpreter",
                  "code_interpreter": {"input": call.arguments, "outputs": []}}
        return stored, [{"index": index, "id": call_id, "type": "code_interpreter",
                         "code_interpreter": {"input": "", "outputs": []}},
                        {"index": index, "type": "code_interpreter", "code_interpreter": {"input": call.arguments}}]

    def execute(self, call: Call) -> bool:
        """Run the code in the run's kernel; its outputs go into the step and the stream."""
        code = call.call["code_interpreter"]
        outcome = self.runner.run(call.run, code["input"])
        outputs = [{"type": "logs", "logs": outcome.logs}]
        outputs += [{"type": "image", "image": {"file_id": fid}} for fid in outcome.image_file_ids]
        code["outputs"] = outputs
        call.save_step()
        call.delta({"type": "code_interpreter",
                    "code_interpreter": {"outputs": [{"index": i, **o} for i, o in enumerate(outputs)]}})
        return not call.cancelled()

    def answer(self, run: dict) -> Answer:
        """Images the run's code displayed come first in the answer, as on OpenAI; files it
        wrote are linked (``file_path`` annotations)."""
        images, produced = self.runner.take_outputs(run["id"]) if self.runner is not None else ([], [])
        return Answer(parts=[{"type": "image_file", "image_file": {"file_id": fid}} for fid in images],
                      annotate=lambda text: link_files(text, produced))

    def watch_answer(self, plan, answered: set[tuple[str, str]]) -> AnswerCode | None:
        """A model with its own protocol may write the code it means to run in its answer;
        the first such block of a run (none has run yet) is run."""
        if (plan.protocol.native and plan.code and plan.can_call and not plan.json_answer
                and not any(name == self.kind for name, _ in answered)):
            return AnswerCode()
        return None

    def call_in_answer(self, watcher: AnswerCode) -> ParsedCall:
        return ParsedCall("code_interpreter", "code_interpreter", watcher.code)

    def finish(self, run_id: str) -> None:
        if self.runner is not None:
            self.runner.take_outputs(run_id)  # nothing of a finished run is kept in memory

    def parsed(self, call: dict) -> ParsedCall:
        return ParsedCall("code_interpreter", "code_interpreter", call["code_interpreter"]["input"])

    def output(self, call: dict) -> tuple[str, str]:
        logs = [o.get("logs", "") for o in call["code_interpreter"].get("outputs", []) if o["type"] == "logs"]
        return "", "\n".join(logs) or "(no output)"
