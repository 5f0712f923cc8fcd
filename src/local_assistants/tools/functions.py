"""Function tools: which calls a model turn may make, the grammar that enforces it,
and how a run's earlier calls and outputs are replayed to the model."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..core import grammar as G
from ..core.toolcalls import ParsedCall, call_text, tools_section
from ..core.window import WindowItem

MAX_TOOL_ROUNDS = 8
"""Model turns that may call tools in one run; after that the model must answer."""

SUPPORTED_TOOLS = frozenset({"function"})


@dataclass(frozen=True)
class TurnPlan:
    functions: list[dict]
    code: bool
    mode: str  # "auto" | "required" | "none"
    system_section: str
    grammar: G.Grammar | None
    json_answer: bool = False
    """The answer is JSON (response_format): a cut-short answer gets closed."""

    @property
    def can_call(self) -> bool:
        return self.mode != "none" and bool(self.functions or self.code)


def plan_turn(run: dict, model, *, rounds_done: int, supported: frozenset[str] = SUPPORTED_TOOLS) -> TurnPlan:
    """What this model turn may do, from the run's tools, tool_choice, parallel_tool_calls,
    response_format and how many tool rounds it has had."""
    functions = [t["function"] for t in run["tools"] if t["type"] == "function" and "function" in supported]
    code = "code_interpreter" in supported and any(t["type"] == "code_interpreter" for t in run["tools"])
    choice = run.get("tool_choice") or "auto"
    mode = "auto"
    if choice == "none" or rounds_done >= MAX_TOOL_ROUNDS:
        mode = "none"
    elif rounds_done == 0 and (choice == "required" or isinstance(choice, dict)):
        # A forced choice applies to the first turn; after its outputs the model may answer.
        mode = "required"
        if isinstance(choice, dict):
            if choice["type"] == "function":
                functions = [f for f in functions if f["name"] == choice["function"]["name"]]
                code = False
            elif choice["type"] == "code_interpreter":
                functions = []
    if not (functions or code):
        mode = "none"
    fmt = run.get("response_format")
    answer_schema = None
    json_answer = False
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        answer_schema = fmt["json_schema"].get("schema") or {"type": "object"}
    elif isinstance(fmt, dict) and fmt.get("type") == "json_object":
        json_answer = True
    grammar = G.build(functions=functions, code=code, mode=mode, parallel=run.get("parallel_tool_calls", True),
                      answer_schema=answer_schema, json_answer=json_answer,
                      schema_to_grammar=model.schema_to_grammar, json_object_grammar=model.json_object_grammar)
    section = tools_section(functions, code, required=mode == "required") if mode != "none" else ""
    if answer_schema is not None:
        section += ("\n" if section else "") + "Answer with JSON matching this schema:\n" + json.dumps(answer_schema)
    elif json_answer:
        section += ("\n" if section else "") + "Answer with a JSON object."
    return TurnPlan(functions, code, mode, section, grammar,
                    json_answer=answer_schema is not None or json_answer)


def replay_items(steps: list[dict], count, overhead: int) -> list[WindowItem]:
    """A run's completed tool-call steps as window items: each step's calls and their
    outputs form one group, kept or dropped together."""
    items: list[WindowItem] = []
    for step in steps:
        if step["type"] != "tool_calls" or step["status"] != "completed":
            continue
        calls = step["step_details"]["tool_calls"]
        said = "\n".join(call_text(_parsed(c)) for c in calls)
        items.append(WindowItem(step["id"] + ":calls", "assistant", said, count(said) + overhead, group=step["id"]))
        for c in calls:
            text = "<tool_response>\n" + _output_text(c) + "\n</tool_response>"
            items.append(WindowItem(f"{step['id']}:{c['id']}", "user", text, count(text) + overhead,
                                    group=step["id"]))
    return items


def _parsed(call: dict) -> ParsedCall:
    if call["type"] == "function":
        return ParsedCall("function", call["function"]["name"], call["function"]["arguments"])
    if call["type"] == "code_interpreter":
        return ParsedCall("code_interpreter", "code_interpreter", call["code_interpreter"]["input"])
    return ParsedCall(call["type"], call["type"], "")


def _output_text(call: dict) -> str:
    if call["type"] == "function":
        return f"{call['function']['name']}: {call['function'].get('output') or ''}"
    if call["type"] == "code_interpreter":
        logs = [o.get("logs", "") for o in call["code_interpreter"].get("outputs", []) if o["type"] == "logs"]
        return "\n".join(logs) or "(no output)"
    return json.dumps(call.get(call["type"], {}))
