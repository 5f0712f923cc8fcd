"""The Responses face's services over a real SQLite file, wired as ``runtime.py`` wires them
but without a model: shared by the tests of responses, their events and conversations.

Every run event the recorder writes goes to ``sinks`` (a test adds ``ResponseEvents.publish``
there); ``finish`` does a run loop's work by the recorder (the run starts, writes an answer,
ends), so a response can be followed without a model."""

from __future__ import annotations

import copy

from local_assistants.adapters.sqlite_store import SQLiteStore
from local_assistants.core import run_state
from local_assistants.services.conversations import ConversationsService
from local_assistants.services.messages import MessagesService
from local_assistants.services.recorder import RunRecorder
from local_assistants.services.responses import ResponsesService
from local_assistants.services.runs import RunsService
from local_assistants.services.threads import ThreadsService

WEATHER = {"type": "function", "name": "get_weather", "description": "The weather in a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


class Services:
    def __init__(self, tmp_path, **options):
        self.store = SQLiteStore(tmp_path / "db.sqlite")
        self.messages = MessagesService(self.store)
        self.threads = ThreadsService(self.store, self.messages)
        self.events: list[tuple[str, str, dict]] = []
        self.sinks: list = []
        self.recorder = RunRecorder(self.store, self.messages, self.publish)
        self.runs = RunsService(self.store, self.messages, self.threads, recorder=self.recorder)
        self.enqueued: list[str] = []
        self.responses = ResponsesService(self.store, self.messages, self.runs, self.recorder,
                                          enqueue=self.enqueued.append, default_model="local-default", **options)
        self.conversations = ConversationsService(self.messages, self.threads)

    def publish(self, run_id: str, event: str, data: dict) -> None:
        self.events.append((run_id, event, copy.deepcopy(data)))
        for sink in self.sinks:
            sink(run_id, event, data)

    def create(self, **body):
        return self.responses.create(body)

    def finish(self, response_id: str, text: str = "Done.", status: str = run_state.COMPLETED, **fields) -> dict:
        """The run loop's work, by the recorder: the run starts, writes an answer, ends."""
        run = self.recorder.run_to(self.store.get("runs", response_id), run_state.IN_PROGRESS)
        step, message = self.recorder.open_message(run)
        message["content"] = [{"type": "text", "text": {"value": text, "annotations": []}}]
        self.recorder.message_to(message, "completed")
        self.recorder.step_to(step, "completed")
        return self.recorder.run_to(run, status, **fields)

    def thread_messages(self, thread_id: str) -> list[dict]:
        return self.store.find("messages", thread_id=thread_id)

    def item_refs(self, thread_id: str) -> list[str]:
        return [i["ref"] for i in self.store.find("items", thread_id=thread_id)]


def text_of(message: dict) -> str:
    return message["content"][0]["text"]["value"]
