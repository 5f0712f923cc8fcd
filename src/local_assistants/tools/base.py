"""One interface for every tool a run can use, and the set of them a server offers.

A ``ToolHandler`` says, for one kind of tool call (``function``, ``code_interpreter``,
``file_search``): whether a run can use it, how it is declared to the model, which of
the model's calls are its own, how a call is recorded in a step and streamed, how it is
carried out, what it adds to the answer, and how a call and its result are shown to the
model again (replay, in this run's later turns and in the thread's later runs).  The run
loop (``services.executor``) knows no tool kind: it asks the ``Toolbox``.

Adding a tool kind: one module with its handler, and a line in ``tools.registry``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

from ..core.toolcalls import AnswerCode, ParsedCall, ToolProtocol
from ..core.window import WindowItem


@dataclass(frozen=True)
class Declared:
    """What a tool declares to the model for one turn: functions it may call (JSON-schema
    declarations), and whether it may run code."""

    functions: Sequence[dict] = ()
    code: bool = False


@dataclass
class Call:
    """One call being carried out: the run, the step holding it, its place there.

    ``save_step()`` writes what the call now holds; ``delta(d)`` streams a delta of it
    (``d`` without ``index``: it is added); ``cancelled()`` says whether the run was
    cancelled meanwhile.
    """

    run: dict
    step: dict
    index: int
    call: dict
    save_step: Callable[[], object]
    publish_delta: Callable[[dict], None]
    cancelled: Callable[[], bool]

    def delta(self, delta: dict) -> None:
        self.publish_delta({"index": self.index, **delta})


@dataclass
class Answer:
    """What a tool adds to the run's answer message: content parts shown before its text
    (images the code displayed), and ``annotate(text) -> (text, annotations)``."""

    parts: list[dict] = field(default_factory=list)
    annotate: Callable[[str], tuple[str, list[dict]]] | None = None


class ToolHandler:
    """One kind of tool call; the defaults are those of a tool with nothing special."""

    kind: str = ""
    """The tool's ``type`` in a run's ``tools`` and its calls' ``type`` in a step."""
    waits_for_client = False
    """Its calls are carried out by the client (``requires_action``)."""
    replayed_in_history = True
    """An earlier run's calls of it come back in the thread's history (as the run made them)."""

    @property
    def available(self) -> bool:
        """This server can carry out such calls (a tool_choice forcing it is accepted)."""
        return True

    def requested(self, run: dict) -> bool:
        return any(t["type"] == self.kind for t in run["tools"])

    def offered(self, run: dict) -> bool:
        """The run's model may call it (decided once per run)."""
        return self.available

    def prepare(self, run: dict) -> None:
        """Before the run's first turn, when the run has this tool: raise a
        ``LocalAssistantsError`` if it cannot work, or get it ready."""

    def declare(self, run: dict) -> Declared:
        return Declared()

    def forced(self, declared: Declared, choice: dict) -> Declared:
        """What is left declared when ``tool_choice`` forces this kind (``choice``)."""
        return declared

    def claims(self, call: ParsedCall) -> bool:
        """The model's call is one of this tool's."""
        return False

    def record(self, call: ParsedCall, call_id: str, index: int) -> tuple[dict, list[dict]]:
        """The call as its step stores it, and the deltas that stream it: its id, type and
        name once, then its input (the SDK concatenates strings, adds numbers)."""
        raise NotImplementedError

    def execute(self, call: Call) -> bool:
        """Carry the call out here (functions: nothing, the client does); False when the run
        was cancelled meanwhile and must stop."""
        return True

    def required(self, call: dict) -> dict:
        """The call as ``required_action.submit_tool_outputs.tool_calls`` lists it."""
        raise NotImplementedError

    def answer(self, run: dict) -> Answer:
        return Answer()

    def watch_answer(self, plan, answered: set[tuple[str, str]]) -> AnswerCode | None:
        """A watcher of the answer's text for a call written in it (see ``AnswerCode``), or None."""
        return None

    def call_in_answer(self, watcher: AnswerCode) -> ParsedCall:
        raise NotImplementedError

    def finish(self, run_id: str) -> None:
        """The run ended: forget what was kept for it."""

    # -- replay --------------------------------------------------------------------
    def parsed(self, call: dict) -> ParsedCall:
        """A stored call as the model wrote it."""
        return ParsedCall(call["type"], call["type"], "")

    def output(self, call: dict) -> tuple[str, str]:
        """(the tool's name, its output text) of a stored call."""
        return "", json.dumps(call.get(call["type"], {}))

    def replay(self, step: dict, calls: list[dict], count, overhead: int, budget: int,
               protocol: ToolProtocol) -> list[WindowItem] | None:
        """A step holding only this tool's calls as window items, or None: calls and outputs
        as every tool's are (``Toolbox.replay_items``)."""
        return None


def call_key(name: str, arguments: str) -> tuple[str, str]:
    """What makes two calls the same call (arguments compared as JSON when they are JSON)."""
    try:
        return name, json.dumps(json.loads(arguments), sort_keys=True)
    except ValueError:
        return name, arguments


class Toolbox:
    """The tools a server offers, in order: the order functions are declared in, and
    (reversed) the order they annotate an answer in."""

    def __init__(self, handlers: Sequence[ToolHandler]):
        self.handlers = list(handlers)
        self._by_kind = {h.kind: h for h in self.handlers}
        self._plain = ToolHandler()

    def handler(self, kind: str) -> ToolHandler:
        """The handler of a stored call's ``type`` (one with no handler gets the plain defaults)."""
        return self._by_kind.get(kind, self._plain)

    @property
    def supported(self) -> frozenset[str]:
        return frozenset(h.kind for h in self.handlers if h.available)

    def offered(self, run: dict) -> list[ToolHandler]:
        return [h for h in self.handlers if h.offered(run)]

    def prepare(self, run: dict) -> None:
        for h in self.handlers:
            if h.available and h.requested(run):
                h.prepare(run)

    def claiming(self, call: ParsedCall, offered: Sequence[ToolHandler]) -> ToolHandler:
        """The offered tool a call of the model belongs to: one that claims it, else a
        function (the run's own functions are whatever no other tool claims)."""
        functions = self._by_kind["function"]
        return next((h for h in offered if h is not functions and h.claims(call)), functions)

    def finish(self, run_id: str) -> None:
        for h in self.handlers:
            h.finish(run_id)

    def answered(self, steps: list[dict]) -> set[tuple[str, str]]:
        """The calls of a run's completed tool steps (a repeat of one is not carried out again)."""
        keys = set()
        for s in steps:
            if s["type"] != "tool_calls" or s["status"] != "completed":
                continue
            for c in s["step_details"]["tool_calls"]:
                if c["type"] in self._by_kind:
                    parsed = self.handler(c["type"]).parsed(c)
                    keys.add(call_key(parsed.name, parsed.arguments))
        return keys

    def answer(self, run: dict) -> tuple[list[dict], Callable[[str], tuple[str, list[dict]]]]:
        """Content parts the tools put before the answer's text, and the function annotating
        the text: the last tool's first (the code's files), each one's annotations placed
        before those of the tools that annotated before it."""
        answers = [h.answer(run) for h in self.handlers]

        def annotate(text: str) -> tuple[str, list[dict]]:
            annotations: list[dict] = []
            for a in reversed(answers):
                if a.annotate is not None:
                    text, found = a.annotate(text)
                    annotations = found + annotations
            return text, annotations

        return [p for a in answers for p in a.parts], annotate

    # -- replay --------------------------------------------------------------------
    def replay_items(self, steps: list[dict], count, overhead: int, search_budget: int = 2000,
                     protocol: ToolProtocol = ToolProtocol(native=False)) -> list[WindowItem]:
        """A run's completed tool-call steps as window items, in the model's tool protocol:
        each step's calls and their outputs form one group, kept or dropped together (a
        tool may lay out its own steps: file search limits its results to ``search_budget``
        tokens).  A result is an input item for the window (role ``user``) whatever role
        the template gives it."""
        items: list[WindowItem] = []
        for step in steps:
            if step["type"] != "tool_calls" or step["status"] != "completed":
                continue
            calls = step["step_details"]["tool_calls"]
            kinds = {c["type"] for c in calls}
            own = (self.handler(kinds.pop()).replay(step, calls, count, overhead, search_budget, protocol)
                   if len(kinds) == 1 else None)
            if own is not None:
                items += own
                continue
            said, chat = protocol.calls_message([self.handler(c["type"]).parsed(c) for c in calls])
            items.append(WindowItem(step["id"] + ":calls", "assistant", said, count(said) + overhead,
                                    group=step["id"], chat=chat))
            for c in calls:
                text, chat = protocol.result_message(*self.handler(c["type"]).output(c))
                items.append(WindowItem(f"{step['id']}:{c['id']}", "user", text, count(text) + overhead,
                                        group=step["id"], chat=chat))
        return items

    def replayed_items(self, steps: list[dict], count, overhead: int, protocol: ToolProtocol) -> list[WindowItem]:
        """An earlier run's tool calls with their outputs, as history; a step with a call of a
        tool not replayed in history (file search: the run's answer carries what it found,
        with citations) is left out."""
        kept = [s for s in steps if all(self.handler(c["type"]).replayed_in_history
                                        for c in (s.get("step_details") or {}).get("tool_calls") or [])]
        return [replace(item, replayed=True) for item in self.replay_items(kept, count, overhead, 0, protocol)]
