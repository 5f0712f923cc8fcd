"""The request bodies and query parameters of the Responses and Conversations routes
(``server.schemas_responses``), on their own: the fields are the services' and the SDK's,
and the schemas take what the SDK sends and refuse what the services refuse."""

from __future__ import annotations

import jsonschema
import pytest
from openai.types.conversations import conversation_create_params, conversation_update_params
from openai.types.responses import input_token_count_params, response_create_params
from pydantic import ValidationError

from local_assistants.core import validation as v
from local_assistants.server import schemas_responses as sr
from local_assistants.services import response_items as ri
from local_assistants.services import responses as responses_service
from local_assistants.services.conversations import MAX_CREATE_ITEMS


def sdk_fields(params) -> set[str]:
    """Every key of an SDK TypedDict of parameters (its bases' too)."""
    return {k for base in params.__mro__ for k in getattr(base, "__annotations__", {})}


def valid(body: dict, spec) -> bool:
    try:
        jsonschema.validate(body, spec.schema())
        return True
    except jsonschema.ValidationError:
        return False


def test_the_create_body_is_the_service_s_fields_and_the_sdk_s():
    assert sr.CREATE_RESPONSE.fields == responses_service.BODY_FIELDS
    assert sr.CREATE_RESPONSE.required == ()
    # stream is a parameter of the SDK's streaming overloads, not of its base
    assert responses_service.BODY_FIELDS - {"stream"} <= sdk_fields(response_create_params.ResponseCreateParamsBase)
    assert sr.INPUT_TOKENS.fields <= sr.CREATE_RESPONSE.fields
    assert sr.INPUT_TOKENS.fields <= sdk_fields(input_token_count_params.InputTokenCountParams)
    assert sr.CREATE_CONVERSATION.fields == sdk_fields(conversation_create_params.ConversationCreateParams)
    assert sr.UPDATE_CONVERSATION.fields == sdk_fields(conversation_update_params.ConversationUpdateParams)
    assert sr.UPDATE_CONVERSATION.required == ("metadata",) and sr.CREATE_ITEMS.required == ("items",)
    assert sr.EMPTY_BODY.fields == frozenset()


@pytest.mark.parametrize("body", [
    {"model": "gpt-4o", "input": "What is 149 * 84?"},
    {"input": [{"role": "user", "content": "hi"}, {"role": "developer", "content": "be brief"}]},
    {"input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"},
                                                               {"type": "input_image", "file_id": "file-1"},
                                                               {"type": "input_file", "file_data": "aGk=",
                                                                "filename": "a.txt"}]}]},
    {"input": [{"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
               {"type": "function_call_output", "call_id": "call_1", "output": "42"}],
     "previous_response_id": "resp_1"},
    {"tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": True},
               {"type": "file_search", "vector_store_ids": ["vs_1"], "max_num_results": 5},
               {"type": "code_interpreter", "container": {"type": "auto"}}],
     "tool_choice": {"type": "function", "name": "get_weather"}, "parallel_tool_calls": False},
    {"conversation": {"id": "conv_1"}, "store": True, "background": False, "stream": True},
    {"conversation": "conv_1", "include": list(ri.INCLUDABLE), "truncation": "auto"},
    {"text": {"format": {"type": "json_schema", "name": "a", "schema": {"type": "object"}}, "verbosity": "low"}},
    {"max_output_tokens": 16, "max_tool_calls": 1, "temperature": 2, "top_p": 0, "top_logprobs": 20,
     "metadata": {"k": "v"}, "reasoning": {"effort": "low"}, "model": None, "input": None},
])
def test_the_create_body_takes_what_the_sdk_sends(body):
    assert valid(body, sr.CREATE_RESPONSE)


@pytest.mark.parametrize("body", [
    {"colour": "red"},
    {"input": [{"role": "robot", "content": "hi"}]},
    {"input": [{"role": "user", "content": []}]},
    {"input": [{"role": "user", "content": [{"type": "audio"}]}]},
    {"input": 3},
    {"tools": [{"type": "web_search"}]},
    {"tools": [{"type": "file_search", "vector_store_ids": []}]},
    {"tools": [{"type": "function", "name": "f", "colour": "red"}]},
    {"tool_choice": "sometimes"},
    {"include": ["reasoning.encrypted_content"]},
    {"text": {"format": {"type": "xml"}}},
    {"truncation": "sometimes"},
    {"max_output_tokens": 15},
    {"max_tool_calls": 0},
    {"temperature": 2.5},
    {"top_p": 1.5},
    {"top_logprobs": 21},
    {"store": "yes"},
    {"conversation": {"name": "c"}},
    {"input": [{"role": "user", "content": "x"}] * (responses_service.MAX_INPUT_ITEMS + 1)},
])
def test_the_create_body_refuses_what_the_service_refuses(body):
    assert not valid(body, sr.CREATE_RESPONSE)


def test_the_input_tokens_body_is_a_closed_part_of_the_create_body():
    assert valid({"model": "m", "input": "hi", "previous_response_id": "resp_1"}, sr.INPUT_TOKENS)
    for field in ("stream", "background", "store", "include", "metadata", "max_output_tokens"):
        assert field not in sr.INPUT_TOKENS.fields
        assert not valid({field: None}, sr.INPUT_TOKENS)


def test_conversation_items_are_messages_at_most_twenty():
    assert sr.ITEMS["maxItems"] == MAX_CREATE_ITEMS
    message = {"type": "message", "role": "user", "content": "hi"}
    assert valid({"items": [message] * MAX_CREATE_ITEMS, "metadata": {"a": "b"}}, sr.CREATE_CONVERSATION)
    assert valid({}, sr.CREATE_CONVERSATION) and valid({"items": None}, sr.CREATE_CONVERSATION)
    assert not valid({"items": [message] * (MAX_CREATE_ITEMS + 1)}, sr.CREATE_CONVERSATION)
    assert not valid({"items": [{"role": "system", "content": "x"}]}, sr.CREATE_CONVERSATION)
    assert not valid({"items": [{"role": "user", "content": ""}]}, sr.CREATE_CONVERSATION)
    assert valid({"items": [{"role": "assistant", "content": [{"type": "output_text", "text": "hi"}]}]},
                 sr.CREATE_ITEMS)
    assert not valid({"items": []}, sr.CREATE_ITEMS) and not valid({}, sr.CREATE_ITEMS)
    assert not valid({}, sr.UPDATE_CONVERSATION)
    metadata = sr.UPDATE_CONVERSATION.properties["metadata"]["anyOf"][0]
    assert metadata["maxProperties"] == v.MAX_METADATA_PAIRS


def test_query_parameters():
    assert [p.name for p in sr.ITEMS_PAGE] == ["limit", "order", "after", "before", "include[]"]
    assert [p.name for p in sr.RETRIEVE_QUERY] == ["include[]", "stream", "starting_after"]
    include = sr.INCLUDE.openapi()
    assert include["schema"] == {"type": "array", "items": {"type": "string", "enum": list(ri.INCLUDABLE)}}
    assert include["style"] == "form" and include["explode"] is True
    assert sr.RETRIEVE_QUERY[2].schema == {"type": "integer", "minimum": -1}


def test_a_deleted_response():
    assert sr.ResponseDeleted(id="resp_1", object="response", deleted=True).deleted is True
    with pytest.raises(ValidationError):
        sr.ResponseDeleted(id="resp_1", object="response", deleted=False)
    with pytest.raises(ValidationError):
        sr.ResponseDeleted(id="resp_1", object="thread.deleted", deleted=True)


def test_doc_describes_a_streamed_response():
    kwargs = sr.doc(body=sr.CREATE_RESPONSE, returns=sr.ResponseDeleted, stream=True)
    assert kwargs["openapi_extra"]["requestBody"] == sr.CREATE_RESPONSE.openapi()
    assert "text/event-stream" in kwargs["responses"][200]["content"]
