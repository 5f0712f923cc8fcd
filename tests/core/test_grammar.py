"""GBNF grammar composition for constrained decoding (pure; llama.cpp checks the result parses)."""

import json

import pytest
from llama_cpp import LlamaGrammar
from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf

from local_assistants.core import grammar as G

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


def test_call_schema_is_one_object_per_function_with_narrowed_arguments():
    one = G.call_schema([FN])
    assert one["properties"]["name"] == {"const": "get_forecast"}
    assert one["properties"]["arguments"]["properties"]["days"] == {"enum": [1, 2, 3]}
    assert one["required"] == ["name", "arguments"] and one["additionalProperties"] is False
    two = G.call_schema([FN, {"name": "ping"}])
    assert [o["properties"]["name"]["const"] for o in two["oneOf"]] == ["get_forecast", "ping"]
    assert two["oneOf"][1]["properties"]["arguments"] == {"type": "object", "properties": {}}


def test_a_native_model_may_frame_one_call_as_it_tends_to_write_it():
    grammar = G.build(functions=[FN], mode="auto", schema_to_grammar=s2g, native_calls=True)
    assert (f'tool-calls ::= tool-call ( "\\n" tool-call )* | {json.dumps(G.FENCED_CALL_OPEN)} c-root '
            f'{json.dumps(G.FENCED_CALL_CLOSE)} | c-root') in grammar.text
    assert G.NATIVE_TEXT_RULE in grammar.text and G.TEXT_RULE not in grammar.text
    LlamaGrammar.from_string(grammar.text, verbose=False)
    fallback = G.build(functions=[FN], mode="auto", schema_to_grammar=s2g)
    assert G.FENCED_CALL_OPEN.strip() not in fallback.text and G.TEXT_RULE in fallback.text
