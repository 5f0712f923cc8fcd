"""Executes one queued run on a local model: window, steps, message, events.

Every change of a run, step or message is saved and then published, so a
streaming client and a polling client see the same objects.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from ..core import run_state
from ..core.window import Strategy, WindowError, budget_for, build_window, render_items
from ..errors import LocalAssistantsError
from ..ids import new_id, now_s
from .history import ThreadHistory

log = logging.getLogger(__name__)

DEFAULT_TEMPERATURE = 1.0


class RunExecutor:
    def __init__(self, runs, models, *, default_max_completion_tokens: int, publish):
        self.runs = runs
        self.store = runs.store
        self.messages = runs.messages
        self.models = models
        self.default_max_completion_tokens = default_max_completion_tokens
        self.publish = publish
        self._cancel: set[str] = set()
        self._cancel_lock = threading.Lock()

    def now(self) -> int:
        return now_s(self.runs.clock)

    # -- cancellation -------------------------------------------------------
    def request_cancel(self, run_id: str) -> None:
        with self._cancel_lock:
            self._cancel.add(run_id)

    def cancel_requested(self, run_id: str) -> bool:
        with self._cancel_lock:
            return run_id in self._cancel

    # -- saving + publishing -------------------------------------------------
    def _run_to(self, run: dict, status: str, **fields: Any) -> dict:
        run = run_state.transition(run, status, self.now())
        run.update(fields)
        self.runs.save(run)
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
        step = message = None
        try:
            self._refuse_unsupported_tools(run)
            model = self.models.get(run["model"])
            prompt, window_info = self._prompt(run, model)
            step = self._new_step(run)
            message = self._new_message(run)
            self._generate(run, model, prompt, step, message)
        except WindowError as err:
            if err.reason == "max_prompt_tokens":
                self._run_to(self._fresh(run), run_state.INCOMPLETE, incomplete_details={"reason": "max_prompt_tokens"},
                             usage=_usage(0, 0))
            else:
                self._fail(run, step, message, "invalid_prompt", str(err))
        except LocalAssistantsError as err:
            self._fail(self._fresh(run), step, message, "server_error", err.message)
        except Exception as err:  # a bug or a native failure: the run fails, the server goes on
            log.exception("run %s failed", run_id)
            self._fail(self._fresh(run), step, message, "server_error", f"{type(err).__name__}: {err}")
        finally:
            with self._cancel_lock:
                self._cancel.discard(run_id)

    def _fresh(self, run: dict) -> dict:
        return self.store.get("runs", run["id"]) or run

    def _refuse_unsupported_tools(self, run: dict) -> None:
        choice = run.get("tool_choice")
        if isinstance(choice, dict) and choice.get("type") in ("code_interpreter", "file_search", "function"):
            raise LocalAssistantsError(
                f"tool_choice {choice['type']!r} is not supported by this server yet; "
                "run without forcing that tool."
            )

    def _prompt(self, run: dict, model, run_items=()) -> tuple[list[int], dict]:
        """The exact tokens the model is given, fitted to the budget.

        ``run_items``: what this run produced so far (tool calls, outputs, retrieved
        chunks) as window items, oldest first; they enter the window as its newest items.
        """
        fixed = [{"role": "system", "content": run["instructions"]}] if run["instructions"] else []
        count = model.count_tokens
        overhead = model.template.message_overhead(count)
        fixed_tokens = len(model.tokenize_prompt(model.template.render(fixed, add_generation_prompt=True)))
        reserve = run["max_completion_tokens"] or self.default_max_completion_tokens
        budget = budget_for(model.n_ctx, min(reserve, model.n_ctx // 2), run["max_prompt_tokens"])
        history = ThreadHistory(self.store, run["thread_id"], model.name, count, overhead)
        strategy = Strategy.from_request(run.get("truncation_strategy"))
        shrink = 0
        while True:
            window = build_window(fixed_tokens=fixed_tokens, newest_first=history.newest_first(run_items),
                                  budget=budget - shrink, strategy=strategy, first_user=history.first_user(),
                                  count=count, overhead=overhead)
            tokens = model.tokenize_prompt(model.format(render_items(fixed, window.items)))
            if len(tokens) <= budget:
                return tokens, {"items": len(window.items), "truncated": window.truncated}
            # The stored counts are per message; the template can add a few tokens: tighten and retry.
            shrink += len(tokens) - budget + 8

    def _new_step(self, run: dict) -> dict:
        step = {
            "id": new_id("step"),
            "object": "thread.run.step",
            "created_at": self.now(),
            "run_id": run["id"],
            "assistant_id": run["assistant_id"],
            "thread_id": run["thread_id"],
            "type": "message_creation",
            "status": "in_progress",
            "cancelled_at": None,
            "completed_at": None,
            "expired_at": None,
            "failed_at": None,
            "last_error": None,
            "step_details": {"type": "message_creation", "message_creation": {"message_id": None}},
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

    def _generate(self, run: dict, model, prompt: list[int], step: dict, message: dict) -> None:
        step["step_details"]["message_creation"]["message_id"] = message["id"]
        with self.store.transaction():
            self.store.insert("run_steps", step, thread_id=step["thread_id"], run_id=step["run_id"])
            self.messages.insert(message)
        self.publish(run["id"], "thread.run.step.created", step)
        self.publish(run["id"], "thread.run.step.in_progress", step)
        self.publish(run["id"], "thread.message.created", message)
        self.publish(run["id"], "thread.message.in_progress", message)

        limit = run["max_completion_tokens"] or self.default_max_completion_tokens
        temperature = run["temperature"] if run["temperature"] is not None else DEFAULT_TEMPERATURE
        top_p = run["top_p"] if run["top_p"] is not None else 1.0
        generation = model.generate(prompt, max_tokens=limit, temperature=temperature, top_p=top_p,
                                    should_stop=lambda: self.cancel_requested(run["id"]))
        first = True
        for piece in generation:
            part: dict = {"index": 0, "type": "text", "text": {"value": piece}}
            if first:
                part["text"]["annotations"] = []
                first = False
            self.publish(run["id"], "thread.message.delta",
                         {"id": message["id"], "object": "thread.message.delta", "delta": {"content": [part]}})
        done = generation.completion
        usage = _usage(done.prompt_tokens, done.completion_tokens)
        message["content"] = [{"type": "text", "text": {"value": done.text, "annotations": []}}]
        now = self.now()

        if done.finish_reason == "cancelled" or self.cancel_requested(run["id"]):
            message.update(status="incomplete", incomplete_at=now, incomplete_details={"reason": "run_cancelled"})
            self._save_message(message, "thread.message.incomplete")
            step.update(status="cancelled", cancelled_at=now, usage=usage)
            self._save_step(step, "thread.run.step.cancelled")
            self._run_to(self._fresh(run), run_state.CANCELLED, usage=usage)
            return
        if done.finish_reason == "length":
            message.update(status="incomplete", incomplete_at=now, incomplete_details={"reason": "max_tokens"})
            self._save_message(message, "thread.message.incomplete")
            step.update(status="completed", completed_at=now, usage=usage)
            self._save_step(step, "thread.run.step.completed")
            self._run_to(self._fresh(run), run_state.INCOMPLETE, usage=usage,
                         incomplete_details={"reason": "max_completion_tokens"})
            return
        message.update(status="completed", completed_at=now)
        self._save_message(message, "thread.message.completed")
        step.update(status="completed", completed_at=now, usage=usage)
        self._save_step(step, "thread.run.step.completed")
        self._run_to(self._fresh(run), run_state.COMPLETED, usage=usage)

    def _fail(self, run: dict, step: dict | None, message: dict | None, code: str, text: str) -> None:
        now = self.now()
        if message is not None and self.store.get("messages", message["id"]) is not None:
            message.update(status="incomplete", incomplete_at=now, incomplete_details={"reason": "run_failed"})
            self._save_message(message, "thread.message.incomplete")
        if step is not None and self.store.get("run_steps", step["id"]) is not None:
            step.update(status="failed", failed_at=now, last_error={"code": "server_error", "message": text})
            self._save_step(step, "thread.run.step.failed")
        if run_state.can_transition(run["status"], run_state.FAILED):
            self._run_to(run, run_state.FAILED, last_error={"code": code, "message": text})


def _usage(prompt: int, completion: int) -> dict:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
