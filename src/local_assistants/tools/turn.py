"""What one model turn may do, and decoding it: the run's tools, tool_choice,
parallel_tool_calls and response_format become the turn's plan (its system section,
its tool declarations, the grammar its output is decoded under)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

from ..core import grammar as G
from ..core.toolcalls import ToolProtocol
from ..ports import ChatModel, Generation
from .base import Declared, ToolHandler

MAX_TOOL_ROUNDS = 8
"""Model turns that may call tools in one run; after that the model must answer."""


@dataclass(frozen=True)
class TurnPlan:
    functions: list[dict]
    code: bool
    mode: str  # "auto" | "required" | "none"
    system_section: str
    grammar: G.Grammar | None
    json_answer: bool = False
    """The answer is JSON (response_format): a cut-short answer gets closed."""
    protocol: ToolProtocol = ToolProtocol(native=False)
    tools: list[dict] | None = None
    """Tool declarations for a template that lays them out itself (native protocol)."""

    @property
    def can_call(self) -> bool:
        return self.mode != "none" and bool(self.functions or self.code)


def plan_turn(run: dict, model: ChatModel, *, rounds_done: int, tools: Sequence[ToolHandler]) -> TurnPlan:
    """What this model turn may do, from the run's tools (as the ``tools`` offered to it
    declare them), tool_choice, parallel_tool_calls, response_format and how many tool
    rounds it has had."""
    choice = run.get("tool_choice") or "auto"
    mode = "auto"
    forced = None
    if choice == "none" or rounds_done >= MAX_TOOL_ROUNDS:
        mode = "none"
    elif rounds_done == 0 and (choice == "required" or isinstance(choice, dict)):
        # A forced choice applies to the first turn; after its outputs the model may answer.
        mode = "required"
        forced = choice if isinstance(choice, dict) else None
    functions: list[dict] = []
    code = False
    for tool in tools:
        declared = tool.declare(run)
        if forced is not None:
            declared = tool.forced(declared, forced) if forced["type"] == tool.kind else Declared()
        functions += declared.functions
        code = code or declared.code
    if not (functions or code):
        mode = "none"
    fmt = run.get("response_format")
    answer_schema = None
    json_answer = False
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        answer_schema = fmt["json_schema"].get("schema") or {"type": "object"}
    elif isinstance(fmt, dict) and fmt.get("type") == "json_object":
        json_answer = True
    protocol = ToolProtocol.for_template(model.template)
    grammar = G.build(functions=protocol.functions(functions, code),
                      code=code, mode=mode, parallel=run.get("parallel_tool_calls", True),
                      answer_schema=answer_schema, json_answer=json_answer,
                      schema_to_grammar=model.schema_to_grammar, json_object_grammar=model.json_object_grammar,
                      native_calls=protocol.native)
    section = protocol.section(functions, code, required=mode == "required") if mode != "none" else ""
    if answer_schema is not None:
        section += ("\n" if section else "") + "Answer with JSON matching this schema:\n" + json.dumps(answer_schema)
    elif json_answer:
        section += ("\n" if section else "") + "Answer with a JSON object."
    return TurnPlan(functions, code, mode, section, grammar,
                    json_answer=answer_schema is not None or json_answer, protocol=protocol,
                    tools=protocol.declarations(functions, code) if mode != "none" else None)


def system_messages(instructions: str, plan: TurnPlan) -> list[dict]:
    """The fixed head of a turn's prompt: the run's instructions and what the plan says
    about the tools (tool declarations go to the template separately: ``plan.tools``)."""
    system = "\n\n".join(p for p in (instructions, plan.system_section) if p)
    return [{"role": "system", "content": system}] if system else []


def generate_turn(model: ChatModel, prompt: list[int], plan: TurnPlan, *, max_tokens: int, temperature: float,
                  top_p: float, should_stop=None, logprobs: int | None = None, stop: Sequence[str] = (),
                  **sampling) -> Generation:
    """Decode one model turn as the plan allows: under its grammar, released once a plain
    answer has begun; no repetition penalty while tool calls are possible (calls repeat
    their own framing tokens)."""
    grammar = plan.grammar
    release = None
    if grammar is not None and grammar.free_after_first:
        release = lambda text: plan.protocol.opens_call(text) is False  # noqa: E731
    # Asked of the model only when wanted (seed, penalties, logit_bias...: a chat completion's own).
    extra = {**sampling, **({"logprobs": logprobs} if logprobs is not None else {}),
             **({"stop": list(stop)} if stop else {})}
    return model.generate(prompt, max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                          grammar=grammar.text if grammar else None, release_grammar=release,
                          repeat_penalty=1.0 if plan.can_call else None, should_stop=should_stop, **extra)
