"""Unit tests of core/validation.py: each check returns the normalised value or names the bad param."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local_assistants.core import validation as v
from local_assistants.errors import InvalidRequestError


def refused(fn, *args, **kwargs) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as info:
        fn(*args, **kwargs)
    assert info.value.status_code == 400
    assert info.value.message
    return info.value


# -- metadata -------------------------------------------------------------------------------

def test_metadata_none_and_empty():
    assert v.metadata(None) is None
    assert v.metadata({}) == {}


def test_metadata_at_limits_is_kept_as_a_copy():
    value = {("k%02d" % i).ljust(64, "x"): "v" * 512 for i in range(16)}
    out = v.metadata(value)
    assert out == value and out is not value


@pytest.mark.parametrize(
    "value, param",
    [
        ({f"k{i}": "v" for i in range(17)}, "metadata"),
        ({"k" * 65: "v"}, "metadata"),
        ({"k": "v" * 513}, "metadata.k"),
        ({"k": 1}, "metadata.k"),
        ({"k": None}, "metadata.k"),
        ({"k": {"nested": "x"}}, "metadata.k"),
        ({1: "v"}, "metadata"),
        ("not an object", "metadata"),
        (["k", "v"], "metadata"),
    ],
)
def test_metadata_refused(value, param):
    assert refused(v.metadata, value).param == param


def test_metadata_param_prefix():
    assert refused(v.metadata, {"k": "v" * 513}, "messages[2].metadata").param == "messages[2].metadata.k"
    assert refused(v.metadata, [], "messages[2].metadata").param == "messages[2].metadata"


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=70), st.text(max_size=520), max_size=18))
def test_metadata_accepts_exactly_what_the_limits_allow(value):
    ok = (len(value) <= 16 and all(len(k) <= 64 for k in value) and all(len(x) <= 512 for x in value.values()))
    if ok:
        assert v.metadata(value) == value
    else:
        with pytest.raises(InvalidRequestError):
            v.metadata(value)


# -- scalars --------------------------------------------------------------------------------

def test_text():
    assert v.text(None, "name", 5) is None
    assert v.text("", "name", 5) == ""
    assert v.text("abcde", "name", 5) == "abcde"
    assert refused(v.text, "abcdef", "name", 5).param == "name"
    assert refused(v.text, 5, "name", 5).param == "name"
    assert refused(v.text, None, "model", 5, required=True).param == "model"


@pytest.mark.parametrize("value", [0, 0.0, 1, 2, 1.5])
def test_number_in_range(value):
    assert v.number(value, "temperature", 0, 2) == value


@pytest.mark.parametrize("value", [-0.01, 2.01, True, "1", [1], float("nan")])
def test_number_refused(value):
    assert refused(v.number, value, "temperature", 0, 2).param == "temperature"


def test_number_none():
    assert v.number(None, "top_p", 0, 1) is None


def test_positive_int():
    assert v.positive_int(None, "n") is None
    assert v.positive_int(1, "n") == 1
    assert v.positive_int(0, "n", minimum=0) == 0
    for bad in (0, -3, 1.5, True, "2"):
        assert refused(v.positive_int, bad, "n").param == "n"


# -- tools ----------------------------------------------------------------------------------

def test_tools_none_is_empty():
    assert v.tools(None) == []
    assert v.tools([]) == []


def test_tools_normalised():
    out = v.tools([
        {"type": "code_interpreter"},
        {"type": "file_search"},
        {"type": "file_search", "file_search": {"max_num_results": 5}},
        {"type": "function", "function": {"name": "f-1_x"}},
        {"type": "function", "function": {"name": "g", "description": "d", "strict": True,
                                          "parameters": {"type": "object", "properties": {"a": {}}}}},
    ])
    assert out == [
        {"type": "code_interpreter"},
        {"type": "file_search"},
        {"type": "file_search", "file_search": {"max_num_results": 5}},
        {"type": "function", "function": {"name": "f-1_x", "description": None,
                                          "parameters": {"type": "object", "properties": {}}, "strict": False}},
        {"type": "function", "function": {"name": "g", "description": "d", "strict": True,
                                          "parameters": {"type": "object", "properties": {"a": {}}}}},
    ]


def test_file_search_ranking_options_kept():
    fs = {"max_num_results": 50, "ranking_options": {"score_threshold": 0.25, "ranker": "default_2024_08_21"}}
    assert v.tools([{"type": "file_search", "file_search": fs}]) == [{"type": "file_search", "file_search": fs}]


def test_tools_at_the_limit():
    assert len(v.tools([{"type": "code_interpreter"}] * 128)) == 128


@pytest.mark.parametrize(
    "value, param",
    [
        ({"type": "function"}, "tools"),
        ([{"type": "code_interpreter"}] * 129, "tools"),
        ([{"type": "browser"}], "tools[0].type"),
        ([{"no": "type"}], "tools[0].type"),
        (["code_interpreter"], "tools[0].type"),
        ([{"type": "function"}], "tools[0].function"),
        ([{"type": "function", "function": {}}], "tools[0].function.name"),
        ([{"type": "function", "function": {"name": "has space"}}], "tools[0].function.name"),
        ([{"type": "function", "function": {"name": "a.b"}}], "tools[0].function.name"),
        ([{"type": "function", "function": {"name": "x" * 65}}], "tools[0].function.name"),
        ([{"type": "function", "function": {"name": ""}}], "tools[0].function.name"),
        ([{"type": "function", "function": {"name": "f"}}, {"type": "function", "function": {"name": "f"}}],
         "tools[1].function.name"),
        ([{"type": "function", "function": {"name": "f", "parameters": "{}"}}], "tools[0].function.parameters"),
        ([{"type": "file_search", "file_search": {"max_num_results": 51}}],
         "tools[0].file_search.max_num_results"),
        ([{"type": "file_search", "file_search": {"max_num_results": 0}}],
         "tools[0].file_search.max_num_results"),
        ([{"type": "file_search", "file_search": "fast"}], "tools[0].file_search"),
        ([{"type": "file_search", "file_search": {"ranking_options": "auto"}}],
         "tools[0].file_search.ranking_options"),
        ([{"type": "file_search", "file_search": {"ranking_options": {"ranker": "auto"}}}],
         "tools[0].file_search.ranking_options.score_threshold"),
        ([{"type": "file_search", "file_search": {"ranking_options": {"score_threshold": 1.5}}}],
         "tools[0].file_search.ranking_options.score_threshold"),
        ([{"type": "file_search", "file_search": {"ranking_options": {"score_threshold": 0.5, "ranker": "bm25"}}}],
         "tools[0].file_search.ranking_options.ranker"),
        ([{"type": "function", "function": {"name": "f", "description": 5}}], "tools[0].function.description"),
    ],
)
def test_tools_refused(value, param):
    assert refused(v.tools, value).param == param


def test_function_name_of_64_chars_is_accepted():
    assert v.tools([{"type": "function", "function": {"name": "x" * 64}}])[0]["function"]["name"] == "x" * 64


# -- tool_resources -------------------------------------------------------------------------

def test_tool_resources():
    assert v.tool_resources(None) is None
    assert v.tool_resources({}) == {}
    assert v.tool_resources({"code_interpreter": {}, "file_search": {}}) == {
        "code_interpreter": {"file_ids": []}, "file_search": {"vector_store_ids": []}}
    ids = [f"file-{i}" for i in range(20)]
    assert v.tool_resources({"code_interpreter": {"file_ids": ids},
                             "file_search": {"vector_store_ids": ["vs_1"]}}) == {
        "code_interpreter": {"file_ids": ids}, "file_search": {"vector_store_ids": ["vs_1"]}}


@pytest.mark.parametrize(
    "value, param",
    [
        ([], "tool_resources"),
        ({"code_interpreter": []}, "tool_resources.code_interpreter"),
        ({"code_interpreter": {"file_ids": "file-1"}}, "tool_resources.code_interpreter.file_ids"),
        ({"code_interpreter": {"file_ids": [1]}}, "tool_resources.code_interpreter.file_ids"),
        ({"code_interpreter": {"file_ids": [f"f{i}" for i in range(21)]}}, "tool_resources.code_interpreter.file_ids"),
        ({"file_search": "vs_1"}, "tool_resources.file_search"),
        ({"file_search": {"vector_store_ids": "vs_1"}}, "tool_resources.file_search.vector_store_ids"),
        ({"file_search": {"vector_store_ids": [None]}}, "tool_resources.file_search.vector_store_ids"),
        ({"file_search": {"vector_store_ids": ["vs_1", "vs_2"]}}, "tool_resources.file_search.vector_store_ids"),
    ],
)
def test_tool_resources_refused(value, param):
    assert refused(v.tool_resources, value).param == param


# -- response_format ------------------------------------------------------------------------

@pytest.mark.parametrize(
    "value",
    [None, "auto", {"type": "text"}, {"type": "json_object"},
     {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}}],
)
def test_response_format_accepted(value):
    assert v.response_format(value) == value


@pytest.mark.parametrize(
    "value, param",
    [
        ("json", "response_format"),
        ({"type": "yaml"}, "response_format"),
        ({}, "response_format"),
        ({"type": "json_schema"}, "response_format.json_schema.name"),
        ({"type": "json_schema", "json_schema": {"schema": {}}}, "response_format.json_schema.name"),
        # What a strict SDK client could not read back is refused, not stored.
        ({"type": "json_schema", "json_schema": {"name": "s", "schema": 0.0}}, "response_format.json_schema.schema"),
        ({"type": "json_schema", "json_schema": {"name": "s", "strict": "yes"}}, "response_format.json_schema.strict"),
        ({"type": "json_schema", "json_schema": {"name": "a b"}}, "response_format.json_schema.name"),
        ({"type": "json_schema", "json_schema": {"name": "s", "": []}}, "response_format.json_schema."),
        ({"type": "text", "extra": 1}, "response_format.extra"),
    ],
)
def test_response_format_refused(value, param):
    assert refused(v.response_format, value).param == param


# -- messages -------------------------------------------------------------------------------

def test_message_role():
    assert v.message_role("user") == "user"
    assert v.message_role("assistant") == "assistant"
    for bad in ("system", "tool", "developer", None, "USER"):
        assert refused(v.message_role, bad).param == "role"
    assert refused(v.message_role, "system", "messages[0].role").param == "messages[0].role"


def test_message_content_string():
    assert v.message_content("hi") == [{"type": "text", "text": {"value": "hi", "annotations": []}}]
    assert v.text_part("x") == {"type": "text", "text": {"value": "x", "annotations": []}}


def test_message_content_parts():
    out = v.message_content([
        {"type": "text", "text": "a"},
        {"type": "image_file", "image_file": {"file_id": "file-1"}},
        {"type": "image_file", "image_file": {"file_id": "file-2", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "auto"}},
    ])
    assert out == [
        {"type": "text", "text": {"value": "a", "annotations": []}},
        {"type": "image_file", "image_file": {"file_id": "file-1"}},
        {"type": "image_file", "image_file": {"file_id": "file-2", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "auto"}},
    ]


@pytest.mark.parametrize(
    "value, param",
    [
        (None, "content"),
        (5, "content"),
        ([], "content"),
        ({"type": "text", "text": "x"}, "content"),
        ("x" * (v.MAX_MESSAGE_CHARS + 1), "content"),
        (["text"], "content[0].type"),
        ([{"type": "audio"}], "content[0].type"),
        ([{"type": "text"}], "content[0].text"),
        ([{"type": "text", "text": {"value": "x"}}], "content[0].text"),
        ([{"type": "text", "text": "ok"}, {"type": "image_file"}], "content[1].image_file.file_id"),
        ([{"type": "image_file", "image_file": {"file_id": 3}}], "content[0].image_file.file_id"),
        ([{"type": "image_file", "image_file": {"file_id": "f", "detail": "max"}}], "content[0].image_file.detail"),
        ([{"type": "image_url", "image_url": {}}], "content[0].image_url.url"),
        ([{"type": "image_url", "image_url": "https://x"}], "content[0].image_url.url"),
        ([{"type": "image_url", "image_url": {"url": "u", "detail": "max"}}], "content[0].image_url.detail"),
    ],
)
def test_message_content_refused(value, param):
    assert refused(v.message_content, value).param == param


def test_message_content_param_prefix():
    err = refused(v.message_content, [{"type": "audio"}], "messages[1].content")
    assert err.param == "messages[1].content[0].type"


def test_attachments():
    assert v.attachments(None) is None
    assert v.attachments([]) == []
    assert v.attachments([{"file_id": "file-1"},
                          {"file_id": "file-2", "tools": [{"type": "file_search"}, {"type": "code_interpreter"}]}]) == [
        {"file_id": "file-1", "tools": []},
        {"file_id": "file-2", "tools": [{"type": "file_search"}, {"type": "code_interpreter"}]},
    ]


@pytest.mark.parametrize(
    "value, param",
    [
        ({"file_id": "f"}, "attachments"),
        ([{}], "attachments[0].file_id"),
        (["file-1"], "attachments[0].file_id"),
        ([{"file_id": "f"}, {"file_id": 1}], "attachments[1].file_id"),
        ([{"file_id": "f", "tools": [{"type": "function"}]}], "attachments[0].tools[0].type"),
        ([{"file_id": "f", "tools": ["file_search"]}], "attachments[0].tools[0].type"),
        ([{"file_id": "f", "tools": {"type": "file_search"}}], "attachments[0].tools"),
    ],
)
def test_attachments_refused(value, param):
    assert refused(v.attachments, value).param == param
