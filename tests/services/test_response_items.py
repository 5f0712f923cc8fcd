"""response_items: thread messages and run-step tool calls shown as Responses and
Conversations items, each checked against the official SDK's own types."""

from __future__ import annotations

import pytest
from openai.types.conversations import ConversationItem
from openai.types.responses import (
    ResponseCodeInterpreterToolCall,
    ResponseFileSearchToolCall,
    ResponseFunctionToolCall,
    ResponseFunctionToolCallItem,
    ResponseFunctionToolCallOutputItem,
    ResponseInputMessageItem,
    ResponseItem,
    ResponseOutputItem,
    ResponseOutputMessage,
    ResponseUsage,
)
from openai.types.conversations.message import Message as ConversationMessage
from pydantic import TypeAdapter

from local_assistants.services import response_items as ri

OUTPUT_ITEM = TypeAdapter(ResponseOutputItem)
CONVERSATION_ITEM = TypeAdapter(ConversationItem)
RESPONSE_ITEM = TypeAdapter(ResponseItem)

CONTAINER_FILES = {"file-out": {"id": "cfile_1", "container_id": "cntr_1", "path": "/mnt/data/plots/plot.png"}}


def container_file_of(file_id):
    return CONTAINER_FILES.get(file_id)


def text_part(value, annotations=(), **extra):
    return {"type": "text", "text": {"value": value, "annotations": list(annotations)}, **extra}


def message(role, *parts, status="completed", msg_id="msg_1"):
    return {"id": msg_id, "object": "thread.message", "role": role, "status": status, "content": list(parts)}


CITATION = {"type": "file_citation", "text": "【4:0†notes.txt】", "start_index": 5, "end_index": 17,
            "file_citation": {"file_id": "file-abc"}}
PATH = {"type": "file_path", "text": "sandbox:/mnt/data/plot.png", "start_index": 20, "end_index": 46,
        "file_path": {"file_id": "file-out"}}
UNKNOWN_PATH = {"type": "file_path", "text": "sandbox:/mnt/data/x.csv", "start_index": 50, "end_index": 73,
                "file_path": {"file_id": "file-elsewhere"}}


def output_item(item):
    return OUTPUT_ITEM.validate_python(item)


def conversation_item(item):
    return CONVERSATION_ITEM.validate_python(item)


# -- messages ------------------------------------------------------------------------
def test_a_user_message_is_input_text_and_input_images():
    msg = message("user", text_part("What is 2+2?"),
                  {"type": "image_file", "image_file": {"file_id": "file-img", "detail": "low"}},
                  {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}})
    item = ri.message_item(msg)
    assert item == {"type": "message", "id": "msg_1", "role": "user", "status": "completed", "content": [
        {"type": "input_text", "text": "What is 2+2?"},
        {"type": "input_image", "file_id": "file-img", "detail": "low", "image_url": None},
        {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "auto", "file_id": None}]}
    shown = conversation_item(item)
    assert isinstance(shown, ConversationMessage) and shown.content[0].text == "What is 2+2?"
    assert isinstance(RESPONSE_ITEM.validate_python(item), ResponseInputMessageItem)


def test_an_assistant_message_is_output_text_with_its_annotations_in_the_responses_shape():
    msg = message("assistant", text_part("See 【4:0†notes.txt】 and sandbox:/mnt/data/plot.png",
                                         [CITATION, PATH, {"type": "mystery", "text": "?"}]))
    item = ri.message_item(msg, container_file_of=container_file_of)
    part = item["content"][0]
    assert part["type"] == "output_text" and part["logprobs"] == []
    assert part["annotations"] == [
        {"type": "file_citation", "file_id": "file-abc", "filename": "notes.txt", "index": 5},
        {"type": "container_file_citation", "container_id": "cntr_1", "file_id": "cfile_1",
         "filename": "plot.png", "start_index": 20, "end_index": 46},
    ]  # an annotation of a kind the Responses API has not is left out
    shown = output_item(item)
    assert isinstance(shown, ResponseOutputMessage)
    assert [a.type for a in shown.content[0].annotations] == ["file_citation", "container_file_citation"]
    assert isinstance(conversation_item(item), ConversationMessage)


def test_a_file_path_no_container_knows_stays_a_file_path():
    item = ri.message_item(message("assistant", text_part("x", [UNKNOWN_PATH, PATH])))  # no lookup at all
    assert item["content"][0]["annotations"] == [
        {"type": "file_path", "file_id": "file-elsewhere", "index": 50},
        {"type": "file_path", "file_id": "file-out", "index": 20}]
    looked_up = ri.message_item(message("assistant", text_part("x", [UNKNOWN_PATH])),
                                container_file_of=container_file_of)
    assert looked_up["content"][0]["annotations"] == [{"type": "file_path", "file_id": "file-elsewhere",
                                                       "index": 50}]
    output_item(item)


def test_a_citation_keeps_a_filename_it_was_given():
    a = dict(CITATION, filename="given.pdf")
    assert ri.annotation(a)["filename"] == "given.pdf"
    assert ri.annotation({"type": "file_citation", "file_citation": {"file_id": "f"}}) == {
        "type": "file_citation", "file_id": "f", "filename": "", "index": 0}


@pytest.mark.parametrize("status, shown", [("in_progress", "in_progress"), ("incomplete", "incomplete"),
                                           ("completed", "completed"), (None, "completed")])
def test_a_message_status_is_one_the_sdk_knows(status, shown):
    item = ri.message_item(message("assistant", text_part("hi"), status=status))
    assert item["status"] == shown
    assert output_item(item).status == shown


def test_logprobs_only_when_included():
    logprobs = [{"token": "hi", "bytes": [104, 105], "logprob": 0.0, "top_logprobs": []}]
    msg = message("assistant", text_part("hi", logprobs=logprobs))
    assert ri.message_item(msg)["content"][0]["logprobs"] == []
    item = ri.message_item(msg, include=[ri.INCLUDE_LOGPROBS])
    assert item["content"][0]["logprobs"] == logprobs
    assert output_item(item).content[0].logprobs[0].token == "hi"


def test_an_assistant_s_images_are_not_message_content():
    item = ri.message_item(message("assistant", {"type": "image_file", "image_file": {"file_id": "f"}},
                                   text_part("done")))
    assert [p["type"] for p in item["content"]] == ["output_text"]


def test_text_of_item_joins_text_parts():
    item = ri.message_item(message("user", text_part("a"), {"type": "image_file", "image_file": {"file_id": "f"}},
                                   text_part("b")))
    text = ri.text_of_item(item)
    assert "a" in text and "b" in text and "f" not in text


# -- tool calls ------------------------------------------------------------------------
def function_call(call_id="call_abc", output=None, arguments='{"city": "Paris"}'):
    return {"id": call_id, "type": "function",
            "function": {"name": "get_weather", "arguments": arguments, "output": output}}


def step(*calls, status="completed"):
    return {"id": "step_1", "type": "tool_calls", "status": status,
            "step_details": {"type": "tool_calls", "tool_calls": list(calls)}}


def test_item_ids_come_from_the_call_ids_and_point_back_at_them():
    assert ri.call_item_id({"id": "call_abc", "type": "function"}) == "fc_abc"
    assert ri.call_item_id({"id": "call_abc", "type": "code_interpreter"}) == "ci_abc"
    assert ri.call_item_id({"id": "call_abc", "type": "file_search"}) == "fs_abc"
    assert ri.call_item_id({"id": "call_abc", "type": "web_search"}) == "item_abc"
    assert ri.output_item_id("call_abc") == "fco_abc"
    assert ri.call_item_id({"id": "plain", "type": "function"}) == "fc_plain"  # an id without a prefix
    for item_id, ref in [("fc_abc", "call:call_abc"), ("ci_abc", "call:call_abc"), ("fs_abc", "call:call_abc"),
                         ("fco_abc", "output:call_abc"), ("msg_abc", "msg_abc")]:
        assert ri.item_ref(item_id) == ref


def test_a_function_call_and_its_output():
    items = ri.call_items(step(function_call(output="sunny")))
    assert items == [
        {"type": "function_call", "id": "fc_abc", "call_id": "call_abc", "name": "get_weather",
         "arguments": '{"city": "Paris"}', "status": "completed"},
        {"type": "function_call_output", "id": "fco_abc", "call_id": "call_abc", "output": "sunny",
         "status": "completed"},
    ]
    call, out = (output_item(i) for i in items)
    assert isinstance(call, ResponseFunctionToolCall) and isinstance(out, ResponseFunctionToolCallOutputItem)
    assert isinstance(conversation_item(items[0]), ResponseFunctionToolCallItem)
    assert isinstance(conversation_item(items[1]), ResponseFunctionToolCallOutputItem)
    assert ri.call_items(step(function_call(output="sunny")), with_outputs=False) == items[:1]


def test_a_function_call_without_its_output_yet():
    items = ri.call_items(step(function_call(arguments=None), status="in_progress"))
    # published whole, a function call is done even while its step waits for the output
    assert items == [{"type": "function_call", "id": "fc_abc", "call_id": "call_abc", "name": "get_weather",
                      "arguments": "", "status": "completed"}]
    output_item(items[0])


def test_calls_given_before_show_only_their_outputs():
    both = step(function_call("call_a", output="1"), function_call("call_b", output="2"))
    items = ri.call_items(both, given={"call_a"})
    assert [i["id"] for i in items] == ["fco_a", "fc_b", "fco_b"]


@pytest.mark.parametrize("step_status, function_status, code_status", [
    ("completed", "completed", "completed"), ("in_progress", "completed", "in_progress"),
    ("cancelled", "incomplete", "incomplete"), ("expired", "incomplete", "incomplete"),
    ("failed", "completed", "failed")])
def test_call_status_follows_its_step(step_status, function_status, code_status):
    code = {"id": "call_c", "type": "code_interpreter", "code_interpreter": {"input": "1+1", "outputs": []}}
    fn, ci = ri.call_items(step(function_call(), code, status=step_status))
    assert (fn["status"], ci["status"]) == (function_status, code_status)
    output_item(fn), output_item(ci)


def test_a_code_call_shows_its_outputs_only_when_included():
    code = {"id": "call_xyz", "type": "code_interpreter", "code_interpreter": {
        "input": "print(149 * 84)", "container_id": "cntr_9",
        "outputs": [{"type": "logs", "logs": "12516"}, {"type": "image", "image": {"file_id": "file-out"}},
                    {"type": "image", "image": {"file_id": "file-plain"}}]}}
    plain = ri.call_item(code, "completed")
    assert plain == {"type": "code_interpreter_call", "id": "ci_xyz", "code": "print(149 * 84)",
                     "container_id": "cntr_9", "outputs": None, "status": "completed"}
    full = ri.call_item(code, "completed", include=[ri.INCLUDE_CODE_OUTPUTS], container_file_of=container_file_of)
    assert full["outputs"] == [{"type": "logs", "logs": "12516"},
                               {"type": "image", "url": "/v1/containers/cntr_1/files/cfile_1/content"},
                               {"type": "image", "url": "/v1/files/file-plain/content"}]
    for item in (plain, full):
        assert isinstance(output_item(item), ResponseCodeInterpreterToolCall)
        assert isinstance(conversation_item(item), ResponseCodeInterpreterToolCall)


def test_a_search_call_shows_its_query_and_its_results_only_when_included():
    search = {"id": "call_s1", "type": "file_search", "file_search": {
        "query": "wifi password", "ranking_options": {"ranker": "auto", "score_threshold": 0.0},
        "results": [{"file_id": "file-1", "file_name": "notes.txt", "score": 0.8,
                     "content": [{"type": "text", "text": "The wifi"}, {"type": "text", "text": "is hunter2."}],
                     "attributes": {"lang": "en"}}]}}
    plain = ri.call_item(search, "completed")
    assert plain == {"type": "file_search_call", "id": "fs_s1", "queries": ["wifi password"],
                     "status": "completed", "results": None}
    full = ri.call_item(search, "completed", include=(ri.INCLUDE_SEARCH_RESULTS,))
    assert full["results"] == [{"file_id": "file-1", "filename": "notes.txt", "score": 0.8,
                                "text": "The wifi is hunter2.", "attributes": {"lang": "en"}}]
    for item in (plain, full):
        assert isinstance(output_item(item), ResponseFileSearchToolCall)
        assert isinstance(conversation_item(item), ResponseFileSearchToolCall)
    no_query = ri.call_item({"id": "call_s2", "type": "file_search", "file_search": {}}, "in_progress")
    assert no_query["queries"] == [] and no_query["status"] == "in_progress"
    output_item(no_query)


# -- usage -----------------------------------------------------------------------------
def test_usage_in_the_responses_shape():
    assert ri.usage(None) is None and ri.usage({}) is None
    shown = ri.usage({"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
                      "prompt_tokens_details": {"cached_tokens": 100}})
    assert shown == {"input_tokens": 120, "input_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 20},
                     "output_tokens": 30, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 150}
    assert ResponseUsage.model_validate(shown).input_tokens_details.cached_tokens == 100
    uncached = ri.usage({"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10})
    assert uncached["input_tokens_details"] == {"cached_tokens": 0, "cache_write_tokens": 7}
    ResponseUsage.model_validate(uncached)


def test_strip_none():
    assert ri.strip_none({"a": None, "b": 0, "c": ""}) == {"b": 0, "c": ""}
