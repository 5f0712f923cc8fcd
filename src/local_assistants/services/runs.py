"""Runs and run steps: create (and create-thread-and-run), list, retrieve, modify, cancel.

Creating a run only writes it ``queued``; the worker executes it.  While a run
is active its thread is locked: another run or message answers 400.
"""

from __future__ import annotations

from typing import Any, Callable

from ..core import run_state, step_state
from ..core import validation as v
from ..errors import InvalidRequestError, InvalidStateError, NotFoundError
from ..ids import Clock, new_id
from ..ports import ThreadStore
from ..tools import file_search
from .base import ResourceService, list_query
from .messages import MessagesService
from .recorder import RunMoved, RunRecorder
from .threads import ThreadsService

MIN_MAX_PROMPT_TOKENS = 256
RUN_LIFETIME_S = 600


class RunsService(ResourceService):
    table = "runs"
    noun = "run"

    def __init__(self, store: ThreadStore, messages: MessagesService, threads: ThreadsService, *,
                 recorder: RunRecorder,
                 enqueue: Callable[[str], None] = lambda run_id: None,
                 request_cancel: Callable[[str], None] = lambda run_id: None,
                 check_model: Callable[[str], None] = lambda name: None,
                 requires_action_expiry_s: int = RUN_LIFETIME_S, clock: Clock | None = None):
        super().__init__(store, clock or messages.clock)
        self.store: ThreadStore = store
        self.messages = messages
        self.threads = threads
        self.requires_action_expiry_s = requires_action_expiry_s
        self.recorder = recorder
        """Saves and publishes runs and steps (the run loop's own)."""
        self.enqueue = enqueue
        """Hands a queued run to the worker."""
        self.request_cancel = request_cancel
        """Asks the executor to stop a run in progress."""
        self.publish = recorder.publish
        self.check_model = check_model
        """Refuses a model name no run could use."""

    # -- create -------------------------------------------------------------
    def create(self, thread_id: str, *, start: bool = True, **body: Any) -> dict:
        body.pop("stream", None)
        v.reasoning_effort(body.pop("reasoning_effort", None))
        with self.store.transaction():
            thread = self.messages.thread(thread_id)
            self.messages.refuse_if_run_active(thread_id)
            run, extra = self._prepare(thread_id, body)
            for i, message in enumerate(extra):
                self.messages.insert(message)
                self.messages.add_file_search_attachments(thread, message,
                                                          param=f"additional_messages[{i}].attachments")
            self.store.insert(self.table, run, thread_id=thread_id, status=run["status"])
        if start:
            self.enqueue(run["id"])
        return run

    def create_thread_and_run(self, *, start: bool = True, **body: Any) -> tuple[dict, dict]:
        body.pop("stream", None)
        v.reasoning_effort(body.pop("reasoning_effort", None))
        thread_body = body.pop("thread", None) or {}
        if not isinstance(thread_body, dict):
            raise InvalidRequestError("Invalid type for 'thread': expected an object.", param="thread")
        v.refuse_unknown(thread_body, {"messages", "metadata", "tool_resources"}, "thread")
        tool_resources = body.pop("tool_resources", None)
        self._assistant(body.get("assistant_id"))  # check before the thread is written
        with self.store.transaction():
            thread = self.threads.create(
                messages=thread_body.get("messages"), metadata=thread_body.get("metadata"),
                tool_resources=tool_resources if tool_resources is not None else thread_body.get("tool_resources"),
            )
            run = self.create(thread["id"], start=False, **body)
        if start:
            self.enqueue(run["id"])
        return thread, run

    def _assistant(self, assistant_id: Any) -> dict:
        if not isinstance(assistant_id, str) or not assistant_id:
            raise InvalidRequestError("Missing required parameter: 'assistant_id'.", param="assistant_id")
        assistant = self.store.get("assistants", assistant_id)
        if assistant is None:
            raise NotFoundError(f"No assistant found with id '{assistant_id}'.")
        return assistant

    def _prepare(self, thread_id: str, body: dict) -> tuple[dict, list[dict]]:
        assistant = self._assistant(body.get("assistant_id"))
        instructions = v.text(body.get("instructions"), "instructions", v.MAX_INSTRUCTIONS)
        if instructions is None:
            instructions = assistant.get("instructions") or ""
        extra_instructions = v.text(body.get("additional_instructions"), "additional_instructions",
                                    v.MAX_INSTRUCTIONS)
        if extra_instructions:
            instructions = f"{instructions}\n\n{extra_instructions}" if instructions else extra_instructions
        tools = v.tools(body["tools"]) if body.get("tools") is not None else assistant.get("tools", [])
        max_prompt = v.positive_int(body.get("max_prompt_tokens"), "max_prompt_tokens", MIN_MAX_PROMPT_TOKENS)
        max_completion = v.positive_int(body.get("max_completion_tokens"), "max_completion_tokens", 1)
        truncation = _truncation_strategy(body.get("truncation_strategy"))
        tool_choice = _tool_choice(body.get("tool_choice"), tools)
        parallel = body.get("parallel_tool_calls")
        if parallel is not None and not isinstance(parallel, bool):
            raise InvalidRequestError("Invalid type for 'parallel_tool_calls': expected a boolean.",
                                      param="parallel_tool_calls")
        extra_messages = body.get("additional_messages")
        if extra_messages is not None and not isinstance(extra_messages, list):
            raise InvalidRequestError("Invalid type for 'additional_messages': expected an array.",
                                      param="additional_messages")
        prepared = [self.messages.prepare(thread_id, m, param=f"additional_messages[{i}]")
                    for i, m in enumerate(extra_messages or [])]
        temperature = v.number(body.get("temperature"), "temperature", 0, 2)
        top_p = v.number(body.get("top_p"), "top_p", 0, 1)
        response_format = v.response_format(body.get("response_format"))
        model = v.text(body.get("model"), "model", 256)
        if model:
            self.check_model(model)
        model = model or assistant["model"]
        now = self.now()
        run = {
            "id": new_id("run"),
            "object": "thread.run",
            "created_at": now,
            "thread_id": thread_id,
            "assistant_id": assistant["id"],
            "status": run_state.QUEUED,
            "started_at": None,
            "expires_at": now + RUN_LIFETIME_S,
            "cancelled_at": None,
            "failed_at": None,
            "completed_at": None,
            "required_action": None,
            "last_error": None,
            "model": model,
            "instructions": instructions,
            "tools": tools,
            "metadata": v.metadata(body.get("metadata")) or {},
            "incomplete_details": None,
            "usage": None,
            "temperature": temperature if temperature is not None else assistant.get("temperature"),
            "top_p": top_p if top_p is not None else assistant.get("top_p"),
            "max_prompt_tokens": max_prompt,
            "max_completion_tokens": max_completion,
            "truncation_strategy": truncation,
            "response_format": response_format if response_format is not None
            else assistant.get("response_format", "auto"),
            "tool_choice": tool_choice,
            "parallel_tool_calls": True if parallel is None else parallel,
        }
        return run, prepared

    # -- read / modify ------------------------------------------------------
    def retrieve(self, thread_id: str, run_id: str) -> dict:
        self.messages.thread(thread_id)
        return self.get(run_id, thread_id=thread_id)

    def list(self, thread_id: str, **page: Any):
        self.messages.thread(thread_id)
        return self.list_page(thread_id=thread_id, **page)

    def modify(self, thread_id: str, run_id: str, *, metadata: Any = None) -> dict:
        with self.store.transaction():
            run = self.retrieve(thread_id, run_id)
            if metadata is not None:
                run["metadata"] = v.metadata(metadata)
            return self.save(run)

    def save(self, run: dict) -> dict:
        return self.recorder.save_run(run)

    # -- cancel -------------------------------------------------------------
    def cancel(self, thread_id: str, run_id: str) -> dict:
        with self.store.transaction():
            run = self.retrieve(thread_id, run_id)
            if run["status"] not in (run_state.QUEUED, run_state.IN_PROGRESS, run_state.REQUIRES_ACTION):
                raise InvalidStateError(
                    f"Cannot cancel run with status '{run['status']}'.", param=None
                )
            was = run["status"]
            try:
                run = self.recorder.run_to(run, run_state.CANCELLING, publish=False)
            except RunMoved as moved:  # the run ended first: the cancel lost, the run is as it ended
                return moved.run or run
        self.publish(run_id, "thread.run.cancelling", run)
        if was == run_state.IN_PROGRESS:
            self.request_cancel(run_id)  # the worker stops decoding and finishes the run
            return run
        # Nothing is executing it (a queued run's claim now fails): finish the cancel here.
        try:
            with self.store.transaction():
                run = self.recorder.run_to(run, run_state.CANCELLED, publish=False)
                self.recorder.settle_steps(run_id, step_state.CANCELLED)
        except RunMoved as moved:
            return moved.run or run
        self.publish(run_id, "thread.run.cancelled", run)
        return run

    # -- function calling -----------------------------------------------------
    def submit_tool_outputs(self, thread_id: str, run_id: str, *, tool_outputs: Any = None,
                            start: bool = True, stream: Any = None) -> tuple[dict, dict]:
        """Fill the outputs into the waiting tool_calls step and queue the run again.

        Returns the run (queued) and the completed step."""
        if not isinstance(tool_outputs, list):
            raise InvalidRequestError("Missing required parameter: 'tool_outputs'.", param="tool_outputs")
        with self.store.transaction():
            run = self.retrieve(thread_id, run_id)
            if run["status"] != run_state.REQUIRES_ACTION:
                raise InvalidStateError(
                    f"Runs in status \"{run['status']}\" do not accept tool outputs.", param=None
                )
            expected = [c["id"] for c in run["required_action"]["submit_tool_outputs"]["tool_calls"]]
            outputs: dict[str, str] = {}
            for i, item in enumerate(tool_outputs):
                p = f"tool_outputs[{i}]"
                if not isinstance(item, dict) or not isinstance(item.get("tool_call_id"), str):
                    raise InvalidRequestError(f"Missing required parameter: '{p}.tool_call_id'.",
                                              param=f"{p}.tool_call_id")
                call_id = item["tool_call_id"]
                if call_id not in expected:
                    raise InvalidRequestError(
                        f"Invalid '{p}.tool_call_id': no tool call with id '{call_id}' is waiting for output.",
                        param=f"{p}.tool_call_id")
                if call_id in outputs:
                    raise InvalidRequestError(f"Duplicate output for tool call '{call_id}'.",
                                              param=f"{p}.tool_call_id")
                output = item.get("output")
                if output is not None and not isinstance(output, str):
                    raise InvalidRequestError(f"Invalid type for '{p}.output': expected a string.",
                                              param=f"{p}.output")
                outputs[call_id] = output or ""
            missing = [c for c in expected if c not in outputs]
            if missing:
                raise InvalidRequestError(
                    f"Expected tool outputs for call_ids {expected}, got {list(outputs)}.", param="tool_outputs")
            step = next(s for s in self.store.find("run_steps", run_id=run_id)
                        if s["type"] == "tool_calls" and s["status"] == "in_progress")
            for call in step["step_details"]["tool_calls"]:
                call["function"]["output"] = outputs[call["id"]]
                self.recorder.index_output(step, call)
            self.recorder.step_to(step, step_state.COMPLETED, publish=False)
            run = self.recorder.run_to(run, run_state.QUEUED, publish=False)
        self.publish(run_id, "thread.run.step.completed", step)
        self.publish(run_id, "thread.run.queued", run)
        if start:
            self.enqueue(run_id)
        return run, step

    # -- steps --------------------------------------------------------------
    def list_steps(self, thread_id: str, run_id: str, *, include: list[str] | None = None, **page: Any):
        self.retrieve(thread_id, run_id)
        result = self.store.list("run_steps", _page_query(page, run_id))
        result.data = [_shown(step, include) for step in result.data]
        return result

    def retrieve_step(self, thread_id: str, run_id: str, step_id: str, *, include: list[str] | None = None) -> dict:
        self.retrieve(thread_id, run_id)
        step = self.store.get("run_steps", step_id)
        if step is None or step["run_id"] != run_id:
            raise NotFoundError(f"No run step found with id '{step_id}'.")
        return _shown(step, include)


SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"


def check_include(include: list[str] | None) -> None:
    for item in include or []:
        if item != SEARCH_CONTENT:
            raise InvalidRequestError(f"Invalid value for 'include': {item!r}; supported: {SEARCH_CONTENT!r}.",
                                      param="include")


def _shown(step: dict, include: list[str] | None) -> dict:
    """File-search result content only when asked for, as OpenAI does."""
    check_include(include)
    return step if SEARCH_CONTENT in (include or []) else file_search.strip_content(step)


def _page_query(page: dict, run_id: str):
    return list_query(page.get("limit"), page.get("order"), page.get("after"), page.get("before"),
                      where={"run_id": run_id})


def _truncation_strategy(value: Any) -> dict:
    if value is None:
        return {"type": "auto", "last_messages": None}
    if not isinstance(value, dict) or value.get("type") not in ("auto", "last_messages"):
        raise InvalidRequestError(
            "Invalid 'truncation_strategy.type': expected 'auto' or 'last_messages'.",
            param="truncation_strategy.type",
        )
    n = value.get("last_messages")
    if value["type"] == "last_messages":
        n = v.positive_int(n, "truncation_strategy.last_messages", 1)
        if n is None:
            raise InvalidRequestError(
                "Missing required parameter: 'truncation_strategy.last_messages'.",
                param="truncation_strategy.last_messages",
            )
    return {"type": value["type"], "last_messages": n}


def _tool_choice(value: Any, tools: list[dict]) -> Any:
    if value is None:
        return "auto"
    if value in ("none", "auto", "required"):
        return value
    if isinstance(value, dict) and value.get("type") in ("function", "code_interpreter", "file_search"):
        kind = value["type"]
        if kind == "function":
            name = (value.get("function") or {}).get("name")
            if not any(t["type"] == "function" and t["function"]["name"] == name for t in tools):
                raise InvalidRequestError(
                    f"Invalid 'tool_choice': no function named '{name}' among the run's tools.",
                    param="tool_choice.function.name",
                )
            return {"type": "function", "function": {"name": name}}
        if not any(t["type"] == kind for t in tools):
            raise InvalidRequestError(
                f"Invalid 'tool_choice': the run has no '{kind}' tool.", param="tool_choice.type"
            )
        return {"type": kind}
    raise InvalidRequestError(
        "Invalid 'tool_choice': expected 'none', 'auto', 'required' or an object naming a tool.",
        param="tool_choice",
    )
