"""Grammar composition and reading tool calls back from model text (pure)."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llama_cpp import LlamaGrammar
from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf

from local_assistants.core import grammar as G
from local_assistants.core.toolcalls import CallStream, ParsedCall, call_text, parse_calls, tools_section

FN = {"name": "get_forecast", "description": "Forecast",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                      "days": {"type": "integer", "minimum": 1, "maximum": 3}},
                     "required": ["city", "days"]}}
FN2 = {"name": "get_time", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}


def s2g(schema):
    return json_schema_to_gbnf(json.dumps(schema))


def test_prefix_rules_renames_rules_and_references_but_not_literals():
    gbnf = 'root ::= "root" item space\nitem ::= [a-z] "item" | root\nspace ::= " "?'
    out = G.prefix_rules(gbnf, "p-")
    assert out.splitlines() == ['p-root ::= "root" p-item p-space',
                                'p-item ::= [a-z] "item" | p-root', 'p-space ::= " "?']


@pytest.mark.parametrize("mode, kwargs, alternatives", [
    ("auto", {"functions": [FN, FN2]}, "root ::= tool-calls | text"),
    ("required", {"functions": [FN]}, "root ::= tool-calls"),
    ("none", {"functions": [FN]}, None),
    ("auto", {"functions": [FN], "json_answer": True}, "root ::= tool-calls | j-root"),
    ("none", {"functions": [], "answer_schema": {"type": "object"}}, "root ::= j-root"),
    ("auto", {"functions": [], "code": True}, "root ::= code-call | text"),
    ("required", {"functions": [FN], "code": True}, "root ::= tool-calls | code-call"),
])
def test_build_admits_what_the_mode_allows_and_llama_cpp_parses_it(mode, kwargs, alternatives):
    grammar = G.build(mode=mode, schema_to_grammar=s2g, json_object_grammar=JSON_GBNF, **kwargs)
    if alternatives is None:
        assert grammar is None
        return
    assert grammar.text.splitlines()[0] == alternatives
    assert grammar.free_after_first == alternatives.endswith("text")
    LlamaGrammar.from_string(grammar.text, verbose=False)  # well-formed GBNF


def test_without_parallel_calls_only_one_call_is_admitted():
    grammar = G.build(functions=[FN], mode="required", parallel=False, schema_to_grammar=s2g)
    assert "tool-calls ::= tool-call\n" in grammar.text


def test_narrow_turns_bounded_integers_into_enums_everywhere():
    schema = {"type": "object", "properties": {
        "a": {"type": "integer", "minimum": 1, "maximum": 3},
        "b": {"type": "array", "items": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 3}},
        "c": {"type": "integer", "minimum": 0},
        "d": {"anyOf": [{"type": "integer", "minimum": -1, "maximum": 1}, {"type": "string"}]},
        "e": {"type": "integer", "minimum": 0, "maximum": 10**6},
    }}
    out = G.narrow(schema)["properties"]
    assert out["a"] == {"enum": [1, 2, 3]}
    assert out["b"]["items"] == {"enum": [1, 2]}
    assert out["c"] == {"type": "integer", "minimum": 0}
    assert out["d"]["anyOf"][0] == {"enum": [-1, 0, 1]}
    assert out["e"] == schema["properties"]["e"]  # too wide to enumerate: left alone


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


def test_a_native_answer_that_must_not_call_cannot_begin_as_a_call():
    """tool_choice "none" (or an answer forced after a repeated call): a model that calls in
    its own protocol wrote the call itself as its answer (Qwen2.5-Coder 0.5B, 10/10 algebra
    tasks); the answer's grammar now refuses every framing of a call."""
    from local_assistants.core import grammar as G

    g = G.build(functions=[FN], code=False, mode="none", schema_to_grammar=lambda s: 'root ::= "{}"',
                native_calls=True)
    assert g is not None and g.free_after_first
    assert g.text.startswith("root ::= text") and G.NATIVE_TEXT_RULE in g.text
    # The fallback keeps an unconstrained answer when calls are not allowed.
    assert G.build(functions=[FN], code=True, mode="none", schema_to_grammar=lambda s: 'root ::= "{}"') is None
