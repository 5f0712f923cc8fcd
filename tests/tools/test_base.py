"""The toolbox: which tools a server supports and a run is offered, which tool a call
belongs to, the calls a run already has answers for, and replay in history."""

from __future__ import annotations

from local_assistants.core.toolcalls import ParsedCall, ToolProtocol, call_text
from local_assistants.tools.base import Answer, Declared, ToolHandler, Toolbox, call_key
from local_assistants.tools.functions import FunctionTool
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


def test_call_key_compares_json_arguments_as_json_and_other_text_as_text():
    assert call_key("f", '{"b": 2, "a": 1}') == call_key("f", '{ "a": 1, "b": 2 }')
    assert call_key("f", "x = 1") == ("f", "x = 1")
    assert call_key("f", "{}") != call_key("g", "{}")


class _Recording(ToolHandler):
    def __init__(self, kind, available=True, note=None):
        self.kind, self._available, self.note = kind, available, note
        self.prepared, self.finished = [], []

    @property
    def available(self):
        return self._available

    def prepare(self, run):
        self.prepared.append(run["id"])

    def finish(self, run_id):
        self.finished.append(run_id)

    def answer(self, run):
        if self.note is None:
            return Answer()
        return Answer(parts=[{"type": "note", "note": self.note}],
                      annotate=lambda text: (text + f"[{self.note}]", [{"note": self.note, "at": len(text)}]))


def test_only_available_tools_the_run_requests_are_prepared_and_every_tool_hears_the_end():
    code, absent, search = _Recording("code_interpreter"), _Recording("file_search", available=False), \
        _Recording("other")
    tools = Toolbox([FunctionTool(), code, absent, search])
    tools.prepare(dict(RUN, tools=[*RUN["tools"], {"type": "file_search"}]))
    assert code.prepared == ["run_1"] and absent.prepared == [] and search.prepared == []
    tools.finish("run_1")
    assert code.finished == absent.finished == search.finished == ["run_1"]
    assert tools.supported == {"function", "code_interpreter", "other"}


def test_the_last_tool_annotates_first_and_its_annotations_come_first():
    tools = Toolbox([_Recording("a", note="A"), FunctionTool(), _Recording("b", note="B")])
    parts, annotate = tools.answer(RUN)
    assert parts == [{"type": "note", "note": "A"}, {"type": "note", "note": "B"}]
    text, annotations = annotate("x")
    assert text == "x[B][A]"
    assert annotations == [{"note": "A", "at": 4}, {"note": "B", "at": 1}]


def test_a_stored_call_of_an_unknown_kind_gets_the_plain_handler():
    tools = default_tools(None)
    plain = tools.handler("retired_tool")
    assert plain.kind == "" and plain.parsed({"type": "retired_tool"}) == ParsedCall("retired_tool", "retired_tool", "")
    assert tools.answered([_step({"id": "c", "type": "retired_tool", "retired_tool": {}})]) == set()


def test_replay_groups_each_steps_calls_with_their_outputs():
    tools = default_tools(None, code_runner=object())
    steps = [_step(FUNCTION_CALL, CODE_CALL), dict(_step(FUNCTION_CALL), id="step_2", status="in_progress"),
             {"id": "step_3", "type": "message_creation", "status": "completed", "step_details": {}}]
    items = tools.replay_items(steps, len, 10)
    assert [(i.id, i.role, i.group) for i in items] == [
        ("step_1:calls", "assistant", "step_1"), ("step_1:call_1", "user", "step_1"),
        ("step_1:call_2", "user", "step_1")]
    calls = ParsedCall("function", "add", '{"b": 2, "a": 1}'), ParsedCall("code_interpreter", "code_interpreter", "1 + 2")
    assert items[0].text == "\n".join(call_text(c) for c in calls)
    assert items[1].text == "<tool_response>\nadd: 3\n</tool_response>"
    assert items[2].text == "<tool_response>\n3\n</tool_response>"
    assert all(i.tokens == len(i.text) + 10 and i.chat is None and not i.replayed for i in items)
    native = tools.replay_items(steps[:1], len, 0, protocol=ToolProtocol(native=True))
    assert [i.chat for i in native[1:]] == [{"role": "tool"}, {"role": "tool"}]
    assert native[1].role == "user" and native[1].text == "3"
