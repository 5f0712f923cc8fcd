"""Function tools: the run's own functions, called by the model, carried out by the
client (the run waits in ``requires_action`` for their outputs)."""

from __future__ import annotations

from ..core.toolcalls import ParsedCall
from .base import Declared, ToolHandler


class FunctionTool(ToolHandler):
    kind = "function"
    waits_for_client = True

    def declare(self, run: dict) -> Declared:
        return Declared(functions=[t["function"] for t in run["tools"] if t["type"] == "function"])

    def forced(self, declared: Declared, choice: dict) -> Declared:
        return Declared(functions=[f for f in declared.functions if f["name"] == choice["function"]["name"]])

    def record(self, call: ParsedCall, call_id: str, index: int) -> tuple[dict, list[dict]]:
        stored = {"id": call_id, "type": "function",
                  "function": {"name": call.name, "arguments": call.arguments, "output": None}}
        return stored, [{"index": index, "id": call_id, "type": "function",
                         "function": {"name": call.name, "arguments": "", "output": None}},
                        {"index": index, "type": "function", "function": {"arguments": call.arguments}}]

    def required(self, call: dict) -> dict:
        return {"id": call["id"], "type": "function",
                "function": {"name": call["function"]["name"], "arguments": call["function"]["arguments"]}}

    def parsed(self, call: dict) -> ParsedCall:
        return ParsedCall("function", call["function"]["name"], call["function"]["arguments"])

    def output(self, call: dict) -> tuple[str, str]:
        return call["function"]["name"], call["function"].get("output") or ""
