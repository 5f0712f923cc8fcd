"""A response's stream: the run loop's events, told as the Responses API tells them.

The run loop publishes one set of events (``thread.run.*``, ``thread.message.*``,
``thread.run.step.*``) whichever API made the run.  For a response's run this module
turns them into ``response.*`` events, in OpenAI's order, each with its
``sequence_number``; every event is stored (``response_events``) before it is
published, so a client that connects late, or again with ``starting_after``, reads
the same stream.  Events of other runs pass through untouched.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Callable

from ..ids import Clock, now_s, system_clock
from . import response_items as ri
from .events import Publish

log = logging.getLogger(__name__)
FINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
RETENTION_S = 7 * 24 * 3600


def stream_key(response_id: str) -> str:
    """The key a response's own events are published under (its run's are under its id)."""
    return response_id + "#response"


@dataclass
class _Item:
    output_index: int
    item_id: str
    done: bool = False
    text_started: bool = False
    call: dict | None = None
    """A tool call as its deltas have given it so far."""


@dataclass
class _State:
    seq: int
    next_index: int = 0
    items: dict[str, _Item] = field(default_factory=dict)


class ResponseEvents:
    """``publish`` for the recorder: passes every event on, and tells a response's."""

    def __init__(self, store, publish: Publish, view: Callable[[str], dict | None],
                 container_file_of: Callable[[str], dict | None] = lambda fid: None,
                 on_final: Callable[[str], None] = lambda rid: None, clock: Clock = system_clock):
        self.store = store
        self._publish = publish
        self.view = view
        """A response's object as it is now (None once it is gone)."""
        self.container_file_of = container_file_of
        self.on_final = on_final
        """Called with a response's id once its last event is out."""
        self.clock = clock
        self._states: dict[str, _State] = {}
        self._lock = threading.Lock()

    # -- the stream ---------------------------------------------------------------
    def emit(self, response_id: str, event: str, payload: dict) -> dict:
        """Store and publish one ``response.*`` event (its number is the next one)."""
        state = self._state(response_id)
        with self._lock:
            seq = state.seq
            state.seq += 1
        data = {"type": event, "sequence_number": seq, **payload}
        self.store.append_event(response_id, seq, event, data, now_s(self.clock))
        self._publish(stream_key(response_id), event, data)
        if event in FINAL:
            with self._lock:
                self._states.pop(response_id, None)
            self.on_final(response_id)
        return data

    def emit_status(self, response_id: str, event: str) -> None:
        response = self.view(response_id)
        if response is not None:
            self.emit(response_id, event, {"response": response})

    def prune(self) -> int:
        """Events past their retention (a response's stream can be resumed for a week)."""
        return self.store.delete_events(before=now_s(self.clock) - RETENTION_S)

    # -- the run loop's events ------------------------------------------------------
    def publish(self, run_id: str, event: str, data: dict) -> None:
        self._publish(run_id, event, data)
        if run_id.startswith("resp_"):
            try:
                self._tell(run_id, event, data)
            except Exception:  # the stream's telling must never fail the run it tells of
                log.exception("response %s: event %s could not be told", run_id, event)

    def _state(self, response_id: str) -> _State:
        """What has been told of a response so far (its next number read from the store the
        first time: a server that restarted goes on after the stored events)."""
        with self._lock:
            state = self._states.get(response_id)
            if state is None:
                state = self._states[response_id] = _State(seq=self.store.last_event_seq(response_id) + 1)
            return state

    def _add(self, rid: str, key: str, item: dict) -> _Item:
        state = self._state(rid)
        entry = state.items[key] = _Item(state.next_index, item["id"])
        state.next_index += 1
        self.emit(rid, "response.output_item.added", {"output_index": entry.output_index, "item": item})
        return entry

    def _tell(self, rid: str, event: str, data: dict) -> None:
        if event == "thread.run.in_progress":
            self.emit_status(rid, "response.in_progress")
        elif event == "thread.message.created":
            self._add(rid, data["id"], ri.message_item(data))
        elif event == "thread.message.delta":
            self._message_delta(rid, data)
        elif event in ("thread.message.completed", "thread.message.incomplete"):
            self._message_done(rid, data)
        elif event == "thread.run.step.delta":
            step_id = data["id"]
            for delta in data["delta"]["step_details"].get("tool_calls") or []:
                self._call_delta(rid, step_id, delta)
        elif event in ("thread.run.step.completed", "thread.run.step.failed", "thread.run.step.cancelled",
                       "thread.run.step.expired"):
            if data["type"] == "tool_calls":
                for call in data["step_details"]["tool_calls"]:
                    self._call_done(rid, data, call)
        elif event in ("thread.run.completed", "thread.run.requires_action"):
            self.emit_status(rid, "response.completed")
        elif event == "thread.run.incomplete":
            self.emit_status(rid, "response.incomplete")
        elif event in ("thread.run.failed", "thread.run.expired", "thread.run.cancelled"):
            self.emit_status(rid, "response.failed")

    # -- messages --------------------------------------------------------------------
    def _message_delta(self, rid: str, data: dict) -> None:
        entry = self._state(rid).items.get(data["id"])
        if entry is None:
            return
        for part in data["delta"].get("content") or []:
            if part.get("type") != "text":
                continue  # images the code displayed are the code call's outputs here
            self._open_text(rid, entry)
            delta = part["text"].get("value") or ""
            if delta:
                self.emit(rid, "response.output_text.delta", {
                    "item_id": entry.item_id, "output_index": entry.output_index, "content_index": 0,
                    "delta": delta, "logprobs": []})

    def _open_text(self, rid: str, entry: _Item) -> None:
        if not entry.text_started:
            entry.text_started = True
            self.emit(rid, "response.content_part.added", {
                "item_id": entry.item_id, "output_index": entry.output_index, "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}})

    def _message_done(self, rid: str, message: dict) -> None:
        entry = self._state(rid).items.get(message["id"])
        if entry is None or entry.done:
            return
        entry.done = True
        item = ri.message_item(message, container_file_of=self.container_file_of)
        part = next((p for p in item["content"] if p["type"] == "output_text"),
                    {"type": "output_text", "text": "", "annotations": [], "logprobs": []})
        self._open_text(rid, entry)
        where = {"item_id": entry.item_id, "output_index": entry.output_index, "content_index": 0}
        for n, annotation in enumerate(part["annotations"]):
            self.emit(rid, "response.output_text.annotation.added",
                      {**where, "annotation_index": n, "annotation": annotation})
        self.emit(rid, "response.output_text.done", {**where, "text": part["text"], "logprobs": []})
        self.emit(rid, "response.content_part.done", {**where, "part": part})
        if not item["content"]:
            item["content"] = [part]
        self.emit(rid, "response.output_item.done", {"output_index": entry.output_index, "item": item})

    # -- tool calls --------------------------------------------------------------------
    def _call_delta(self, rid: str, step_id: str, delta: dict) -> None:
        state = self._state(rid)
        key = f"{step_id}:{delta['index']}"
        kind = delta.get("type")
        entry = state.items.get(key)
        if entry is None:
            if "id" not in delta:
                return
            if kind in ri.MCP_KINDS:
                self._mcp_opened(rid, key, delta)
                return
            call = {"id": delta["id"], "type": kind, kind: {"name": "", "arguments": "", "input": "", "query": "",
                                                            **(delta.get(kind) or {})}}
            shown = ri.call_item(call, "in_progress", status="in_progress")
            if kind == "function":
                shown["arguments"] = ""
            elif kind == "code_interpreter":
                shown.update(code="", outputs=None, container_id=self._container(rid))
            elif kind == "file_search":
                shown["results"] = None
            entry = self._add(rid, key, shown)
            entry.call = {"id": delta["id"], "type": kind, kind: dict(delta.get(kind) or {})}
            where = {"item_id": entry.item_id, "output_index": entry.output_index}
            if kind == "code_interpreter":
                self.emit(rid, "response.code_interpreter_call.in_progress", where)
            elif kind == "file_search":
                self.emit(rid, "response.file_search_call.in_progress", where)
                self.emit(rid, "response.file_search_call.searching", where)
            return
        where = {"item_id": entry.item_id, "output_index": entry.output_index}
        if kind in ri.MCP_KINDS:
            self._mcp_delta(rid, step_id, delta, entry, where)
        elif kind == "function" and "arguments" in (delta.get("function") or {}):
            arguments = delta["function"]["arguments"]
            if arguments:
                self.emit(rid, "response.function_call_arguments.delta", {**where, "delta": arguments})
            entry.call["function"]["arguments"] = arguments
            # A function call is published whole: it is done.
            self._call_done(rid, {"id": step_id, "status": "completed"}, entry.call, entry)
        elif kind == "code_interpreter":
            ci = delta.get("code_interpreter") or {}
            if ci.get("input"):
                self.emit(rid, "response.code_interpreter_call_code.delta", {**where, "delta": ci["input"]})
                self.emit(rid, "response.code_interpreter_call_code.done", {**where, "code": ci["input"]})
                self.emit(rid, "response.code_interpreter_call.interpreting", where)
            if "outputs" in ci:
                call = self._stored_call(step_id, delta["index"])
                if call is not None:
                    self._call_done(rid, {"id": step_id, "status": "completed"}, call, entry)

    def _call_done(self, rid: str, step: dict, call: dict, entry: _Item | None = None) -> None:
        if entry is None:
            entry = next((e for e in self._state(rid).items.values()
                          if e.call is not None and e.call["id"] == call["id"]), None)
        if entry is None or entry.done:
            return
        entry.done = True
        item = ri.call_item(call, step.get("status"), include=(ri.INCLUDE_CODE_OUTPUTS,),
                            container_file_of=self.container_file_of)
        where = {"item_id": entry.item_id, "output_index": entry.output_index}
        if call["type"] == "function":
            self.emit(rid, "response.function_call_arguments.done",
                      {**where, "name": item["name"], "arguments": item["arguments"]})
        elif call["type"] == "code_interpreter":
            item["container_id"] = item["container_id"] or self._container(rid)
            self.emit(rid, "response.code_interpreter_call.completed", where)
        elif call["type"] == "file_search":
            self.emit(rid, "response.file_search_call.completed", where)
        elif call["type"] == "mcp":
            failed = item.get("error") is not None or item["status"] == "failed"
            self.emit(rid, "response.mcp_call.failed" if failed else "response.mcp_call.completed", where)
        elif call["type"] == "mcp_list_tools":
            failed = item.get("error") is not None
            self.emit(rid, "response.mcp_list_tools.failed" if failed else "response.mcp_list_tools.completed", where)
        self.emit(rid, "response.output_item.done", {"output_index": entry.output_index, "item": item})

    # -- MCP -------------------------------------------------------------------------------
    def _mcp_opened(self, rid: str, key: str, delta: dict) -> None:
        """An MCP record's first delta: its item, and its ``in_progress`` event (an approval
        request is published whole: it is done at once)."""
        kind = delta["type"]
        call = {"id": delta["id"], "type": kind, kind: dict(delta.get(kind) or {})}
        shown = ri.call_item(call, "in_progress", status="in_progress")
        entry = self._add(rid, key, shown)
        entry.call = call
        where = {"item_id": entry.item_id, "output_index": entry.output_index}
        if kind == "mcp":
            self.emit(rid, "response.mcp_call.in_progress", where)
        elif kind == "mcp_list_tools":
            self.emit(rid, "response.mcp_list_tools.in_progress", where)
        else:
            self._call_done(rid, {"status": "completed"}, call, entry)

    def _mcp_delta(self, rid: str, step_id: str, delta: dict, entry: _Item, where: dict) -> None:
        kind = delta["type"]
        data = delta.get(kind) or {}
        if kind == "mcp" and "arguments" in data:
            entry.call["mcp"]["arguments"] = data["arguments"]
            if data["arguments"]:
                self.emit(rid, "response.mcp_call_arguments.delta", {**where, "delta": data["arguments"]})
            self.emit(rid, "response.mcp_call_arguments.done", {**where, "arguments": data["arguments"]})
        if (kind == "mcp" and ("output" in data or "error" in data)) or (kind == "mcp_list_tools" and "tools" in data):
            call = self._stored_call(step_id, delta["index"])
            if call is not None:
                self._call_done(rid, {"id": step_id, "status": "completed"}, call, entry)

    def _stored_call(self, step_id: str, index: int) -> dict | None:
        step = self.store.get("run_steps", step_id) or {}
        calls = (step.get("step_details") or {}).get("tool_calls") or []
        return calls[index] if index < len(calls) else None

    def _container(self, rid: str) -> str:
        from .responses import run_container

        run = self.store.get("runs", rid) or {}
        return run_container(run) or ""
