"""The toolbox: which tools a server supports and a run is offered, which tool a call
belongs to, the calls a run already has answers for, and replay in history."""

from __future__ import annotations

from local_assistants.core.toolcalls import ParsedCall
from local_assistants.tools.base import Declared, ToolHandler, Toolbox
from local_assistants.tools.registry import default_tools
from local_assistants.tools.turn import plan_turn
from local_assistants.testing import FakeChatModel

RUN = {"id": "run_1", "assistant_id": "asst_1", "thread_id": "thread_1", "instructions": "",
       "tools": [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}},
                 {"type": "code_interpreter"}],
       "tool_choice": "auto", "parallel_tool_calls": True, "response_format": "auto"}


def _step(*calls, status="completed"):
    return {"id": "step_1", "type": "tool_calls", "status": status, "step_details": {"tool_calls": list(calls)}}


FUNCTION_CALL = {"id": "call_1", "type": "function",
                 "function": {"name": "add", "arguments": '{"b": 2, "a": 1}', "output": "3"}}
CODE_CALL = {"id": "call_2", "type": "code_interpreter",
             "code_interpreter": {"input": "1 + 2", "outputs": [{"type": "logs", "logs": "3"}]}}
SEARCH_CALL = {"id": "call_3", "type": "file_search",
               "file_search": {"query": "q", "ranking_options": {}, "results": []}}


def test_what_is_supported_follows_what_the_server_has():
    assert default_tools(None).supported == {"function"}
    assert default_tools(None, code_runner=object()).supported == {"function", "code_interpreter"}
    assert default_tools(None, code_runner=object(), searcher=object()).supported == {
        "function", "code_interpreter", "file_search"}


def test_each_call_goes_to_its_tool():
    tools = default_tools(None, code_runner=object())
    offered = tools.offered(RUN)
    assert tools.claiming(ParsedCall("function", "add", "{}"), offered).kind == "function"
    assert tools.claiming(ParsedCall("code_interpreter", "code_interpreter", "1"), offered).kind == "code_interpreter"


def test_answered_calls_compare_arguments_as_json():
    tools = default_tools(None, code_runner=object())
    keys = tools.answered([_step(FUNCTION_CALL, CODE_CALL), _step(SEARCH_CALL, status="in_progress")])
    assert keys == {("add", '{"a": 1, "b": 2}'), ("code_interpreter", "1 + 2")}


def test_history_replays_code_and_functions_not_searches():
    tools = default_tools(None, code_runner=object(), searcher=object())
    model = FakeChatModel()
    protocol = plan_turn(RUN, model, rounds_done=0, tools=tools.handlers).protocol
    steps = [_step(FUNCTION_CALL), dict(_step(SEARCH_CALL), id="step_2"), dict(_step(CODE_CALL), id="step_3")]
    items = tools.replayed_items(steps, len, 0, protocol)
    assert [i.group for i in items] == ["step_1", "step_1", "step_3", "step_3"]
    assert all(i.replayed for i in items)
    assert "3" in items[1].text and "1 + 2" in items[2].text


def test_a_new_tool_kind_is_one_handler():
    class Clock(ToolHandler):
        kind = "clock"

        def declare(self, run):
            return Declared(functions=[{"name": "now", "parameters": {"type": "object"}}])

        def claims(self, call):
            return call.name == "now"

        def record(self, call, call_id, index):
            return {"id": call_id, "type": "clock", "clock": {"time": None}}, [{"index": index, "id": call_id}]

    tools = Toolbox([*default_tools(None).handlers, Clock()])
    plan = plan_turn(RUN, FakeChatModel(), rounds_done=0, tools=tools.offered(RUN))
    assert [f["name"] for f in plan.functions] == ["add", "now"]
    assert "\"now\"" in plan.system_section  # declared to the model
    assert tools.claiming(ParsedCall("function", "now", "{}"), tools.offered(RUN)).kind == "clock"
    assert tools.supported == {"function", "clock"}
