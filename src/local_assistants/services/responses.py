"""The Responses API over the Assistants core: a response is a run.

``create`` writes, in one transaction, the response's input as thread records (its
messages; function calls and outputs as a completed tool_calls step of its own run),
the run (id ``resp_...``) queued for the same worker and run loop as any run, and the
``responses`` row holding what a response has beyond its run (``store``,
``background``, ``include``, the input items as given...).  Every view of a response
(retrieve, the stream's snapshots, ``input_items``) is built from those records.

Which thread a response runs on:
- ``conversation``: the conversation's own thread (a conversation is a thread);
- ``previous_response_id``: the previous response's thread when the chain has it to
  itself and nothing came after it there; otherwise a new thread whose ``parent``
  points at the previous response's last message, so history is read through it
  (a chain may branch: two responses may follow the same one);
- neither: a new thread of its own.
"""

from __future__ import annotations

import base64
import binascii
import tempfile
from pathlib import Path
from typing import Any, Callable

from ..core import run_state, step_state
from ..core import validation as v
from ..core.prompt import content_text
from ..errors import InvalidRequestError, InvalidStateError, NotFoundError
from ..ids import Clock, new_id
from ..ports import ThreadStore
from ..tools.mcp import NAME_PREFIX as MCP_NAME_PREFIX
from . import response_items as ri
from .base import ResourceService, deleted, list_query
from .messages import MessagesService
from .recorder import RunRecorder
from .runs import RunsService

BODY_FIELDS = frozenset({
    "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "previous_response_id",
    "conversation", "store", "stream", "stream_options", "background", "text", "max_output_tokens",
    "temperature", "top_p", "truncation", "metadata", "include", "max_tool_calls", "user", "safety_identifier",
    "prompt_cache_key", "top_logprobs", "reasoning", "service_tier", "prompt_cache_retention",
})
MAX_INPUT_ITEMS = 2048
RECENT_RUNS = 8
"""The runs of a thread whose calls an input's outputs and approvals may answer."""
MAX_FILE_TEXT_CHARS = 200_000
RUN_TO_RESPONSE_STATUS = {
    run_state.QUEUED: "queued", run_state.IN_PROGRESS: "in_progress", run_state.CANCELLING: "in_progress",
    run_state.REQUIRES_ACTION: "completed", run_state.COMPLETED: "completed", run_state.INCOMPLETE: "incomplete",
    run_state.CANCELLED: "cancelled", run_state.FAILED: "failed", run_state.EXPIRED: "failed",
}
TERMINAL = frozenset({"completed", "incomplete", "cancelled", "failed"})


def is_response(run_id: str) -> bool:
    """A run made by the Responses API (its id is the response's)."""
    return run_id.startswith("resp_")


class ResponsesService(ResourceService):
    table = "responses"
    noun = "response"

    def __init__(self, store: ThreadStore, messages: MessagesService, runs: RunsService, recorder: RunRecorder, *,
                 enqueue: Callable[[str], None] = lambda rid: None,
                 check_model: Callable[[str], None] = lambda name: None,
                 default_model: str = "",
                 count_input: Callable[[str, list[dict], str], int] | None = None,
                 file_text: Callable[[str], tuple[str, str]] | None = None,
                 parse_bytes: Callable[[bytes, str], str] | None = None,
                 containers=None, mcp_servers=None, clock: Clock | None = None):
        super().__init__(store, clock or messages.clock)
        self.store: ThreadStore = store
        self.messages = messages
        self.runs = runs
        self.recorder = recorder
        self.enqueue = enqueue
        self.check_model = check_model
        self.default_model = default_model
        self.count_input = count_input
        """``count_input(model, messages, instructions)``: the prompt tokens of a conversation on a model."""
        self.file_text = file_text
        """An uploaded file's (name, text), for ``input_file`` parts."""
        self.parse_bytes = parse_bytes
        """The text of a file given inline (``file_data``), by its name."""
        self.containers = containers
        self.mcp_servers = mcp_servers
        """The operator's declared MCP servers (``services.mcp_servers``); None: no ``mcp`` tools."""

    # -- create ------------------------------------------------------------------------
    def create(self, body: dict, *, start: bool = True) -> tuple[dict, dict]:
        """Check the request, write the response's records and queue its run; returns the
        response as created and its ``responses`` row."""
        v.refuse_unknown(body, BODY_FIELDS)
        store = _bool(body.get("store"), "store", True)
        background = _bool(body.get("background"), "background", False)
        if background and not store:
            raise InvalidRequestError("Background mode requires 'store' to be true.", param="background")
        conversation_id = _conversation_id(body.get("conversation"))
        previous_id = v.text(body.get("previous_response_id"), "previous_response_id", 256)
        if conversation_id and previous_id:
            raise InvalidRequestError(
                "Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id' "
                "or 'conversation'.", param="conversation", code="mutually_exclusive_parameters")
        if conversation_id and not store:
            raise InvalidRequestError("'store' must be true when a 'conversation' is given: a conversation's "
                                      "items are stored.", param="store")
        model = v.text(body.get("model"), "model", 256) or self.default_model
        self.check_model(model)
        include = _include(body.get("include"))
        instructions = v.text(body.get("instructions"), "instructions", v.MAX_INSTRUCTIONS)
        tools, response_tools = self._tools(body.get("tools"))
        tool_choice = _tool_choice(body.get("tool_choice"), response_tools)
        parallel = _bool(body.get("parallel_tool_calls"), "parallel_tool_calls", True)
        text = _text_config(body.get("text"))
        truncation = v.enum(body.get("truncation") or "disabled", "truncation", ("auto", "disabled"))
        max_output = v.positive_int(body.get("max_output_tokens"), "max_output_tokens", 16)
        max_tool_calls = v.positive_int(body.get("max_tool_calls"), "max_tool_calls", 1)
        temperature = v.number(body.get("temperature"), "temperature", 0, 2)
        top_p = v.number(body.get("top_p"), "top_p", 0, 1)
        top_logprobs = body.get("top_logprobs")
        if top_logprobs is not None and (isinstance(top_logprobs, bool) or not isinstance(top_logprobs, int)
                                         or not 0 <= top_logprobs <= 20):
            raise InvalidRequestError("Invalid 'top_logprobs': expected an integer from 0 to 20.",
                                      param="top_logprobs")
        user = v.text(body.get("user"), "user", 512)
        safety_identifier = v.text(body.get("safety_identifier"), "safety_identifier", 512)
        prompt_cache_key = v.text(body.get("prompt_cache_key"), "prompt_cache_key", 512)
        metadata = v.metadata(body.get("metadata")) or {}
        entries = self._input(body.get("input"))
        system_texts = [e["text"] for e in entries if e["kind"] == "system"]
        run_instructions = "\n\n".join(p for p in (instructions or "", *system_texts) if p)
        if truncation == "disabled" and self.count_input is not None:
            self._refuse_too_long(model, entries, run_instructions, max_output)

        response_id = new_id("response")
        now = self.now()
        with self.store.transaction():
            thread_id = self._thread_for(conversation_id, previous_id, fork=not store)
            run_tools = self._bind_containers(tools, thread_id)
            given_calls = self._known_calls(thread_id, previous_id, entries)
            given_calls.update(self._known_approvals(thread_id, previous_id, entries, run_tools))
            run = {
                "id": response_id, "object": "thread.run", "created_at": now, "thread_id": thread_id,
                "assistant_id": "", "status": run_state.QUEUED, "started_at": None, "expires_at": None,
                "cancelled_at": None, "failed_at": None, "completed_at": None, "required_action": None,
                "last_error": None, "model": model, "instructions": run_instructions, "tools": run_tools,
                "metadata": metadata, "incomplete_details": None, "usage": None, "temperature": temperature,
                "top_p": top_p, "max_prompt_tokens": None, "max_completion_tokens": max_output,
                # As the Assistants API shows it; the response's own ``truncation`` is in its row.
                "truncation_strategy": {"type": "auto", "last_messages": None},
                "response_format": _response_format(text["format"]), "tool_choice": tool_choice,
                "parallel_tool_calls": parallel,
            }
            self.store.insert("runs", run, thread_id=thread_id, status=run["status"])
            input_items = self._write_input(run, entries, given_calls)
            row = {
                "id": response_id, "thread_id": thread_id, "conversation": conversation_id,
                "previous_response_id": previous_id, "store": store, "background": background,
                "instructions": instructions, "tools": response_tools, "tool_choice": body.get("tool_choice") or "auto",
                "text": text, "include": include, "truncation": truncation, "max_output_tokens": max_output,
                "max_tool_calls": max_tool_calls, "user": user, "safety_identifier": safety_identifier,
                "prompt_cache_key": prompt_cache_key, "top_logprobs": top_logprobs, "input_items": input_items,
                "owns_thread": conversation_id is None,
            }
            self.store.insert(self.table, row, thread_id=thread_id)
        if start:
            self.enqueue(response_id)
        return self.view(row, run), row

    def _refuse_too_long(self, model: str, entries: list[dict], instructions: str, max_output: int | None) -> None:
        messages = [{"role": e["role"], "content": e["text"]} for e in entries if e["kind"] == "message"]
        tokens, n_ctx = self.count_input(model, messages, instructions)
        budget = n_ctx - min(max_output or 0, n_ctx // 2)
        if tokens > budget:
            raise InvalidRequestError(
                f"Your input exceeds the context window of this model ({tokens} tokens, the window holds "
                f"{budget}). Please adjust your input and try again, or set truncation to 'auto'.",
                param="input", code="context_length_exceeded")

    # -- the thread a response runs on ---------------------------------------------
    def _thread_for(self, conversation_id: str | None, previous_id: str | None, *, fork: bool) -> str:
        if conversation_id:
            if self.store.get("threads", conversation_id) is None:
                raise NotFoundError(f"Conversation with id '{conversation_id}' not found.", param="conversation")
            self.messages.refuse_if_run_active(conversation_id)
            return conversation_id
        if not previous_id:
            return self._new_thread()
        previous = self.store.get(self.table, previous_id)
        if previous is None:
            raise NotFoundError(f"Previous response with id '{previous_id}' not found.",
                                param="previous_response_id")
        prev_run = self.store.get("runs", previous_id)
        if prev_run is None or prev_run["status"] in run_state.ACTIVE:
            raise InvalidRequestError(f"Previous response with id '{previous_id}' is still in progress.",
                                      param="previous_response_id")
        thread_id = previous["thread_id"]
        last = self._last_message(previous)
        if not fork and previous.get("owns_thread") and self._ends_with(thread_id, previous_id, last):
            return thread_id
        return self._new_thread(parent={"thread_id": thread_id, "message_id": last} if last else None)

    def _new_thread(self, parent: dict | None = None) -> str:
        thread = {"id": new_id("thread"), "object": "thread", "created_at": self.now(), "metadata": {},
                  "tool_resources": {}}
        if parent:
            thread["parent"] = parent
        self.store.insert("threads", thread)
        return thread["id"]

    def _last_message(self, row: dict) -> str | None:
        """The last message a response wrote or was given (where a chain after it goes on)."""
        written = self.store.find("messages", run_id=row["id"])
        if written:
            return written[-1]["id"]
        given = [i["id"] for i in row.get("input_items") or [] if i.get("type") == "message"]
        if given:
            return given[-1]
        thread = self.store.get("threads", row["thread_id"]) or {}
        return (thread.get("parent") or {}).get("message_id")

    def _ends_with(self, thread_id: str, run_id: str, last_message: str | None) -> bool:
        """Nothing was added to the thread after the run (and the run is its last one)."""
        runs = self.store.list("runs", list_query(1, "desc", None, None, where={"thread_id": thread_id})).data
        if not runs or runs[0]["id"] != run_id:
            return False
        newest = self.store.list("messages", list_query(1, "desc", None, None, where={"thread_id": thread_id})).data
        return (newest[0]["id"] if newest else None) == last_message

    # -- input -------------------------------------------------------------------------
    def _input(self, value: Any) -> list[dict]:
        """The request's ``input`` as entries: messages (text), system text, function calls
        and outputs, earlier output items passed back."""
        if value is None:
            return []
        if isinstance(value, str):
            v.text(value, "input", v.MAX_INPUT_CHARS)
            return [{"kind": "message", "role": "user", "text": value, "parts": [v.text_part(value)],
                     "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": value}]}}]
        if not isinstance(value, list):
            raise InvalidRequestError("Invalid type for 'input': expected a string or an array of input items.",
                                      param="input")
        if len(value) > MAX_INPUT_ITEMS:
            raise InvalidRequestError(f"Invalid 'input': array too long. Expected an array with maximum length "
                                      f"{MAX_INPUT_ITEMS}, but got an array with length {len(value)} instead.",
                                      param="input")
        return [self._entry(item, f"input[{i}]") for i, item in enumerate(value)]

    def _entry(self, item: Any, p: str) -> dict:
        if not isinstance(item, dict):
            raise InvalidRequestError(f"Invalid type for '{p}': expected an object.", param=p)
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            return self._message_entry(item, p)
        if kind == "function_call":
            for key in ("call_id", "name"):
                if not isinstance(item.get(key), str) or not item[key]:
                    raise v.missing(f"{p}.{key}")
            arguments = item.get("arguments") if isinstance(item.get("arguments"), str) else "{}"
            return {"kind": "function_call", "call_id": item["call_id"], "name": item["name"],
                    "arguments": arguments}
        if kind == "function_call_output":
            if not isinstance(item.get("call_id"), str) or not item["call_id"]:
                raise v.missing(f"{p}.call_id")
            output = item.get("output")
            if isinstance(output, list):
                output = "\n".join(part.get("text", "") for part in output if isinstance(part, dict))
            if not isinstance(output, str):
                raise InvalidRequestError(f"Invalid type for '{p}.output': expected a string.", param=f"{p}.output")
            v.text(output, f"{p}.output", v.MAX_INPUT_CHARS)
            return {"kind": "function_call_output", "call_id": item["call_id"], "output": output}
        if kind == "code_interpreter_call":
            return {"kind": "code_interpreter_call", "code": str(item.get("code") or ""),
                    "logs": "\n".join(o.get("logs", "") for o in item.get("outputs") or []
                                      if isinstance(o, dict) and o.get("type") == "logs")}
        if kind == "mcp_approval_response":
            request_id = item.get("approval_request_id")
            if not isinstance(request_id, str) or not request_id:
                raise v.missing(f"{p}.approval_request_id")
            if not isinstance(item.get("approve"), bool):
                raise InvalidRequestError(f"Invalid type for '{p}.approve': expected a boolean.", param=f"{p}.approve")
            reason = v.text(item.get("reason"), f"{p}.reason", 4096)
            return {"kind": "mcp_approval_response", "request_id": request_id, "approve": item["approve"],
                    "reason": reason, "param": p}
        if kind in ("file_search_call", "reasoning", "item_reference", "mcp_list_tools", "mcp_call",
                    "mcp_approval_request"):
            return {"kind": "passed_back", "item": item}
        raise InvalidRequestError(
            f"Invalid value for '{p}.type': expected one of 'message', 'function_call', 'function_call_output', "
            "'code_interpreter_call', 'file_search_call', 'mcp_approval_response', 'reasoning' or "
            "'item_reference'.", param=f"{p}.type")

    def _message_entry(self, item: dict, p: str) -> dict:
        role = item.get("role")
        if role not in ("user", "assistant", "system", "developer"):
            raise InvalidRequestError(f"Invalid value for '{p}.role': expected one of 'user', 'assistant', "
                                      "'system' or 'developer'.", param=f"{p}.role")
        content = item.get("content")
        if isinstance(content, str):
            content = [{"type": "output_text" if role == "assistant" else "input_text", "text": content}]
        if not isinstance(content, list) or not content:
            raise InvalidRequestError(f"Invalid '{p}.content': expected a string or a non-empty array of "
                                      "content parts.", param=f"{p}.content")
        parts: list[dict] = []
        shown: list[dict] = []
        for j, part in enumerate(content):
            q = f"{p}.content[{j}]"
            kind = part.get("type") if isinstance(part, dict) else None
            if kind in ("input_text", "output_text", "text"):
                value = v.text(part.get("text"), f"{q}.text", v.MAX_INPUT_CHARS, required=True)
                parts.append(v.text_part(value))
                shown.append({"type": "output_text", "text": value, "annotations": [], "logprobs": []}
                             if role == "assistant" else {"type": "input_text", "text": value})
            elif kind == "input_file":
                name, value = self._file_part(part, q)
                parts.append(v.text_part(f"[file {name}]\n{value}"))
                shown.append({k: part.get(k) for k in ("type", "file_id", "filename") if part.get(k)})
            elif kind == "input_image":
                if isinstance(part.get("file_id"), str):
                    parts.append({"type": "image_file", "image_file": {"file_id": part["file_id"]}})
                elif isinstance(part.get("image_url"), str):
                    parts.append({"type": "image_url", "image_url": {"url": part["image_url"]}})
                else:
                    raise v.missing(f"{q}.image_url")
                shown.append({"type": "input_image", "file_id": part.get("file_id"),
                              "image_url": part.get("image_url"), "detail": part.get("detail") or "auto"})
            elif kind == "refusal":
                continue
            else:
                raise InvalidRequestError(f"Invalid value for '{q}.type': expected one of 'input_text', "
                                          "'input_image', 'input_file' or 'output_text'.", param=f"{q}.type")
        text = content_text(parts)
        kind = "system" if role in ("system", "developer") else "message"
        return {"kind": kind, "role": role, "text": text, "parts": parts,
                "item": {"type": "message", "role": role, "content": shown}}

    def _file_part(self, part: dict, q: str) -> tuple[str, str]:
        """An ``input_file`` part's name and text: an uploaded file (``file_id``) or one given
        inline (``file_data``, base64, with its ``filename``)."""
        if isinstance(part.get("file_id"), str):
            if self.file_text is None:
                raise InvalidRequestError("Files are not available here.", param=f"{q}.file_id")
            name, text = self.file_text(part["file_id"])
        elif isinstance(part.get("file_data"), str):
            filename = part.get("filename")
            if not isinstance(filename, str) or not filename:
                raise v.missing(f"{q}.filename")
            data = part["file_data"].split(",", 1)[-1] if part["file_data"].startswith("data:") else part["file_data"]
            try:
                raw = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise InvalidRequestError(f"Invalid '{q}.file_data': expected base64 data.",
                                          param=f"{q}.file_data") from None
            if self.parse_bytes is None:
                raise InvalidRequestError("Files are not available here.", param=f"{q}.file_data")
            name, text = filename, self.parse_bytes(raw, filename)
        else:
            raise v.missing(f"{q}.file_id")
        return name, text[:MAX_FILE_TEXT_CHARS]

    def _recent_calls(self, thread_id: str, previous_id: str | None):
        """The tool calls of the previous response and of the thread's last runs (what an
        input may answer), oldest run last."""
        runs = [previous_id] if previous_id else []
        recent = self.store.list("runs", list_query(RECENT_RUNS, "desc", None, None,
                                                    where={"thread_id": thread_id})).data
        runs += [r["id"] for r in recent]
        for run_id in dict.fromkeys(runs):
            for step in self.store.find("run_steps", run_id=run_id):
                yield from (step.get("step_details") or {}).get("tool_calls") or []

    def _known_calls(self, thread_id: str, previous_id: str | None, entries: list[dict]) -> dict[str, dict]:
        """Every function call an output in the input may answer: those in the input itself,
        and those of earlier responses the thread (or chain) holds, by call id."""
        known: dict[str, dict] = {}
        for call in self._recent_calls(thread_id, previous_id):
            if call["type"] == "function":
                known[call["id"]] = {"name": call["function"]["name"], "arguments": call["function"]["arguments"]}
        for e in entries:
            if e["kind"] == "function_call":
                known[e["call_id"]] = {"name": e["name"], "arguments": e["arguments"]}
        for i, e in enumerate(entries):
            if e["kind"] == "function_call_output" and e["call_id"] not in known:
                raise NotFoundError(f"No tool call found for function call output with call_id {e['call_id']}.",
                                    param=f"input[{i}].call_id")
        return known

    def _known_approvals(self, thread_id: str, previous_id: str | None, entries: list[dict],
                         run_tools: list[dict]) -> dict[str, dict]:
        """The approval requests the input's ``mcp_approval_response`` items answer (of the
        previous response, or of earlier ones the thread holds), by ``approval:<item id>``;
        each answered for a server this request has as a tool."""
        wanted = [e for e in entries if e["kind"] == "mcp_approval_response"]
        if not wanted:
            return {}
        requests: dict[str, dict] = {}
        for call in self._recent_calls(thread_id, previous_id):
            if call["type"] == "mcp_approval_request":
                requests[ri.call_item_id(call)] = call["mcp_approval_request"]
        labels = {t["mcp"]["server_label"] for t in run_tools if t["type"] == "mcp"}
        known = {}
        for e in wanted:
            request = requests.get(e["request_id"])
            if request is None:
                raise InvalidRequestError(f"No MCP approval request found with id '{e['request_id']}'.",
                                          param=f"{e['param']}.approval_request_id")
            if request["server_label"] not in labels:
                raise InvalidRequestError(
                    f"The approval request '{e['request_id']}' is for MCP server '{request['server_label']}', "
                    "which is not among this request's tools.", param=f"{e['param']}.approval_request_id")
            known["approval:" + e["request_id"]] = request
        return known

    def _write_input(self, run: dict, entries: list[dict], known: dict[str, dict]) -> list[dict]:
        """The input as thread records, in its order; returns the input items as stored
        (with their ids).  Consecutive calls and outputs share one completed tool_calls step."""
        items: list[dict] = []
        step: dict | None = None
        for e in entries:
            if e["kind"] in ("message", "system"):
                step = None
                if e["kind"] == "message":
                    message = self.messages.prepare(run["thread_id"], {"role": "user", "content": "x"})
                    message.update(role=e["role"], content=e["parts"])
                    self.messages.insert(message)
                    items.append({"id": message["id"], **e["item"], "status": "completed"})
                else:
                    items.append({"id": new_id("message"), **e["item"], "status": "completed"})
                continue
            if e["kind"] == "passed_back":
                items.append(e["item"])
                continue
            if step is None:
                step = self._input_step(run)
            calls = step["step_details"]["tool_calls"]
            if e["kind"] == "function_call":
                call = {"id": e["call_id"], "type": "function",
                        "function": {"name": e["name"], "arguments": e["arguments"], "output": None}}
                calls.append(call)
                self.recorder.index_call(step, call)
                items.append(ri.call_item(call, "completed"))
            elif e["kind"] == "function_call_output":
                call = next((c for c in calls if c["id"] == e["call_id"]), None)
                if call is None:
                    known_call = known[e["call_id"]]
                    call = {"id": e["call_id"], "type": "function",
                            "function": {"name": known_call["name"], "arguments": known_call["arguments"],
                                         "output": None}}
                    calls.append(call)
                    step["metadata"].setdefault("given_calls", []).append(call["id"])
                call["function"]["output"] = e["output"]
                self.recorder.index_output(step, call)
                items.append(ri.function_output_item(call))
            elif e["kind"] == "mcp_approval_response":
                request = known["approval:" + e["request_id"]]
                call = {"id": new_id("call"), "type": "mcp_approval_response", "mcp_approval_response": {
                    "approval_request_id": e["request_id"], "approve": e["approve"], "reason": e["reason"],
                    **{k: request[k] for k in ("server_label", "name", "arguments")}}}
                calls.append(call)
                self.recorder.index_call(step, call)
                items.append(ri.call_item(call, "completed"))
            elif e["kind"] == "code_interpreter_call":
                call = {"id": new_id("call"), "type": "code_interpreter",
                        "code_interpreter": {"input": e["code"], "outputs": [{"type": "logs", "logs": e["logs"]}]}}
                calls.append(call)
                self.recorder.index_call(step, call)
                items.append(ri.call_item(call, "completed", include=(ri.INCLUDE_CODE_OUTPUTS,)))
            self.recorder.save_step(step)
        return items

    def _input_step(self, run: dict) -> dict:
        step = self.recorder.new_step(run, "tool_calls")
        step_state.transition(step, step_state.COMPLETED, self.now())
        step["metadata"] = {"response_input": "true"}
        self.recorder.insert_step(step)
        return step

    # -- tools -------------------------------------------------------------------------
    def _tools(self, value: Any) -> tuple[list[dict], list[dict]]:
        """(the run's tools, in the Assistants shape the run loop reads; the tools as the
        response shows them)."""
        if value is None:
            return [], []
        if not isinstance(value, list):
            raise InvalidRequestError("Invalid type for 'tools': expected an array.", param="tools")
        run_tools: list[dict] = []
        shown: list[dict] = []
        for i, tool in enumerate(value):
            p = f"tools[{i}]"
            kind = tool.get("type") if isinstance(tool, dict) else None
            if kind == "function":
                fn = {k: tool.get(k) for k in ("name", "description", "parameters", "strict") if k in tool}
                converted = v.tools([{"type": "function", "function": fn}], param=p)[0]
                run_tools.append(converted)
                f = converted["function"]
                shown.append({"type": "function", "name": f["name"], "description": f["description"],
                              "parameters": f["parameters"], "strict": f["strict"]})
            elif kind == "file_search":
                v.refuse_unknown(tool, {"type", "vector_store_ids", "max_num_results", "ranking_options",
                                        "filters"}, p)
                ids = tool.get("vector_store_ids")
                if not isinstance(ids, list) or not ids or not all(isinstance(x, str) for x in ids):
                    raise v.missing(f"{p}.vector_store_ids")
                for vs_id in ids:
                    if self.store.get("vector_stores", vs_id) is None:
                        raise NotFoundError(f"Vector store with id '{vs_id}' not found.",
                                            param=f"{p}.vector_store_ids")
                max_n = v.positive_int(tool.get("max_num_results"), f"{p}.max_num_results")
                if max_n is not None and max_n > 50:
                    raise InvalidRequestError(f"Invalid '{p}.max_num_results': expected 1 to 50.",
                                              param=f"{p}.max_num_results")
                ranking = tool.get("ranking_options")
                if ranking is not None and not isinstance(ranking, dict):
                    raise InvalidRequestError(f"Invalid type for '{p}.ranking_options': expected an object.",
                                              param=f"{p}.ranking_options")
                options = {"vector_store_ids": ids}
                if max_n is not None:
                    options["max_num_results"] = max_n
                if ranking:
                    options["ranking_options"] = {"ranker": ranking.get("ranker") or "auto",
                                                  "score_threshold": v.number(ranking.get("score_threshold") or 0.0,
                                                                              f"{p}.ranking_options.score_threshold",
                                                                              0, 1)}
                if tool.get("filters") is not None:
                    options["filters"] = tool["filters"]
                run_tools.append({"type": "file_search", "file_search": options})
                shown.append({"type": "file_search", **options})
            elif kind == "code_interpreter":
                v.refuse_unknown(tool, {"type", "container"}, p)
                container = tool.get("container")
                if isinstance(container, str) and container:
                    spec: dict = {"container_id": container}
                elif isinstance(container, dict) and container.get("type") == "auto":
                    file_ids = container.get("file_ids") or []
                    if not isinstance(file_ids, list) or not all(isinstance(x, str) for x in file_ids):
                        raise InvalidRequestError(f"Invalid type for '{p}.container.file_ids': expected an array "
                                                  "of file ids.", param=f"{p}.container.file_ids")
                    spec = {"auto": True, "file_ids": file_ids}
                else:
                    raise InvalidRequestError(f"Invalid '{p}.container': expected a container id or "
                                              "{\"type\": \"auto\"}.", param=f"{p}.container")
                run_tools.append({"type": "code_interpreter", "code_interpreter": spec})
                shown.append({"type": "code_interpreter", "container": container})
            elif kind == "mcp":
                options, tool_shown = self._mcp_tool(tool, p)
                if any(t["type"] == "mcp" and t["mcp"]["server_label"] == options["server_label"]
                       for t in run_tools):
                    raise InvalidRequestError(f"Invalid '{p}.server_label': the MCP server "
                                              f"'{options['server_label']}' is given twice.", param=f"{p}.server_label")
                run_tools.append({"type": "mcp", "mcp": options})
                shown.append(tool_shown)
            else:
                raise InvalidRequestError(f"Invalid value for '{p}.type': expected one of 'function', "
                                          "'file_search', 'code_interpreter' or 'mcp'.", param=f"{p}.type")
        if any(t["type"] == "mcp" for t in run_tools):
            for i, t in enumerate(run_tools):
                if t["type"] == "function" and t["function"]["name"].startswith(MCP_NAME_PREFIX):
                    raise InvalidRequestError(
                        f"Invalid 'tools[{i}].name': names starting with '{MCP_NAME_PREFIX}' are those of MCP "
                        "tools in a request that has them.", param=f"tools[{i}].name")
        return run_tools, shown

    def _mcp_tool(self, tool: dict, p: str) -> tuple[dict, dict]:
        """An ``mcp`` tool: a label the operator declared (a ``server_url`` must be its own and
        allowlisted), ``allowed_tools`` and ``require_approval`` (default ``always``, as OpenAI's)
        normalized as ``tools.mcp`` reads them."""
        v.refuse_unknown(tool, {"type", "server_label", "server_url", "allowed_tools", "require_approval",
                                "server_description"}, p)
        label = v.text(tool.get("server_label"), f"{p}.server_label", 64, required=True)
        if self.mcp_servers is None:
            raise InvalidRequestError("MCP tools are not available on this server.", param=f"{p}.type")
        server_url = tool.get("server_url")
        self.mcp_servers.check(label, server_url, p)
        names = tool.get("allowed_tools")
        if isinstance(names, dict):
            v.refuse_unknown(names, {"tool_names", "read_only"}, f"{p}.allowed_tools")
            names = names.get("tool_names")
        if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
            raise InvalidRequestError(f"Invalid '{p}.allowed_tools': expected an array of tool names or "
                                      "{\"tool_names\": [...]}.", param=f"{p}.allowed_tools")
        approval = tool.get("require_approval")
        if approval is None or approval in ("always", "never"):
            rule = {"default": approval or "always", "always": [], "never": []}
        elif isinstance(approval, dict):
            v.refuse_unknown(approval, {"always", "never"}, f"{p}.require_approval")
            rule = {"default": "always", "always": [], "never": []}
            for key in ("always", "never"):
                part = approval.get(key)
                if part is None:
                    continue
                listed = part.get("tool_names") if isinstance(part, dict) else None
                if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
                    raise InvalidRequestError(f"Invalid '{p}.require_approval.{key}': expected "
                                              "{\"tool_names\": [...]}.", param=f"{p}.require_approval.{key}")
                rule[key] = listed
        else:
            raise InvalidRequestError(f"Invalid '{p}.require_approval': expected 'always', 'never' or an object "
                                      "with 'always' and/or 'never'.", param=f"{p}.require_approval")
        options = {"server_label": label, "server_url": server_url, "allowed_tools": names, "require_approval": rule}
        shown = {"type": "mcp", "server_label": label, "server_url": server_url,
                 "allowed_tools": tool.get("allowed_tools"), "require_approval": approval or "always",
                 "server_description": tool.get("server_description")}
        return options, shown

    def _bind_containers(self, tools: list[dict], thread_id: str) -> list[dict]:
        """A code interpreter's container, resolved now: a named one (which must not have
        expired), or the thread's own (``auto``)."""
        out = []
        for tool in tools:
            spec = tool.get("code_interpreter") if tool["type"] == "code_interpreter" else None
            if spec is not None and self.containers is not None:
                if spec.get("auto"):
                    container = self.containers.for_thread(thread_id, spec.get("file_ids") or [])
                else:
                    container = self.containers.use(spec["container_id"])
                tool = {"type": "code_interpreter", "code_interpreter": {"container_id": container["id"]}}
            out.append(tool)
        return out

    # -- views -------------------------------------------------------------------------
    def row(self, response_id: str) -> dict:
        return self.get(response_id)

    def retrieve(self, response_id: str, include: list[str] | None = None, *, as_created: bool = False) -> dict:
        """The response as it is now, showing what ``include`` asks for (``as_created``: what
        its create request asked for, as its own answer and its stream show it)."""
        row = self.row(response_id)
        run = self.store.get("runs", response_id)
        if run is None:
            raise NotFoundError(f"Response with id '{response_id}' not found.")
        return self.view(row, run, include=None if as_created else _include(include))

    def get(self, obj_id: str, **expect: Any) -> dict:
        row = self.store.get(self.table, obj_id)
        if row is None:
            raise NotFoundError(f"Response with id '{obj_id}' not found.")
        return row

    def container_file_of(self, file_id: str) -> dict | None:
        return self.containers.file_of(file_id) if self.containers is not None else None

    def output_items(self, run: dict, include=()) -> list[dict]:
        """The run's steps as the response's output items, in order (its input step aside)."""
        out: list[dict] = []
        container = run_container(run)
        for step in self.store.find("run_steps", run_id=run["id"]):
            if (step.get("metadata") or {}).get("response_input"):
                continue
            if step["type"] == "message_creation":
                message_id = step["step_details"]["message_creation"]["message_id"]
                message = self.store.get("messages", message_id) if message_id else None
                if message is not None:
                    out.append(ri.message_item(message, container_file_of=self.container_file_of, include=include))
            else:
                for item in ri.call_items(step, include=include, with_outputs=False,
                                          container_file_of=self.container_file_of):
                    if item["type"] == "code_interpreter_call" and not item["container_id"]:
                        item["container_id"] = container or ""
                    out.append(item)
        return out

    def view(self, row: dict, run: dict, *, include: list[str] | None = None) -> dict:
        """The response object, as the SDK's ``Response`` reads it."""
        include = row.get("include") or [] if include is None else include
        status = RUN_TO_RESPONSE_STATUS[run["status"]]
        error = None
        if status == "failed" and run.get("last_error"):
            code = run["last_error"].get("code")
            error = {"code": code if code in ("server_error", "rate_limit_exceeded", "invalid_prompt") else
                     ("invalid_prompt" if code else "server_error"),
                     "message": run["last_error"].get("message") or ""}
        incomplete = None
        if status == "incomplete":
            incomplete = {"reason": "max_output_tokens"}
        output = self.output_items(run, include)
        return {
            "id": row["id"], "object": "response", "created_at": run["created_at"], "status": status,
            "background": row.get("background", False),
            "completed_at": run.get("completed_at") if status == "completed" else None,
            "error": error, "incomplete_details": incomplete, "instructions": row.get("instructions"),
            "max_output_tokens": row.get("max_output_tokens"), "max_tool_calls": row.get("max_tool_calls"),
            "model": run["model"], "output": output, "parallel_tool_calls": run["parallel_tool_calls"],
            "previous_response_id": row.get("previous_response_id"),
            "conversation": {"id": row["conversation"]} if row.get("conversation") else None,
            "reasoning": {"effort": None, "summary": None}, "safety_identifier": row.get("safety_identifier"),
            "prompt_cache_key": row.get("prompt_cache_key"), "service_tier": "default", "store": row["store"],
            "temperature": run.get("temperature") if run.get("temperature") is not None else 1.0,
            "text": row.get("text") or {"format": {"type": "text"}}, "tool_choice": row.get("tool_choice") or "auto",
            "tools": row.get("tools") or [], "top_logprobs": row.get("top_logprobs"),
            "top_p": run.get("top_p") if run.get("top_p") is not None else 1.0,
            "truncation": row.get("truncation") or "disabled", "usage": ri.usage(run.get("usage")),
            "user": row.get("user"), "metadata": run.get("metadata") or {},
        }

    def input_items(self, response_id: str, *, limit: Any = None, order: Any = None, after: str | None = None,
                    before: str | None = None, include: list[str] | None = None) -> dict:
        row = self.row(response_id)
        query = list_query(limit, order, after, before)
        items = list(row.get("input_items") or [])
        if query.order == "desc":
            items.reverse()
        ids = [i.get("id") for i in items]
        start, end = 0, len(items)
        if query.after is not None:
            if query.after not in ids:
                raise NotFoundError(f"No item found with id '{query.after}'.", param="after")
            start = ids.index(query.after) + 1
        if query.before is not None:
            if query.before not in ids:
                raise NotFoundError(f"No item found with id '{query.before}'.", param="before")
            end = ids.index(query.before)
        page = items[start:end]
        data, has_more = page[: query.limit], len(page) > query.limit
        return {"object": "list", "data": data, "first_id": data[0].get("id") if data else None,
                "last_id": data[-1].get("id") if data else None, "has_more": has_more}

    # -- cancel and delete ---------------------------------------------------------------
    def cancel(self, response_id: str) -> dict:
        row = self.row(response_id)
        if not row.get("background"):
            raise InvalidRequestError("Only responses created with background=true can be cancelled.",
                                      param=None)
        run = self.store.get("runs", response_id)
        if run["status"] in run_state.ACTIVE or run["status"] == run_state.CANCELLING:
            if run["status"] != run_state.CANCELLING:
                run = self.runs.cancel(run["thread_id"], response_id)
        elif run["status"] != run_state.CANCELLED:
            raise InvalidStateError(f"Cannot cancel a response with status '{RUN_TO_RESPONSE_STATUS[run['status']]}'.",
                                    param=None)
        return self.view(row, self.store.get("runs", response_id) or run)

    def delete(self, response_id: str) -> dict:
        row = self.row(response_id)
        run = self.store.get("runs", response_id)
        if run is not None and run["status"] in run_state.ACTIVE:
            raise InvalidStateError("Cannot delete a response that is in progress; cancel it first.", param=None)
        self.forget(row)
        return deleted(response_id, "response")

    def forget_unstored(self, response_id: str) -> None:
        """A response created with ``store: false`` leaves nothing once it has been returned."""
        row = self.store.get(self.table, response_id)
        if row is not None and not row.get("store", True):
            self.forget(row)

    def forget(self, row: dict) -> None:
        """Every record of a response: its run, steps, the messages it wrote or was given,
        their items, its events, its row; and its thread when no other run is left on it
        and the response owned it."""
        response_id = row["id"]
        with self.store.transaction():
            message_ids = [m["id"] for m in self.store.find("messages", run_id=response_id)]
            message_ids += [i["id"] for i in row.get("input_items") or []
                            if i.get("type") == "message" and i.get("role") in ("user", "assistant")]
            for step in self.store.find("run_steps", run_id=response_id):
                for call in (step.get("step_details") or {}).get("tool_calls") or []:
                    self.store.delete_where("items", ref="call:" + call["id"])
                    self.store.delete_where("items", ref="output:" + call["id"])
            for message_id in message_ids:
                self.store.delete_token_counts(message_id=message_id)
                self.store.delete("messages", message_id)
                self.store.delete_where("items", ref=message_id)
            self.store.delete_where("run_steps", run_id=response_id)
            self.store.delete("runs", response_id)
            self.store.delete(self.table, response_id)
            self.store.delete_events(response_id)
            thread_id = row["thread_id"]
            if row.get("owns_thread") and not self.store.find("runs", thread_id=thread_id):
                self.store.delete_token_counts(thread_id=thread_id)
                for table in ("messages", "run_steps", "items"):
                    self.store.delete_where(table, thread_id=thread_id)
                self.store.delete("threads", thread_id)

    # -- input tokens -----------------------------------------------------------------
    def input_tokens(self, body: dict) -> dict:
        """The prompt tokens a response with this body would start from (its input and
        instructions, and the history of its conversation or previous response)."""
        allowed = BODY_FIELDS - {"stream", "stream_options", "background", "store", "include", "metadata",
                                 "max_output_tokens", "temperature", "top_p", "user", "safety_identifier",
                                 "prompt_cache_key", "top_logprobs", "service_tier", "prompt_cache_retention",
                                 "max_tool_calls"}
        v.refuse_unknown(body, allowed)
        model = v.text(body.get("model"), "model", 256) or self.default_model
        self.check_model(model)
        instructions = v.text(body.get("instructions"), "instructions", v.MAX_INSTRUCTIONS) or ""
        entries = self._input(body.get("input"))
        self._tools(body.get("tools"))
        history: list[dict] = []
        conversation_id = _conversation_id(body.get("conversation"))
        previous_id = v.text(body.get("previous_response_id"), "previous_response_id", 256)
        thread_id = None
        if conversation_id:
            if self.store.get("threads", conversation_id) is None:
                raise NotFoundError(f"Conversation with id '{conversation_id}' not found.", param="conversation")
            thread_id = conversation_id
        elif previous_id:
            thread_id = self.row(previous_id)["thread_id"]
        if thread_id:
            history = [{"role": m["role"], "content": content_text(m["content"])}
                       for m in self.store.find("messages", thread_id=thread_id)]
        system = "\n\n".join(p for p in (instructions, *[e["text"] for e in entries if e["kind"] == "system"]) if p)
        messages = history + [{"role": e["role"], "content": e["text"]} for e in entries if e["kind"] == "message"]
        tokens = self.count_input(model, messages, system)[0] if self.count_input else 0
        return {"object": "response.input_tokens", "input_tokens": tokens}


def run_container(run: dict) -> str | None:
    return next(((t.get("code_interpreter") or {}).get("container_id") for t in run.get("tools") or []
                 if t["type"] == "code_interpreter"), None)


def _bool(value: Any, param: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidRequestError(f"Invalid type for '{param}': expected a boolean.", param=param)
    return value


def _conversation_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("id")
        if value is None:
            raise v.missing("conversation.id")
    return v.text(value, "conversation", 256) or None


def _include(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise InvalidRequestError("Invalid type for 'include': expected an array of strings.", param="include")
    for x in value:
        if x not in ri.INCLUDABLE:
            raise InvalidRequestError(f"Invalid value for 'include': {x!r}; supported values are "
                                      f"{', '.join(repr(i) for i in ri.INCLUDABLE)}.", param="include")
    return list(dict.fromkeys(value))


def _text_config(value: Any) -> dict:
    if value is None:
        return {"format": {"type": "text"}, "verbosity": "medium"}
    if not isinstance(value, dict):
        raise InvalidRequestError("Invalid type for 'text': expected an object.", param="text")
    v.refuse_unknown(value, {"format", "verbosity"}, "text")
    fmt = value.get("format") or {"type": "text"}
    if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema"):
        raise InvalidRequestError("Invalid 'text.format.type': expected 'text', 'json_object' or 'json_schema'.",
                                  param="text.format.type")
    if fmt["type"] == "json_schema":
        v.refuse_unknown(fmt, {"type", "name", "schema", "strict", "description"}, "text.format")
        try:
            checked = v.response_format({"type": "json_schema", "json_schema": {
                k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}}, "text.format")
        except InvalidRequestError as err:  # named as the Responses API names the fields
            err.message = err.message.replace("text.format.json_schema.", "text.format.")
            err.param = (err.param or "").replace("text.format.json_schema.", "text.format.") or None
            raise
        fmt = {"type": "json_schema", **checked["json_schema"]}
        fmt.setdefault("strict", False)
        fmt.setdefault("schema", {"type": "object"})
    else:
        v.refuse_unknown(fmt, {"type"}, "text.format")
        fmt = {"type": fmt["type"]}
    return {"format": fmt, "verbosity": value.get("verbosity") or "medium"}


def _response_format(fmt: dict) -> Any:
    """``text.format`` as the run loop reads ``response_format``."""
    if fmt["type"] == "json_schema":
        return {"type": "json_schema", "json_schema": {k: fmt[k] for k in ("name", "schema", "strict") if k in fmt}}
    if fmt["type"] == "json_object":
        return {"type": "json_object"}
    return "auto"


def _tool_choice(value: Any, tools: list[dict]) -> Any:
    """``tool_choice`` as the run loop reads it (the Assistants shape)."""
    if value is None or value == "auto":
        return "auto"
    if value in ("none", "required"):
        return value
    if isinstance(value, dict):
        kind = value.get("type")
        if kind == "function":
            name = value.get("name")
            if not any(t["type"] == "function" and t["name"] == name for t in tools):
                raise InvalidRequestError(f"Invalid 'tool_choice': no function named '{name}' among the tools.",
                                          param="tool_choice.name")
            return {"type": "function", "function": {"name": name}}
        if kind == "mcp":
            label, name = value.get("server_label"), value.get("name")
            tool = next((t for t in tools if t["type"] == "mcp" and t["server_label"] == label), None)
            if tool is None:
                raise InvalidRequestError(f"Invalid 'tool_choice': no MCP server labelled '{label}' among the tools.",
                                          param="tool_choice.server_label")
            names = tool.get("allowed_tools")
            names = names.get("tool_names") if isinstance(names, dict) else names
            if name is not None and names is not None and name not in names:
                raise InvalidRequestError(f"Invalid 'tool_choice': the tool '{name}' of MCP server '{label}' is not "
                                          "among its allowed_tools.", param="tool_choice.name")
            return {"type": "mcp", "mcp": {"server_label": label, "name": name}}
        if kind in ("file_search", "code_interpreter"):
            if not any(t["type"] == kind for t in tools):
                raise InvalidRequestError(f"Invalid 'tool_choice': the request has no '{kind}' tool.",
                                          param="tool_choice.type")
            return {"type": kind}
    raise InvalidRequestError("Invalid 'tool_choice': expected 'none', 'auto', 'required' or an object naming "
                              "a tool.", param="tool_choice")


def parse_inline(parse: Callable[[Path, str], str]) -> Callable[[bytes, str], str]:
    """A parser of files on disk as one of bytes given inline (written to a temporary file)."""
    def parse_bytes(raw: bytes, filename: str) -> str:
        suffix = Path(filename).suffix[:16]
        with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
            tmp.write(raw)
            tmp.flush()
            return parse(Path(tmp.name), filename)

    return parse_bytes


__all__ = ["ResponsesService", "TERMINAL", "is_response", "parse_inline", "run_container"]
