"""The run services over a real SQLite file with a fake chat model, a fake code runner
and a fake search, executed on the calling thread: shared by the tests of the run loop
(``test_executor``) and of the runs service (``test_runs``)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from local_assistants.adapters.sqlite_store import SQLiteStore
from local_assistants.ports import CodeOutcome, SearchResult
from local_assistants.services.assistants import AssistantsService
from local_assistants.services.events import EventBus
from local_assistants.services.executor import RunExecutor
from local_assistants.services.messages import MessagesService
from local_assistants.services.recorder import RunRecorder
from local_assistants.services.runs import RunsService
from local_assistants.services.threads import ThreadsService
from local_assistants.testing import FakeChatModel
from local_assistants.tools.registry import default_tools

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


class FakeCode:
    """The CodeRunner port: records the code, answers with the given logs."""

    def __init__(self, logs: str = "12516"):
        self.logs = logs
        self.ran: list[str] = []

    def unavailable(self):
        return None

    def warm_up(self):
        pass

    def run(self, run, code):
        self.ran.append(code)
        return CodeOutcome(logs=self.logs, image_file_ids=[], reset=False)

    def take_outputs(self, run_id):
        return [], []


class FakeSearch:
    """The Searcher port: every query finds the given chunks."""

    def __init__(self, *texts: str):
        self.texts = texts
        self.queries: list[tuple[list[str], str]] = []

    def search(self, vector_store_ids, query, *, max_num_results=20, score_threshold=0.0, filters=None,
               mode="hybrid", touch=True):
        self.queries.append((list(vector_store_ids), query))
        return [SearchResult("vs_notes", f"file-{i}", f"notes-{i}.txt", 0.9 - i / 10, text, f"chunk_{i}", i)
                for i, text in enumerate(self.texts)]


class Models:
    def __init__(self, model):
        self.model = model

    def get(self, name):
        return self.model


@dataclass
class Loop:
    """The run services over a real SQLite file, executed on the calling thread."""

    model: FakeChatModel
    code: FakeCode | None = None
    search: FakeSearch | None = None
    events: list[tuple[str, dict]] = field(default_factory=list)

    def build(self, tmp_path):
        self.bus = EventBus()
        self.store = SQLiteStore(tmp_path / "db.sqlite")
        self.messages = MessagesService(self.store)
        self.threads = ThreadsService(self.store, self.messages)
        self.assistants = AssistantsService(self.store)
        self.recorder = RunRecorder(self.store, self.messages, self.publish)
        tools = default_tools(self.store, code_runner=self.code, searcher=self.search)
        self.executor = RunExecutor(self.recorder, Models(self.model), tools, default_max_completion_tokens=512)
        self.runs = RunsService(self.store, self.messages, self.threads, recorder=self.recorder,
                                request_cancel=self.executor.request_cancel)
        return self

    def publish(self, run_id, event, data):
        self.events.append((event, copy.deepcopy(data)))
        self.bus.publish(run_id, event, data)

    def start(self, question: str = "What is 149 * 84?", **assistant) -> dict:
        asst = self.assistants.create(model="gpt-4o", instructions="You are a tutor.", **assistant)
        thread = self.threads.create(messages=[{"role": "user", "content": question}])
        return self.runs.create(thread["id"], assistant_id=asst["id"])

    def execute(self, run: dict) -> dict:
        self.executor.execute(run["id"])
        return self.runs.retrieve(run["thread_id"], run["id"])

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def steps(self, run: dict) -> list[dict]:
        return self.store.find("run_steps", run_id=run["id"])

    def answer(self, run: dict) -> dict:
        return [m for m in self.store.find("messages", thread_id=run["thread_id"]) if m["role"] == "assistant"][-1]
