"""Tool calls in the model's own text: the tools section, reading calls back (whole or
streamed), and the two tool protocols (pure)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local_assistants.core.toolcalls import (CODE_FUNCTION, NATIVE_GUIDANCE, AnswerCode, CallStream, ParsedCall,
                                             ToolProtocol, call_text, parse_calls, tools_section)

FN = {"name": "get_forecast", "description": "Forecast",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                      "days": {"type": "integer", "minimum": 1, "maximum": 3}},
                     "required": ["city", "days"]}}


CALLS = [ParsedCall("function", "get_forecast", '{"city": "Paris", "days": 2}'),
         ParsedCall("function", "get_time", '{ "city": "Tokyo" }'),
         ParsedCall("code_interpreter", "code_interpreter", "x = 149 * 84\nprint(x < 3)\nx")]


def test_parse_calls_reads_back_what_call_text_writes():
    text = "\n".join(call_text(c) for c in CALLS)
    assert parse_calls(text) == CALLS


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=400), max_size=30))
def test_call_stream_gives_the_same_calls_and_chunks_however_the_text_is_split(cuts):
    text = "\n".join(call_text(c) for c in CALLS)
    points = sorted({c % len(text) for c in cuts} | {0, len(text)})
    stream = CallStream()
    events = []
    for a, b in zip(points, points[1:]):
        events.extend(stream.feed(text[a:b]))
    assert stream.calls == CALLS
    starts = [(e.index, e.call.name) for e in events if e.kind == "start"]
    assert starts == [(0, "get_forecast"), (1, "get_time"), (2, "code_interpreter")]
    for i, call in enumerate(CALLS):
        assert "".join(e.chunk for e in events if e.kind == "chunk" and e.index == i) == call.arguments
    assert [e.index for e in events if e.kind == "end"] == [0, 1, 2]


def test_an_unfinished_call_is_not_returned():
    text = call_text(CALLS[0]) + "\n" + call_text(CALLS[1])[:30]
    assert parse_calls(text) == [CALLS[0]]


def test_tools_section_lists_the_functions_and_the_format():
    section = tools_section([FN], code=True, required=True)
    assert '"name": "get_forecast"' in section and "<tool_call>" in section and "```python" in section
    assert "You must call a tool now." in section


def test_parse_calls_skips_a_function_call_whose_arguments_are_not_json():
    text = '<tool_call>\n{"name": "f", "arguments": {"a": tru}}\n</tool_call>\n' + call_text(CALLS[0])
    assert parse_calls(text) == [CALLS[0]]


@pytest.mark.parametrize("text", [
    '```json\n{"name": "get_time", "arguments": {"city": "Tokyo"}}\n```',
    '{"name": "get_time", "arguments": {"city": "Tokyo"}}',
])
def test_a_call_fenced_or_bare_as_native_models_write_it_is_read(text):
    assert parse_calls(text) == [ParsedCall("function", "get_time", '{"city": "Tokyo"}')]


def test_the_code_stream_holds_back_what_may_begin_the_closing_fence():
    stream = CallStream()
    events = list(stream.feed("```python\nprint(1)\n`"))
    assert "".join(e.chunk for e in events if e.kind == "chunk") == "print(1)"
    assert not any(e.kind == "end" for e in events)
    events = list(stream.feed("`` "))
    assert [e.kind for e in events] == ["end"]
    assert stream.calls == [ParsedCall("code_interpreter", "code_interpreter", "print(1)")]


# -- the tool protocols --------------------------------------------------------------------

NATIVE = ToolProtocol(native=True)
FALLBACK = ToolProtocol(native=False)


def test_the_protocol_follows_the_template():
    class Declares:
        declares_tools = True

    assert ToolProtocol.for_template(Declares()) == NATIVE
    assert ToolProtocol.for_template(object()) == FALLBACK


def test_natively_the_code_interpreter_is_one_more_function():
    assert NATIVE.functions([FN], code=True) == [FN, CODE_FUNCTION]
    assert NATIVE.functions([FN], code=False) == [FN]
    assert FALLBACK.functions([FN], code=True) == [FN]
    declared = NATIVE.declarations([{"name": "ping"}], code=True)
    assert declared == [{"type": "function", "function": {"name": "ping", "description": "",
                                                          "parameters": {"type": "object", "properties": {}}}},
                        {"type": "function", "function": {k: CODE_FUNCTION[k]
                                                          for k in ("name", "description", "parameters")}}]
    assert NATIVE.declarations([], code=False) is None
    assert FALLBACK.declarations([FN], code=True) is None


def test_the_system_section_of_each_protocol():
    assert FALLBACK.section([FN], True, required=False) == tools_section([FN], True, required=False)
    assert NATIVE.section([FN], True, required=False) == NATIVE_GUIDANCE
    assert NATIVE.section([FN], True, required=True) == NATIVE_GUIDANCE + "\nYou must call a tool now."


@pytest.mark.parametrize("protocol, text, opens", [
    (FALLBACK, "", None),
    (FALLBACK, "<", True),
    (FALLBACK, "`", True),
    (FALLBACK, "{", False),
    (FALLBACK, "The", False),
    (NATIVE, "<tool", True),
    (NATIVE, "{", True),
    (NATIVE, "```json\n", True),
    (NATIVE, "```python\n", True),
    (NATIVE, "``", None),  # may still become a fence
    (NATIVE, "```j", None),
    (NATIVE, "```js", None),
    (NATIVE, "```jsx", False),
    (NATIVE, "```c", False),
    (NATIVE, "Sure", False),
])
def test_whether_a_turn_opens_a_call(protocol, text, opens):
    assert protocol.opens_call(text) is opens


def test_a_native_code_interpreter_call_is_read_as_code_and_written_back_as_a_function():
    call = ParsedCall("function", "code_interpreter", '{"code": "print(2 + 2)"}')
    code = ParsedCall("code_interpreter", "code_interpreter", "print(2 + 2)")
    assert NATIVE.read(call) == code
    assert FALLBACK.read(call) == call  # a function of that name, for a fallback model
    assert NATIVE.read(ParsedCall("function", "code_interpreter", "not json")).arguments == ""
    assert NATIVE.read(ParsedCall("function", "code_interpreter", '{"code": 3}')).arguments == ""
    assert NATIVE.read(CALLS[0]) == CALLS[0]
    assert parse_calls(NATIVE.call_text(code)) == [call]
    assert FALLBACK.call_text(code) == call_text(code)


def test_calls_and_results_as_each_protocol_shows_them():
    calls = [CALLS[0], ParsedCall("code_interpreter", "code_interpreter", "1 + 1")]
    text, chat = NATIVE.calls_message(calls)
    assert parse_calls(text) == [CALLS[0], ParsedCall("function", "code_interpreter", '{"code": "1 + 1"}')]
    assert chat == {"content": "", "tool_calls": [
        {"type": "function", "function": {"name": "get_forecast", "arguments": {"city": "Paris", "days": 2}}},
        {"type": "function", "function": {"name": "code_interpreter", "arguments": {"code": "1 + 1"}}}]}
    text, chat = FALLBACK.calls_message(calls)
    assert chat is None and parse_calls(text) == calls
    # Stored arguments that are not JSON reach the template as they are.
    _, chat = NATIVE.calls_message([ParsedCall("function", "f", "{oops")])
    assert chat["tool_calls"][0]["function"]["arguments"] == "{oops"

    assert NATIVE.result_message("get_forecast", "sunny") == ("sunny", {"role": "tool"})
    assert FALLBACK.result_message("get_forecast", "sunny") == (
        "<tool_response>\nget_forecast: sunny\n</tool_response>", None)
    assert FALLBACK.result_message("", "4") == ("<tool_response>\n4\n</tool_response>", None)


# -- code written in an answer -------------------------------------------------------------

def _feed(watcher: AnswerCode, pieces) -> str:
    return "".join(watcher.feed(p) for p in pieces)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=80), max_size=12))
def test_answer_code_shows_the_text_before_the_block_and_keeps_the_block(cuts):
    text = "Here is the solution:\n```python\nprint(149 * 84)\n```\nIt prints 12516."
    points = sorted({c % len(text) for c in cuts} | {0, len(text)})
    watcher = AnswerCode()
    shown = _feed(watcher, [text[a:b] for a, b in zip(points, points[1:])])
    assert watcher.done and watcher.code == "print(149 * 84)"
    assert watcher.before == "Here is the solution:"
    assert shown == "Here is the solution:"  # never a piece of the block
    assert watcher.rest() == "" and watcher.feed("more") == ""


def test_answer_code_without_a_block_shows_everything():
    watcher = AnswerCode()
    shown = _feed(watcher, ["It is 4.", "\n``"])
    assert shown == "It is 4."  # what may open a block is held back ...
    assert watcher.rest() == "\n``"  # ... and given at the end
    assert not watcher.done


def test_answer_code_an_unclosed_block_stays_part_of_the_answer():
    watcher = AnswerCode()
    shown = _feed(watcher, ["Try:\n```python\nx = 1", "\n"])
    assert shown == "Try:" and not watcher.done
    assert shown + watcher.rest() == "Try:\n```python\nx = 1\n"


def test_answer_code_a_block_with_no_text_before_it_is_not_taken():
    watcher = AnswerCode()
    shown = _feed(watcher, ["\n```python\nx = 1\n```"])
    assert not watcher.done
    assert shown + watcher.rest() == "\n```python\nx = 1\n```"
