"""The baseline: the same task without the runtime.

The very messages the runtime's executor builds (the Math Tutor instructions, the
code tool's system section from ``plan_turn``, the user's question, then each
code call and its output) are formatted with the model's chat template and
decoded by ``LlamaChatModel.generate`` (llama-cpp-python's own ``Llama.generate``)
with the same sampling settings and grammars.  No server, SDK, database, window
or executor is involved.

In ``code_interpreter`` mode this is the grammar-constrained prototype: the
first turn must be a code call (the forced ``tool_choice``); the code runs in a
sandboxed Jupyter kernel, which shows the last expression's value as a notebook
does; its output goes back to the model, which answers (or writes more code,
up to the runtime's tool-round limit; a repeated call makes it answer).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ...core.toolcalls import CallStream
from ...tools.code_interpreter import CodeInterpreterTool
from ...tools.functions import FunctionTool
from ...tools.turn import MAX_TOOL_ROUNDS, generate_turn, plan_turn, system_messages

TOOLS = (FunctionTool(), CodeInterpreterTool(None))
"""The tools a baseline turn declares (as a run offers them; the code runs here, not through a runner)."""


@dataclass
class Outcome:
    """What one task produced, the same for the runtime and the baseline."""

    status: str  # completed | incomplete | failed | error
    answer: str = ""
    calls: list[dict] = field(default_factory=list)  # {"input": code, "logs": [texts]}
    latency_s: float = 0.0
    ttft_s: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    answer_tokens: int = 0
    answer_decode_s: float | None = None
    """From the answer's first streamed piece to its last (for decode tokens/s)."""
    error: str | None = None
    thread_id: str | None = None


def run_request(instructions: str, mode: str) -> dict:
    """The run as the executor sees it (the fields ``plan_turn`` reads)."""
    code = mode == "code_interpreter"
    return {"instructions": instructions,
            "tools": [{"type": "code_interpreter"}] if code else [],
            "tool_choice": {"type": "code_interpreter"} if code else "auto",
            "parallel_tool_calls": True, "response_format": "auto"}


def run_baseline(model, question: str, *, instructions: str, mode: str, temperature: float, top_p: float,
                 max_tokens: int, execute=None) -> Outcome:
    """One task on ``model`` (a LlamaChatModel) without the runtime.

    ``execute(code) -> logs`` runs code (a sandboxed kernel); needed in code mode.
    """
    run = run_request(instructions, mode)
    history: list[dict] = [{"role": "user", "content": question}]
    out = Outcome(status="completed")
    answered: set[str] = set()
    rounds, force_answer = 0, False
    start = time.perf_counter()
    while True:
        plan = plan_turn(run, model, rounds_done=MAX_TOOL_ROUNDS if force_answer else rounds, tools=TOOLS)
        fixed = system_messages(instructions, plan)
        prompt = model.tokenize_prompt(model.format([*fixed, *history], tools=plan.tools))
        # As the runtime's window does, within the same budget: the oldest code rounds go first.
        budget = model.n_ctx - min(max_tokens, model.n_ctx // 2)
        while len(prompt) > budget and len(history) > 3:
            del history[1:3]
            prompt = model.tokenize_prompt(model.format([*fixed, *history], tools=plan.tools))
        if len(prompt) > budget:
            out.status, out.error = "incomplete", f"the prompt has {len(prompt)} tokens, over the budget {budget}"
            break
        limit = max_tokens - out.completion_tokens
        if limit <= 0:
            out.status = "incomplete"
            break
        generation = generate_turn(model, prompt, plan, max_tokens=limit, temperature=temperature, top_p=top_p)
        text, first, last = "", None, None
        for piece in generation:
            now = time.perf_counter()
            if first is None:
                first = now
                if out.ttft_s is None:
                    out.ttft_s = now - start
            last = now
            text += piece
        done = generation.completion
        out.prompt_tokens += done.prompt_tokens
        out.completion_tokens += done.completion_tokens
        if plan.can_call and plan.protocol.opens_call(text):
            # The calls written to their end, as the runtime's executor reads them: a call cut
            # short by the token limit is not run.
            ended = [event.call for event in CallStream().feed(text) if event.kind == "end"]
            calls = [c for c in map(plan.protocol.read, ended) if c.kind == "code_interpreter"]
            fresh = [c for c in calls if c.arguments not in answered]
            if not fresh:
                if calls:  # only a repeat of an answered call: the model must answer now
                    force_answer = True
                    continue
                out.status = "incomplete"  # the token limit fell inside the call
                break
            for call in fresh:
                answered.add(call.arguments)
                logs = execute(call.arguments)
                out.calls.append({"input": call.arguments, "logs": [logs]})
                # In the model's own tool protocol, as the runtime replays a run's steps.
                said, chat = plan.protocol.calls_message([call])
                history.append({"role": "assistant", "content": said, **(chat or {})})
                shown, chat = plan.protocol.result_message("", logs)
                history.append({"role": "user", "content": shown, **(chat or {})})
            rounds += 1
            continue
        out.answer = text
        out.answer_tokens = done.completion_tokens
        if first is not None and last is not None and last > first:
            out.answer_decode_s = last - first
        if done.finish_reason == "length":
            out.status = "incomplete"
        break
    out.latency_s = time.perf_counter() - start
    return out


@dataclass
class KernelRunner:
    """Runs a task's code in its own sandboxed kernel from the runtime's pool (as the
    runtime's code interpreter does for a new thread), and frees it afterwards."""

    kernels: object  # adapters.jupyter.KernelPool
    name: str
    timeout_s: float

    def __call__(self, code: str) -> str:
        kernel, _fresh = self.kernels.kernel_for(self.name)
        result = kernel.execute(code, timeout=self.timeout_s)
        return result.logs or "(no output)"
