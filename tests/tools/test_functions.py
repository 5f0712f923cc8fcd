"""Function tools: the run's own functions, declared to the model, recorded and streamed
as the SDK merges them, and listed for the client to carry out (requires_action)."""

from __future__ import annotations

from local_assistants.core.toolcalls import ParsedCall
from local_assistants.tools.base import Declared
from local_assistants.tools.functions import FunctionTool

ADD = {"name": "add", "parameters": {"type": "object"}}
MUL = {"name": "mul"}
RUN = {"tools": [{"type": "function", "function": ADD}, {"type": "code_interpreter"},
                 {"type": "function", "function": MUL}]}


def test_the_runs_functions_are_declared_and_a_forced_one_alone():
    tool = FunctionTool()
    declared = tool.declare(RUN)
    assert declared == Declared(functions=[ADD, MUL])
    assert tool.forced(declared, {"type": "function", "function": {"name": "mul"}}) == Declared(functions=[MUL])
    assert tool.declare({"tools": []}) == Declared(functions=[])
    assert tool.waits_for_client  # the client carries calls out


def test_a_call_is_recorded_then_streamed_name_first_arguments_after():
    stored, deltas = FunctionTool().record(ParsedCall("function", "add", '{"a": 1}'), "call_7", 2)
    assert stored == {"id": "call_7", "type": "function",
                      "function": {"name": "add", "arguments": '{"a": 1}', "output": None}}
    assert deltas == [{"index": 2, "id": "call_7", "type": "function",
                       "function": {"name": "add", "arguments": "", "output": None}},
                      {"index": 2, "type": "function", "function": {"arguments": '{"a": 1}'}}]


def test_a_stored_call_as_required_action_lists_it_and_as_it_is_replayed():
    tool = FunctionTool()
    call = {"id": "call_7", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}', "output": "1"}}
    assert tool.required(call) == {"id": "call_7", "type": "function",
                                   "function": {"name": "add", "arguments": '{"a": 1}'}}
    assert tool.parsed(call) == ParsedCall("function", "add", '{"a": 1}')
    assert tool.output(call) == ("add", "1")
    call["function"]["output"] = None  # not answered (yet)
    assert tool.output(call) == ("add", "")
