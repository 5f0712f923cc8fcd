"""Executes one queued run on a local model: window, steps, message, events.

Every change of a run, step or message is saved and then published, so a
streaming client and a polling client see the same objects.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from typing import Any

from ..core import run_state
from ..core.window import Strategy, WindowError, budget_for, build_window, render_items
from ..errors import LocalAssistantsError
from ..ids import Clock, new_id, now_s, system_clock
from ..core.jsonrepair import close_json
from ..core.toolcalls import AnswerCode, CallStream, ParsedCall
from ..tools import file_search
from ..tools.annotations import link_files
from ..tools.functions import (MAX_TOOL_ROUNDS, SUPPORTED_TOOLS, generate_turn, plan_turn, replay_items,
                               replayed_items, system_messages)
from ..ports import ChatModel, CodeRunner, ModelSource, Searcher, ThreadStore
from .events import Publish
from .history import ThreadHistory
from .messages import MessagesService
from .runs import save_run

log = logging.getLogger(__name__)

DEFAULT_TEMPERATURE = 1.0
CRASH_MESSAGE = "The server stopped while this run was in progress."


class ServerStopping(LocalAssistantsError):
    """Raised inside a run when the server stops before the run could finish: the run
    then fails as a crash would have failed it."""

    def __init__(self):
        super().__init__(CRASH_MESSAGE)


class RunExecutor:
    """Executes runs on the models of ``models``; ``code_interpreter`` and ``search`` (None:
    that tool is not offered) carry out the code and file-search calls the model makes."""

    def __init__(self, store: ThreadStore, messages: MessagesService, models: ModelSource, *,
                 default_max_completion_tokens: int, publish: Publish, clock: Clock = system_clock,
                 requires_action_expiry_s: int = 600, supported_tools: frozenset[str] = SUPPORTED_TOOLS,
                 code_interpreter: CodeRunner | None = None, search: Searcher | None = None):
        self.store = store
        self.messages = messages
        self.clock = clock
        self.models = models
        self.default_max_completion_tokens = default_max_completion_tokens
        self.publish = publish
        self.requires_action_expiry_s = requires_action_expiry_s
        self._supported = supported_tools
        self.code = code_interpreter
        self.search = search
        self._cancel: set[str] = set()
        self._cancel_lock = threading.Lock()
        self._aborting = threading.Event()

    def now(self) -> int:
        return now_s(self.clock)

    # -- cancellation -------------------------------------------------------
    def request_cancel(self, run_id: str) -> None:
        with self._cancel_lock:
            self._cancel.add(run_id)

    def cancel_requested(self, run_id: str) -> bool:
        if self._aborting.is_set():
            raise ServerStopping()  # out of the decode loop, and the run fails
        with self._cancel_lock:
            return run_id in self._cancel

    def abort(self) -> None:
        """The server is stopping and will not wait: the run in progress stops at its next
        check (between two tokens) and fails with ``CRASH_MESSAGE``."""
        self._aborting.set()

    # -- saving + publishing -------------------------------------------------
    def _run_to(self, run: dict, status: str, **fields: Any) -> dict:
        run = run_state.transition(run, status, self.now())
        run.update(fields)
        save_run(self.store, run)
        self.publish(run["id"], run_state.EVENT_FOR_STATUS[status], run)
        return run

    def _save_step(self, step: dict, event: str | None = None) -> dict:
        self.store.update("run_steps", step, thread_id=step["thread_id"], run_id=step["run_id"])
        if event:
            self.publish(step["run_id"], event, step)
        return step

    def _save_message(self, message: dict, event: str | None = None) -> dict:
        self.messages.save(message)
        if event:
            self.publish(message["run_id"], event, message)
        return message

    # -- the run -------------------------------------------------------------
    def execute(self, run_id: str) -> None:
        run = self.store.get("runs", run_id)
        if run is None or run["status"] != run_state.QUEUED:
            return
        run = self._run_to(run, run_state.IN_PROGRESS)
        turn = _Turn()
        try:
            self._refuse_unsupported_tools(run)
            model = self.models.get(run["model"])
            overhead = model.template.message_overhead(model.count_tokens)
            searchable = self.search is not None and bool(file_search.vector_store_ids(self.store, run))
            reserve = run["max_completion_tokens"] or self.default_max_completion_tokens
            search_budget = budget_for(model.n_ctx, min(reserve, model.n_ctx // 2), run["max_prompt_tokens"]) // 2
            force_answer = False
            while True:  # model turns; code runs here, so only an answer or function calls end it
                steps = self.store.find("run_steps", run_id=run_id)
                rounds = MAX_TOOL_ROUNDS if force_answer else sum(1 for s in steps if s["type"] == "tool_calls")
                plan = plan_turn(run, model, rounds_done=rounds, supported=self.supported_tools,
                                 searchable=searchable)
                prompt = self._prompt(run, model, plan,
                                      replay_items(steps, model.count_tokens, overhead, search_budget,
                                                   plan.protocol))
                used = sum((s.get("usage") or {}).get("completion_tokens", 0) for s in steps)
                turn.reset()
                turn.searchable = searchable
                more = self._turn(run, model, prompt, plan, turn, used, _answered_calls(steps))
                if turn.repeat:
                    # The model only repeated calls it already has outputs for: it must answer now.
                    force_answer = True
                    continue
                if not more:
                    break
        except WindowError as err:
            if err.reason == "max_prompt_tokens":
                self._finish(self._fresh(run), run_state.INCOMPLETE,
                             incomplete_details={"reason": "max_prompt_tokens"})
            else:
                self._fail(run, turn, "invalid_prompt", str(err))
        except LocalAssistantsError as err:
            self._fail(self._fresh(run), turn, "server_error", err.message)
        except Exception as err:  # a bug or a native failure: the run fails, the server goes on
            log.exception("run %s failed", run_id)
            self._fail(self._fresh(run), turn, "server_error", f"{type(err).__name__}: {err}")
        finally:
            with self._cancel_lock:
                self._cancel.discard(run_id)
            if self.code is not None:
                self.code.take_outputs(run_id)  # nothing of a finished run is kept in memory

    def _fresh(self, run: dict) -> dict:
        return self.store.get("runs", run["id"]) or run

    @property
    def supported_tools(self) -> frozenset[str]:
        return (self._supported | ({"code_interpreter"} if self.code is not None else set())
                | ({"file_search"} if self.search is not None else set()))

    def _refuse_unsupported_tools(self, run: dict) -> None:
        choice = run.get("tool_choice")
        if isinstance(choice, dict) and choice.get("type") not in self.supported_tools:
            raise LocalAssistantsError(
                f"tool_choice {choice['type']!r} is not supported by this server yet; "
                "run without forcing that tool."
            )
        if self.code is not None and any(t["type"] == "code_interpreter" for t in run["tools"]):
            why = self.code.unavailable()
            if why:
                raise LocalAssistantsError(why)
            self.code.warm_up()

    def _usage_so_far(self, run_id: str) -> dict:
        steps = self.store.find("run_steps", run_id=run_id)
        prompt = sum((s.get("usage") or {}).get("prompt_tokens", 0) for s in steps)
        completion = sum((s.get("usage") or {}).get("completion_tokens", 0) for s in steps)
        return _usage(prompt, completion)

    def _finish(self, run: dict, status: str, **fields: Any) -> dict:
        """A terminal status, with the run's usage summed over its steps."""
        return self._run_to(run, status, usage=self._usage_so_far(run["id"]), **fields)

    def _prompt(self, run: dict, model: ChatModel, plan, run_items=()) -> list[int]:
        """The exact tokens the model is given, fitted to the budget.

        ``plan``: what the turn may do (its tools' description and declarations).
        ``run_items``: what this run produced so far (tool calls, outputs, retrieved
        chunks) as window items, oldest first; they enter the window as its newest items.
        """
        fixed = system_messages(run["instructions"], plan)
        tools = plan.tools
        count = model.count_tokens
        overhead = model.template.message_overhead(count)
        fixed_tokens = len(model.tokenize_prompt(model.template.render(fixed, add_generation_prompt=True,
                                                                       tools=tools)))
        reserve = run["max_completion_tokens"] or self.default_max_completion_tokens
        budget = budget_for(model.n_ctx, min(reserve, model.n_ctx // 2), run["max_prompt_tokens"])
        history = ThreadHistory(self.store, run["thread_id"], model.name, count, overhead, current_run=run["id"],
                                replay=lambda steps: replayed_items(steps, count, overhead, plan.protocol))
        strategy = Strategy.from_request(run.get("truncation_strategy"))
        shrink = 0
        while True:
            window = build_window(fixed_tokens=fixed_tokens, newest_first=history.newest_first(run_items),
                                  budget=budget - shrink, strategy=strategy, first_user=history.first_user(),
                                  count=count, overhead=overhead)
            tokens = model.tokenize_prompt(model.format(render_items(fixed, window.items), tools=tools))
            if len(tokens) <= budget:
                return tokens
            # The stored counts are per message; the template can add a few tokens: tighten and retry.
            shrink += len(tokens) - budget + 8

    def _turn(self, run: dict, model: ChatModel, prompt: list[int], plan, turn: "_Turn", used: int,
              answered: set[tuple[str, str]]) -> bool:
        """One model turn: it either answers (a message) or calls tools (a tool_calls step).

        A call that repeats one already made (in this turn, or answered earlier in the
        run) ends the turn's decoding: small models otherwise loop on their tools.  If
        the model made no new call at all, ``turn.repeat`` is set and nothing is written.
        """
        turn.repeat = False
        turn.stop = False
        limit = self.default_max_completion_tokens
        if run["max_completion_tokens"]:
            limit = run["max_completion_tokens"] - used
            if limit <= 0:
                self._finish(self._fresh(run), run_state.INCOMPLETE,
                             incomplete_details={"reason": "max_completion_tokens"})
                return False
        # A run that sets no sampling gets the model's recommended one, else OpenAI's defaults.
        recommended = model.sampling or {}
        temperature = run["temperature"] if run["temperature"] is not None else \
            recommended.get("temperature", DEFAULT_TEMPERATURE)
        top_p = run["top_p"] if run["top_p"] is not None else recommended.get("top_p", 1.0)
        generation = generate_turn(model, prompt, plan, max_tokens=limit, temperature=temperature, top_p=top_p,
                                   should_stop=lambda: turn.stop or self.cancel_requested(run["id"]))
        pieces = iter(generation)
        head = ""
        for piece in pieces:  # the first characters decide: an answer or tool calls
            head += piece
            if plan.protocol.opens_call(head) is not None:
                break
        rest = itertools.chain([head] if head else [], pieces)
        if plan.can_call and plan.protocol.opens_call(head):
            return self._tool_calls_turn(run, rest, generation, turn, answered, plan.protocol)
        # A model with its own protocol may write the code it means to run in its answer;
        # the first such block of a run (none has run yet) is run (see AnswerCode).
        answer_code = AnswerCode() if (plan.protocol.native and plan.code and plan.can_call and not plan.json_answer
                                       and not any(kind == "code_interpreter" for kind, _ in answered)) else None
        return self._message_turn(run, rest, generation, turn, json_answer=plan.json_answer,
                                  answer_code=answer_code)

    def _message_turn(self, run: dict, pieces, generation, turn: "_Turn", json_answer: bool = False,
                      answer_code: AnswerCode | None = None) -> bool:
        """An answer, streamed as message deltas. Returns True when the run goes on: the
        answer held code to run (``answer_code``), now a tool_calls step after the message."""
        images, produced = self.code.take_outputs(run["id"]) if self.code is not None else ([], [])
        step = turn.step = self._new_step(run, "message_creation")
        message = turn.message = self._new_message(run)
        step["step_details"]["message_creation"]["message_id"] = message["id"]
        with self.store.transaction():
            self.store.insert("run_steps", step, thread_id=step["thread_id"], run_id=step["run_id"])
            self.messages.insert(message)
        self.publish(run["id"], "thread.run.step.created", step)
        self.publish(run["id"], "thread.run.step.in_progress", step)
        self.publish(run["id"], "thread.message.created", message)
        self.publish(run["id"], "thread.message.in_progress", message)

        image_parts = [{"type": "image_file", "image_file": {"file_id": fid}} for fid in images]
        for i, part in enumerate(image_parts):  # images the code displayed come first, as on OpenAI
            self.publish(run["id"], "thread.message.delta", {"id": message["id"], "object": "thread.message.delta",
                                                             "delta": {"content": [{"index": i, **part}]}})
        text_index = len(image_parts)
        first = True
        def shown(pieces):
            for piece in pieces:
                if answer_code is not None:
                    piece = answer_code.feed(piece)
                    turn.stop = turn.stop or answer_code.done  # the decoder stops at its next token
                if piece:
                    yield piece
            tail = answer_code.rest() if answer_code is not None else ""
            if tail:  # no block to run after all: what was held back is answer text
                yield tail

        for piece in shown(pieces):
            part: dict = {"index": text_index, "type": "text", "text": {"value": piece}}
            if first:
                part["text"]["annotations"] = []
                first = False
            self.publish(run["id"], "thread.message.delta",
                         {"id": message["id"], "object": "thread.message.delta", "delta": {"content": [part]}})
        done = generation.completion
        usage = _add_usage(_usage(done.prompt_tokens, done.completion_tokens), turn.wasted)
        turn.wasted = None
        text = done.text
        code_to_run = answer_code is not None and answer_code.done and not self.cancel_requested(run["id"])
        if code_to_run:
            text = answer_code.before
        if json_answer and done.finish_reason == "length":
            text = close_json(text) or text  # still incomplete, but parseable
        text, annotations = link_files(text, produced)
        text, citations = self._citations(run, text)
        annotations = citations + annotations
        if text != done.text and text.startswith(done.text):
            self.publish(run["id"], "thread.message.delta", {
                "id": message["id"], "object": "thread.message.delta",
                "delta": {"content": [{"index": text_index, "type": "text", "text": {"value": text[len(done.text):]}}]}})
        message["content"] = [*image_parts, {"type": "text", "text": {"value": text, "annotations": annotations}}]
        now = self.now()

        if (done.finish_reason == "cancelled" and not code_to_run) or self.cancel_requested(run["id"]):
            message.update(status="incomplete", incomplete_at=now, incomplete_details={"reason": "run_cancelled"})
            self._save_message(message, "thread.message.incomplete")
            step.update(status="cancelled", cancelled_at=now, usage=usage)
            self._save_step(step, "thread.run.step.cancelled")
            self._finish(self._fresh(run), run_state.CANCELLED)
            return False
        if done.finish_reason == "length" and not code_to_run:
            message.update(status="incomplete", incomplete_at=now, incomplete_details={"reason": "max_tokens"})
            self._save_message(message, "thread.message.incomplete")
            step.update(status="completed", completed_at=now, usage=usage)
            self._save_step(step, "thread.run.step.completed")
            self._finish(self._fresh(run), run_state.INCOMPLETE,
                         incomplete_details={"reason": "max_completion_tokens"})
            return False
        message.update(status="completed", completed_at=now)
        self._save_message(message, "thread.message.completed")
        step.update(status="completed", completed_at=now, usage=usage)
        self._save_step(step, "thread.run.step.completed")
        if code_to_run:  # the message said what it was about to do; the code is a call of its own
            turn.step = turn.message = None
            kept: list[dict] = []
            self._publish_call(run, turn, kept, ParsedCall("code_interpreter", "code_interpreter", answer_code.code))
            return self._carry_out(run, turn.step, kept, _usage(0, 0))
        self._finish(self._fresh(run), run_state.COMPLETED)
        return False

    def _citations(self, run: dict, text: str) -> tuple[str, list[dict]]:
        """file_citation annotations for the chunks this run's searches found and the answer used."""
        searches = [c for s in self.store.find("run_steps", run_id=run["id"]) if s["type"] == "tool_calls"
                    for c in s["step_details"]["tool_calls"] if c["type"] == "file_search"]
        if not searches:
            return text, []
        return file_search.cite(text, searches[-1]["file_search"].get("results") or [], len(searches) - 1)

    def _tool_calls_turn(self, run: dict, pieces, generation, turn: "_Turn",
                         answered: set[tuple[str, str]], protocol) -> bool:
        """Calls are published one by one as each is complete (its id, name and argument
        chunks as OpenAI sends them), so a repeated call is dropped before anyone saw it.
        Code calls run here; function calls wait for the client (requires_action).
        Returns True when the run goes on with another model turn."""
        reader = CallStream()
        seen = set(answered)
        kept: list[dict] = []
        for piece in pieces:
            if turn.stop:
                continue  # drain: the decoder stops at its next token
            for event in reader.feed(piece):
                if event.kind != "end":
                    continue
                call = protocol.read(event.call)
                key = _call_key(call.name, call.arguments)
                if key in seen:
                    turn.stop = True
                    break
                seen.add(key)
                self._publish_call(run, turn, kept, call)
        done = generation.completion
        usage = _add_usage(_usage(done.prompt_tokens, done.completion_tokens), turn.wasted)
        turn.wasted = None
        now = self.now()
        if self.cancel_requested(run["id"]):
            if turn.step is not None:
                turn.step.update(status="cancelled", cancelled_at=now, usage=usage)
                self._save_step(turn.step, "thread.run.step.cancelled")
            self._finish(self._fresh(run), run_state.CANCELLED)
            return False
        if not kept:
            if turn.stop:  # only repeats of answered calls: the model must answer instead
                turn.repeat = True
                turn.wasted = usage
                return False
            # The token limit fell inside the first call.
            step = turn.step = self._new_step(run, "tool_calls")
            step.update(status="failed", failed_at=now, usage=usage, last_error={
                "code": "server_error", "message": "The model reached its token limit inside a tool call."})
            self.store.insert("run_steps", step, thread_id=step["thread_id"], run_id=step["run_id"])
            self._finish(self._fresh(run), run_state.INCOMPLETE,
                         incomplete_details={"reason": "max_completion_tokens"})
            return False
        return self._carry_out(run, turn.step, kept, usage)

    def _carry_out(self, run: dict, step: dict, kept: list[dict], usage: dict) -> bool:
        """Run a tool_calls step's calls: searches and code here, functions by the client
        (requires_action). Returns True when the run goes on with another model turn."""
        now = self.now()
        step["step_details"]["tool_calls"] = kept
        step["usage"] = usage
        self._save_step(step)
        for index, call in enumerate(kept):
            if call["type"] == "file_search":
                query = call["file_search"]["query"]
                ranking, results = file_search.search(self.search, self.store, run, query)
                call["file_search"].update(ranking_options=ranking, results=results)
                self._save_step(step)
            if call["type"] == "code_interpreter":
                self._run_code(run, step, index, call)
                if self.cancel_requested(run["id"]):
                    step.update(status="cancelled", cancelled_at=self.now())
                    self._save_step(step, "thread.run.step.cancelled")
                    self._finish(self._fresh(run), run_state.CANCELLED)
                    return False
        functions = [c for c in kept if c["type"] == "function"]
        if not functions:
            step.update(status="completed", completed_at=self.now())
            self._save_step(step, "thread.run.step.completed")
            return True
        required = {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [
            {"id": c["id"], "type": "function",
             "function": {"name": c["function"]["name"], "arguments": c["function"]["arguments"]}}
            for c in functions]}}
        self._run_to(self._fresh(run), run_state.REQUIRES_ACTION, required_action=required,
                     expires_at=now + self.requires_action_expiry_s)
        return False

    def _run_code(self, run: dict, step: dict, index: int, call: dict) -> None:
        """Run one code call in the thread's kernel; its outputs go into the step and the stream."""
        outcome = self.code.run(run, call["code_interpreter"]["input"])
        outputs = [{"type": "logs", "logs": outcome.logs}]
        outputs += [{"type": "image", "image": {"file_id": fid}} for fid in outcome.image_file_ids]
        call["code_interpreter"]["outputs"] = outputs
        self._save_step(step)
        self.publish(run["id"], "thread.run.step.delta", {
            "id": step["id"], "object": "thread.run.step.delta",
            "delta": {"step_details": {"type": "tool_calls", "tool_calls": [{
                "index": index, "type": "code_interpreter",
                "code_interpreter": {"outputs": [{"index": i, **o} for i, o in enumerate(outputs)]}}]}}})

    def _publish_call(self, run: dict, turn: "_Turn", kept: list[dict], call) -> None:
        """Create the tool_calls step on the first call; then the complete call's deltas
        (its id, type and name once, then its input: the SDK concatenates strings)."""
        if turn.step is None:
            step = turn.step = self._new_step(run, "tool_calls")
            self.store.insert("run_steps", step, thread_id=step["thread_id"], run_id=step["run_id"])
            self.publish(run["id"], "thread.run.step.created", step)
            self.publish(run["id"], "thread.run.step.in_progress", step)
        index = len(kept)
        call_id = new_id("call")
        if call.kind == "code_interpreter":
            kept.append({"id": call_id, "type": "code_interpreter",
                         "code_interpreter": {"input": call.arguments, "outputs": []}})
            deltas = [{"index": index, "id": call_id, "type": "code_interpreter",
                       "code_interpreter": {"input": "", "outputs": []}},
                      {"index": index, "type": "code_interpreter", "code_interpreter": {"input": call.arguments}}]
        elif turn.searchable and call.name == file_search.FUNCTION["name"]:
            query = json.loads(call.arguments).get("query", "")
            kept.append({"id": call_id, "type": "file_search",
                         "file_search": {"ranking_options": {"ranker": "auto", "score_threshold": 0.0},
                                         "results": [], "query": query}})
            # As OpenAI streams it: the call appears, its results are in the completed step.
            deltas = [{"index": index, "id": call_id, "type": "file_search", "file_search": {}}]
        else:
            kept.append({"id": call_id, "type": "function",
                         "function": {"name": call.name, "arguments": call.arguments, "output": None}})
            deltas = [{"index": index, "id": call_id, "type": "function",
                       "function": {"name": call.name, "arguments": "", "output": None}},
                      {"index": index, "type": "function", "function": {"arguments": call.arguments}}]
        for delta in deltas:
            self.publish(run["id"], "thread.run.step.delta",
                         {"id": turn.step["id"], "object": "thread.run.step.delta",
                          "delta": {"step_details": {"type": "tool_calls", "tool_calls": [delta]}}})

    def _new_step(self, run: dict, kind: str) -> dict:
        step = {
            "id": new_id("step"),
            "object": "thread.run.step",
            "created_at": self.now(),
            "run_id": run["id"],
            "assistant_id": run["assistant_id"],
            "thread_id": run["thread_id"],
            "type": kind,
            "status": "in_progress",
            "cancelled_at": None,
            "completed_at": None,
            "expired_at": None,
            "failed_at": None,
            "last_error": None,
            "step_details": ({"type": "message_creation", "message_creation": {"message_id": None}}
                             if kind == "message_creation" else {"type": "tool_calls", "tool_calls": []}),
            "usage": None,
            "metadata": {},
        }
        return step

    def _new_message(self, run: dict) -> dict:
        return {
            "id": new_id("message"),
            "object": "thread.message",
            "created_at": self.now(),
            "thread_id": run["thread_id"],
            "status": "in_progress",
            "incomplete_details": None,
            "completed_at": None,
            "incomplete_at": None,
            "role": "assistant",
            "content": [],
            "assistant_id": run["assistant_id"],
            "run_id": run["id"],
            "attachments": [],
            "metadata": {},
        }

    def _fail(self, run: dict, turn: "_Turn", code: str, text: str) -> None:
        now = self.now()
        message, step = turn.message, turn.step
        if message is not None and self.store.get("messages", message["id"]) is not None:
            message.update(status="incomplete", incomplete_at=now, incomplete_details={"reason": "run_failed"})
            self._save_message(message, "thread.message.incomplete")
        if step is not None and self.store.get("run_steps", step["id"]) is not None:
            step.update(status="failed", failed_at=now, last_error={"code": "server_error", "message": text})
            self._save_step(step, "thread.run.step.failed")
        if run_state.can_transition(run["status"], run_state.FAILED):
            self._finish(run, run_state.FAILED, last_error={"code": code, "message": text})


class _Turn:
    """What a turn has written so far (for failing it cleanly), and whether it only
    repeated answered calls (``wasted``: the usage of that discarded decode)."""

    step: dict | None = None
    message: dict | None = None
    repeat: bool = False
    stop: bool = False
    searchable: bool = False
    wasted: dict | None = None

    def reset(self) -> None:
        """For the next model turn of the run (what was wasted is still to be counted)."""
        self.step = self.message = None
        self.repeat = self.stop = False


def _call_key(name: str, arguments: str) -> tuple[str, str]:
    try:
        return name, json.dumps(json.loads(arguments), sort_keys=True)
    except ValueError:
        return name, arguments


def _answered_calls(steps: list[dict]) -> set[tuple[str, str]]:
    keys = set()
    for s in steps:
        if s["type"] != "tool_calls" or s["status"] != "completed":
            continue
        for c in s["step_details"]["tool_calls"]:
            if c["type"] == "function":
                keys.add(_call_key(c["function"]["name"], c["function"]["arguments"]))
            elif c["type"] == "code_interpreter":
                keys.add(_call_key("code_interpreter", c["code_interpreter"]["input"]))
            elif c["type"] == "file_search":
                keys.add(_call_key("file_search", json.dumps({"query": c["file_search"].get("query", "")})))
    return keys


def _add_usage(a: dict, b: dict | None) -> dict:
    if not b:
        return a
    return _usage(a["prompt_tokens"] + b["prompt_tokens"], a["completion_tokens"] + b["completion_tokens"])


def _usage(prompt: int, completion: int) -> dict:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
