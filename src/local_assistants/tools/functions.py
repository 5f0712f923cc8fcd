"""Function tools: which calls a model turn may make, the grammar that enforces it,
and how a run's earlier calls and outputs are replayed to the model."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from ..core import grammar as G
from ..core.toolcalls import ParsedCall, ToolProtocol
from ..core.window import WindowItem
from . import file_search

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
    protocol: ToolProtocol = ToolProtocol(native=False)
    tools: list[dict] | None = None
    """Tool declarations for a template that lays them out itself (native protocol)."""

    @property
    def can_call(self) -> bool:
        return self.mode != "none" and bool(self.functions or self.code)


def plan_turn(run: dict, model, *, rounds_done: int, supported: frozenset[str] = SUPPORTED_TOOLS,
              searchable: bool = False) -> TurnPlan:
    """What this model turn may do, from the run's tools, tool_choice, parallel_tool_calls,
    response_format and how many tool rounds it has had.  ``searchable``: the run has
    vector stores, so file search is offered (as a function ``file_search(query)``)."""
    functions = [t["function"] for t in run["tools"] if t["type"] == "function" and "function" in supported]
    if searchable and "file_search" in supported and any(t["type"] == "file_search" for t in run["tools"]):
        functions = [file_search.FUNCTION, *functions]
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
            elif choice["type"] == "file_search":
                functions = [f for f in functions if f["name"] == file_search.FUNCTION["name"]]
                code = False
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


def generate_turn(model, prompt: list[int], plan: TurnPlan, *, max_tokens: int, temperature: float,
                  top_p: float, should_stop=None):
    """Decode one model turn as the plan allows: under its grammar, released once a plain
    answer has begun; no repetition penalty while tool calls are possible (calls repeat
    their own framing tokens)."""
    grammar = plan.grammar
    release = None
    if grammar is not None and grammar.free_after_first:
        release = lambda text: plan.protocol.opens_call(text) is False  # noqa: E731
    return model.generate(prompt, max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                          grammar=grammar.text if grammar else None, release_grammar=release,
                          repeat_penalty=1.0 if plan.can_call else None, should_stop=should_stop)


def replay_items(steps: list[dict], count, overhead: int, search_budget: int = 2000,
                 protocol: ToolProtocol = ToolProtocol(native=False)) -> list[WindowItem]:
    """A run's completed tool-call steps as window items, in the model's tool protocol:
    each step's calls and their outputs form one group, kept or dropped together
    (search results limited to ``search_budget`` tokens).  A result is an input item
    for the window (role ``user``) whatever role the template gives it."""
    items: list[WindowItem] = []
    for step in steps:
        if step["type"] != "tool_calls" or step["status"] != "completed":
            continue
        calls = step["step_details"]["tool_calls"]
        if calls and all(c["type"] == "file_search" for c in calls):
            items += _search_items(step, calls, count, overhead, search_budget, protocol)
            continue
        said, chat = protocol.calls_message([_parsed(c) for c in calls])
        items.append(WindowItem(step["id"] + ":calls", "assistant", said, count(said) + overhead,
                                group=step["id"], chat=chat))
        for c in calls:
            text, chat = protocol.result_message(*_output(c))
            items.append(WindowItem(f"{step['id']}:{c['id']}", "user", text, count(text) + overhead,
                                    group=step["id"], chat=chat))
    return items


def replayed_items(steps: list[dict], count, overhead: int, protocol: ToolProtocol) -> list[WindowItem]:
    """An earlier run's code and function calls with their outputs, as history: its file
    searches are left out (the run's answer carries what it found, with citations)."""
    kept = [s for s in steps if not any(c["type"] == "file_search"
                                        for c in (s.get("step_details") or {}).get("tool_calls") or [])]
    return [replace(item, replayed=True) for item in replay_items(kept, count, overhead, 0, protocol)]


def _search_items(step: dict, calls: list[dict], count, overhead: int, budget: int,
                  protocol: ToolProtocol) -> list[WindowItem]:
    """A search call and its results, one group: the results, best first, as many as fit
    in ``budget`` tokens (the weakest are left out, not the whole search)."""
    items: list[WindowItem] = []
    for c in calls:
        said, call_chat = protocol.calls_message([_parsed(c)])
        group = f"{step['id']}:{c['id']}"
        parts, used = [], count(said) + 2 * overhead
        for i, r in enumerate(c["file_search"].get("results") or []):
            part = f"[{i}] {r['file_name']}:\n" + " ".join(p["text"] for p in r.get("content") or [])
            cost = count(part) + 1
            if used + cost > budget:
                break
            parts.append(part)
            used += cost
        text, chat = protocol.result_message("", "\n\n".join(parts) or "No results.")
        items.append(WindowItem(group + ":call", "assistant", said, count(said) + overhead, group=group,
                                chat=call_chat))
        items.append(WindowItem(group + ":results", "user", text, count(text) + overhead, group=group, chat=chat))
    return items


def _parsed(call: dict) -> ParsedCall:
    if call["type"] == "function":
        return ParsedCall("function", call["function"]["name"], call["function"]["arguments"])
    if call["type"] == "code_interpreter":
        return ParsedCall("code_interpreter", "code_interpreter", call["code_interpreter"]["input"])
    if call["type"] == "file_search":
        query = call["file_search"].get("query") or ""
        return ParsedCall("function", "file_search", json.dumps({"query": query}))
    return ParsedCall(call["type"], call["type"], "")


def _output(call: dict) -> tuple[str, str]:
    """(the tool's name, its output text) of a stored call."""
    if call["type"] == "function":
        return call["function"]["name"], call["function"].get("output") or ""
    if call["type"] == "code_interpreter":
        logs = [o.get("logs", "") for o in call["code_interpreter"].get("outputs", []) if o["type"] == "logs"]
        return "", "\n".join(logs) or "(no output)"
    return "", json.dumps(call.get(call["type"], {}))
