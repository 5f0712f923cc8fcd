"""Executes one queued run on a local model: the run loop.

A run is model turns until the model answers (a message) or calls a tool the client
carries out (``requires_action``).  Each turn's prompt is the run's instructions, its
tools' declarations and the thread's history fitted to the token budget; what the
model writes is either an answer, streamed as message deltas, or tool calls, recorded
in a tool_calls step and carried out.  The loop knows no tool kind: the ``Toolbox``
says which tools a run has and how each declares, records, carries out and replays
its calls.  Every change of the run, its steps and its message goes through the
``RunRecorder`` (saved, then published).
"""

from __future__ import annotations

import itertools
import logging
import threading
from typing import Any

from ..core import run_state, step_state
from ..core.jsonrepair import close_json
from ..core.toolcalls import AnswerCode, CallStream, ParsedCall
from ..core.window import Strategy, WindowError, budget_for, build_window, render_items
from ..errors import LocalAssistantsError
from ..ids import new_id
from ..ports import ChatModel, ModelSource
from ..tools.base import Call, ToolHandler, Toolbox, call_key
from ..tools.turn import MAX_TOOL_ROUNDS, TurnPlan, generate_turn, plan_turn, system_messages
from .history import ThreadHistory
from .responses import is_response
from .recorder import RunMoved, RunRecorder

log = logging.getLogger(__name__)

DEFAULT_TEMPERATURE = 1.0
CRASH_MESSAGE = "The server stopped while this run was in progress."


class ServerStopping(LocalAssistantsError):
    """Raised inside a run when the server stops before the run could finish: the run
    then fails as a crash would have failed it."""

    def __init__(self):
        super().__init__(CRASH_MESSAGE)


class RunExecutor:
    """Executes runs on the models of ``models`` with the ``tools`` the server offers."""

    def __init__(self, recorder: RunRecorder, models: ModelSource, tools: Toolbox, *,
                 default_max_completion_tokens: int, requires_action_expiry_s: int = 600):
        self.recorder = recorder
        self.store = recorder.store
        self.models = models
        self.tools = tools
        self.default_max_completion_tokens = default_max_completion_tokens
        self.requires_action_expiry_s = requires_action_expiry_s
        self._cancel: set[str] = set()
        self._cancel_lock = threading.Lock()
        self._aborting = threading.Event()

    def publish(self, run_id: str, event: str, data: dict) -> None:
        self.recorder.publish(run_id, event, data)

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

    # -- the run -------------------------------------------------------------
    def execute(self, run_id: str) -> None:
        run = self.store.get("runs", run_id)
        if run is None or run["status"] != run_state.QUEUED:
            return
        rec = self.recorder
        try:
            run = rec.run_to(run, run_state.IN_PROGRESS)
        except RunMoved:
            return  # cancelled (or claimed) between the read and the write
        turn = _Turn()
        options = self.store.get("responses", run_id) if is_response(run_id) else None
        turn.max_tool_calls = (options or {}).get("max_tool_calls")
        turn.logprobs = (options or {}).get("top_logprobs") or 0 if "message.output_text.logprobs" in (
            (options or {}).get("include") or []) else None
        turn.truncation = {"type": "disabled"} if (options or {}).get("truncation") == "disabled" else None
        try:
            self._refuse_unsupported_tools(run)
            model = self.models.get(run["model"])
            overhead = model.template.message_overhead(model.count_tokens)
            turn.tools = self.tools.offered(run)
            reserve = run["max_completion_tokens"] or self.default_max_completion_tokens
            search_budget = budget_for(model.n_ctx, min(reserve, model.n_ctx // 2), run["max_prompt_tokens"]) // 2
            force_answer = False
            while True:  # model turns; tools run here, so only an answer or client calls end it
                steps = rec.steps(run_id)
                own = [s for s in steps if s["type"] == "tool_calls" and not _given(s)]
                rounds = MAX_TOOL_ROUNDS if force_answer else len(own)
                if turn.max_tool_calls is not None and sum(
                        len(s["step_details"]["tool_calls"]) for s in own) >= turn.max_tool_calls:
                    rounds = MAX_TOOL_ROUNDS  # the response's max_tool_calls: it must answer now
                plan = plan_turn(run, model, rounds_done=rounds, tools=turn.tools)
                prompt = self._prompt(run, model, plan,
                                      self.tools.replay_items(steps, model.count_tokens, overhead, search_budget,
                                                              plan.protocol), truncation=turn.truncation)
                used = sum((s.get("usage") or {}).get("completion_tokens", 0) for s in steps)
                turn.reset()
                more = self._turn(run, model, prompt, plan, turn, used, self.tools.answered(steps))
                if turn.repeat:
                    # The model only repeated calls it already has outputs for: it must answer now.
                    force_answer = True
                    continue
                if not more:
                    break
        except WindowError as err:
            if err.reason == "context_length_exceeded":
                self._fail(run, turn, "context_length_exceeded", str(err))
            elif err.reason == "max_prompt_tokens":
                self._finish(run, run_state.INCOMPLETE,
                             incomplete_details={"reason": "max_prompt_tokens"})
            else:
                self._fail(run, turn, "invalid_prompt", str(err))
        except LocalAssistantsError as err:
            self._fail(run, turn, "server_error", err.message)
        except Exception as err:  # a bug or a native failure: the run fails, the server goes on
            log.exception("run %s failed", run_id)
            self._fail(run, turn, "server_error", f"{type(err).__name__}: {err}")
        finally:
            with self._cancel_lock:
                self._cancel.discard(run_id)
            self.tools.finish(run_id)

    @property
    def supported_tools(self) -> frozenset[str]:
        return self.tools.supported

    def _refuse_unsupported_tools(self, run: dict) -> None:
        choice = run.get("tool_choice")
        if isinstance(choice, dict) and choice.get("type") not in self.tools.supported:
            raise LocalAssistantsError(
                f"tool_choice {choice['type']!r} is not supported by this server yet; "
                "run without forcing that tool."
            )
        self.tools.prepare(run)

    def _usage_so_far(self, run_id: str) -> dict:
        steps = self.recorder.steps(run_id)
        prompt = sum((s.get("usage") or {}).get("prompt_tokens", 0) for s in steps)
        completion = sum((s.get("usage") or {}).get("completion_tokens", 0) for s in steps)
        cached = sum(_cached(s.get("usage") or {}) for s in steps)
        return _usage(prompt, completion, cached)

    def _finish(self, run: dict, status: str, **fields: Any) -> dict:
        """The run leaves execution: a terminal status (with its usage summed over its steps)
        or ``requires_action``, in one conditional write. A cancel that came in meanwhile wins
        (the client was answered ``cancelling``): the run ends ``cancelled``. A run someone
        else already ended (a stopping server) is left as it is."""
        rec = self.recorder
        while True:
            current = rec.fresh(run)
            if current["status"] in run_state.TERMINAL:
                return current
            if current["status"] == run_state.CANCELLING and status != run_state.CANCELLED:
                status, fields = run_state.CANCELLED, {}
            if status == run_state.CANCELLED:
                rec.settle_steps(run["id"], step_state.CANCELLED)
            if status in run_state.TERMINAL:
                fields["usage"] = self._usage_so_far(run["id"])
            try:
                return rec.run_to(current, status, **fields)
            except RunMoved:
                continue  # moved between our read and our write: decide again

    def _prompt(self, run: dict, model: ChatModel, plan: TurnPlan, run_items=(), truncation: dict | None = None
                ) -> list[int]:
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
                                replay=lambda steps: self.tools.replayed_items(steps, count, overhead, plan.protocol))
        strategy = Strategy.from_request(truncation or run.get("truncation_strategy"))
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

    def _turn(self, run: dict, model: ChatModel, prompt: list[int], plan: TurnPlan, turn: "_Turn", used: int,
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
                self._finish(run, run_state.INCOMPLETE,
                             incomplete_details={"reason": "max_completion_tokens"})
                return False
        # A run that sets no sampling gets the model's recommended one, else OpenAI's defaults.
        recommended = model.sampling or {}
        temperature = run["temperature"] if run["temperature"] is not None else \
            recommended.get("temperature", DEFAULT_TEMPERATURE)
        top_p = run["top_p"] if run["top_p"] is not None else recommended.get("top_p", 1.0)
        generation = generate_turn(model, prompt, plan, max_tokens=limit, temperature=temperature, top_p=top_p,
                                   should_stop=lambda: turn.stop or self.cancel_requested(run["id"]),
                                   logprobs=turn.logprobs)
        try:
            pieces = iter(generation)
            head = ""
            for piece in pieces:  # the first characters decide: an answer or tool calls
                head += piece
                if plan.protocol.opens_call(head) is not None:
                    break
            rest = itertools.chain([head] if head else [], pieces)
            if plan.can_call and plan.protocol.opens_call(head):
                return self._tool_calls_turn(run, rest, generation, turn, answered, plan.protocol)
            watcher = None
            if plan.can_call:  # a tool may watch the answer for a call written in it (see AnswerCode)
                watcher = next(((t, w) for t in turn.tools if (w := t.watch_answer(plan, answered)) is not None),
                               None)
            return self._message_turn(run, rest, generation, turn, json_answer=plan.json_answer, watcher=watcher)
        finally:
            generation.close()  # read to its end normally; an error must not leave the model held

    def _message_turn(self, run: dict, pieces, generation, turn: "_Turn", json_answer: bool = False,
                      watcher: tuple[ToolHandler, AnswerCode] | None = None) -> bool:
        """An answer, streamed as message deltas. Returns True when the run goes on: the
        answer held a call (``watcher``), now a tool_calls step after the message."""
        rec = self.recorder
        leading, annotate = self.tools.answer(run)
        step, message = rec.open_message(run)
        turn.step, turn.message = step, message
        for i, part in enumerate(leading):  # e.g. images the code displayed come first, as on OpenAI
            rec.message_delta(message, {"index": i, **part})
        text_index = len(leading)
        answer_code = watcher[1] if watcher is not None else None

        def shown(pieces):
            for piece in pieces:
                if answer_code is not None:
                    piece = answer_code.feed(piece)
                    turn.stop = turn.stop or answer_code.done  # the decoder stops at its next token
                if piece:
                    yield piece
            tail = answer_code.rest() if answer_code is not None else ""
            if tail:  # no call in it after all: what was held back is answer text
                yield tail

        first = True
        for piece in shown(pieces):
            part: dict = {"index": text_index, "type": "text", "text": {"value": piece}}
            if first:
                part["text"]["annotations"] = []
                first = False
            rec.message_delta(message, part)
        done = generation.completion
        usage = _add_usage(_completion_usage(done), turn.wasted)
        turn.wasted = None
        text = done.text
        call_to_make = answer_code is not None and answer_code.done and not self.cancel_requested(run["id"])
        if call_to_make:
            text = answer_code.before
        if json_answer and done.finish_reason == "length":
            text = close_json(text) or text  # still incomplete, but parseable
        text, annotations = annotate(text)
        if text != done.text and text.startswith(done.text):
            rec.message_delta(message, {"index": text_index, "type": "text",
                                        "text": {"value": text[len(done.text):]}})
        message["content"] = [*leading, {"type": "text", "text": {"value": text, "annotations": annotations}}]
        if turn.logprobs is not None and done.logprobs is not None:
            message["content"][-1]["logprobs"] = done.logprobs

        if (done.finish_reason == "cancelled" and not call_to_make) or self.cancel_requested(run["id"]):
            rec.message_to(message, "incomplete", incomplete_details={"reason": "run_cancelled"})
            rec.step_to(step, step_state.CANCELLED, usage=usage)
            self._finish(run, run_state.CANCELLED)
            return False
        if done.finish_reason == "length" and not call_to_make:
            rec.message_to(message, "incomplete", incomplete_details={"reason": "max_tokens"})
            rec.step_to(step, step_state.COMPLETED, usage=usage)
            self._finish(run, run_state.INCOMPLETE,
                         incomplete_details={"reason": "max_completion_tokens"})
            return False
        rec.message_to(message, "completed")
        rec.step_to(step, step_state.COMPLETED, usage=usage)
        if call_to_make:  # the message said what it was about to do; the call is a step of its own
            turn.step = turn.message = None
            kept: list[dict] = []
            tool = watcher[0]
            self._publish_call(run, turn, kept, tool, tool.call_in_answer(answer_code))
            return self._carry_out(run, turn.step, kept, _usage(0, 0))
        self._finish(run, run_state.COMPLETED)
        return False

    def _tool_calls_turn(self, run: dict, pieces, generation, turn: "_Turn",
                         answered: set[tuple[str, str]], protocol) -> bool:
        """Calls are published one by one as each is complete (its id, name and argument
        chunks as OpenAI sends them), so a repeated call is dropped before anyone saw it.
        Tools that run here run now; calls the client carries out wait (requires_action).
        Returns True when the run goes on with another model turn."""
        rec = self.recorder
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
                key = call_key(call.name, call.arguments)
                if key in seen:
                    turn.stop = True
                    break
                seen.add(key)
                self._publish_call(run, turn, kept, self.tools.claiming(call, turn.tools), call)
        done = generation.completion
        usage = _add_usage(_completion_usage(done), turn.wasted)
        turn.wasted = None
        if self.cancel_requested(run["id"]):
            if turn.step is not None:
                rec.step_to(turn.step, step_state.CANCELLED, usage=usage)
            self._finish(run, run_state.CANCELLED)
            return False
        if not kept:
            if turn.stop:  # only repeats of answered calls: the model must answer instead
                turn.repeat = True
                turn.wasted = usage
                return False
            # The token limit fell inside the first call: a failed step, written once.
            step = turn.step = rec.new_step(run, "tool_calls")
            step_state.transition(step, step_state.FAILED, rec.now())
            step.update(usage=usage, last_error={
                "code": "server_error", "message": "The model reached its token limit inside a tool call."})
            rec.insert_step(step)
            self._finish(run, run_state.INCOMPLETE,
                         incomplete_details={"reason": "max_completion_tokens"})
            return False
        return self._carry_out(run, turn.step, kept, usage)

    def _carry_out(self, run: dict, step: dict, kept: list[dict], usage: dict) -> bool:
        """Carry out a tool_calls step's calls: here for the tools that run here, by the
        client for the others (requires_action). Returns True when the run goes on with
        another model turn."""
        rec = self.recorder
        now = rec.now()
        step["step_details"]["tool_calls"] = kept
        step["usage"] = usage
        rec.save_step(step)
        for index, call in enumerate(kept):
            carried = Call(run, step, index, call, save_step=lambda: rec.save_step(step),
                           publish_delta=lambda delta: rec.step_delta(step, delta),
                           cancelled=lambda: self.cancel_requested(run["id"]))
            if not self.tools.handler(call["type"]).execute(carried):
                rec.step_to(step, step_state.CANCELLED)
                self._finish(run, run_state.CANCELLED)
                return False
        waiting = [c for c in kept if self.tools.handler(c["type"]).waits_for_client]
        if not waiting:
            rec.step_to(step, step_state.COMPLETED)
            return True
        if is_response(run["id"]):
            # A response ends with the calls as output items; their outputs come as the input of
            # the next response (there is no requires_action in the Responses API).
            rec.step_to(step, step_state.COMPLETED)
            self._finish(run, run_state.COMPLETED)
            return False
        required = {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [
            self.tools.handler(c["type"]).required(c) for c in waiting]}}
        self._finish(run, run_state.REQUIRES_ACTION, required_action=required,
                     expires_at=now + self.requires_action_expiry_s)
        return False

    def _publish_call(self, run: dict, turn: "_Turn", kept: list[dict], tool: ToolHandler, call: ParsedCall) -> None:
        """Open the tool_calls step on the first call; then the complete call's deltas."""
        if turn.step is None:
            turn.step = self.recorder.open_step(run, "tool_calls")
        stored, deltas = tool.record(call, new_id("call"), len(kept))
        kept.append(stored)
        self.recorder.index_call(turn.step, stored)
        for delta in deltas:
            self.recorder.step_delta(turn.step, delta)

    def _fail(self, run: dict, turn: "_Turn", code: str, text: str) -> None:
        rec = self.recorder
        message, step = turn.message, turn.step
        if message is not None and self.store.get("messages", message["id"]) is not None \
                and message["status"] == "in_progress":
            rec.message_to(message, "incomplete", incomplete_details={"reason": "run_failed"})
        if step is not None and self.store.get("run_steps", step["id"]) is not None \
                and step_state.can_transition(step["status"], step_state.FAILED):
            rec.step_to(step, step_state.FAILED, last_error={"code": "server_error", "message": text})
        self._finish(run, run_state.FAILED, last_error={"code": code, "message": text})


class _Turn:
    """What a turn has written so far (for failing it cleanly), and whether it only
    repeated answered calls (``wasted``: the usage of that discarded decode)."""

    step: dict | None = None
    message: dict | None = None
    repeat: bool = False
    stop: bool = False
    tools: list[ToolHandler] = []
    """The tools offered to the run's model (decided once per run)."""
    wasted: dict | None = None
    max_tool_calls: int | None = None
    """A response's limit on the calls of its tools."""
    logprobs: int | None = None
    """A response that includes its text's logprobs: how many of the top tokens each."""
    truncation: dict | None = None
    """A response's ``truncation: disabled`` (the window may drop nothing)."""

    def reset(self) -> None:
        """For the next model turn of the run (what was wasted is still to be counted)."""
        self.step = self.message = None
        self.repeat = self.stop = False


def _given(step: dict) -> bool:
    """A step holding a response's input (calls and outputs the client gave), or written before
    its first turn (an MCP server's listing, a call the input approved): not a turn's calls."""
    metadata = step.get("metadata") or {}
    return bool(metadata.get("response_input") or metadata.get("before_turns"))


def _cached(usage: dict) -> int:
    return (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)


def _add_usage(a: dict, b: dict | None) -> dict:
    if not b:
        return a
    return _usage(a["prompt_tokens"] + b["prompt_tokens"], a["completion_tokens"] + b["completion_tokens"],
                  _cached(a) + _cached(b))


def _completion_usage(done) -> dict:
    return _usage(done.prompt_tokens, done.completion_tokens, done.cached_tokens)


def _usage(prompt: int, completion: int, cached: int = 0) -> dict:
    """A usage object; the prompt tokens the engine reused from its cache are counted when there are any."""
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    if cached:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    return usage
