"""The request bodies and query parameters of the chat completions and completions routes
(``server.schemas_chat``), on their own: the fields are the services' and the SDK's, and the
schemas take what the SDK sends and refuse what the services refuse."""

from __future__ import annotations

import jsonschema
import pytest
from openai.types import completion_create_params as legacy_params
from openai.types.chat import completion_create_params, completion_list_params, completion_update_params
from pydantic import ValidationError

from local_assistants.errors import InvalidRequestError
from local_assistants.server import schemas_chat as sc
from local_assistants.services import chat_completions as chat_service
from local_assistants.services import completions as completions_service
from local_assistants.services.chat_completions import ChatCompletionsService
from local_assistants.services.completions import CompletionsService
from local_assistants.testing import FakeChatModel

USER = [{"role": "user", "content": "hi"}]
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"},
                                             "strict": True}}


def sdk_fields(params) -> set[str]:
    """Every key of an SDK TypedDict of parameters (its bases' too)."""
    return {k for base in params.__mro__ for k in getattr(base, "__annotations__", {})}


def valid(body: dict, spec) -> bool:
    try:
        jsonschema.validate(body, spec.schema())
        return True
    except jsonschema.ValidationError:
        return False


class Models:
    def get(self, name):
        return FakeChatModel()


def test_the_bodies_are_the_services_fields_and_the_sdk_s():
    assert sc.CREATE_CHAT.fields == chat_service.BODY_FIELDS
    assert sc.CREATE_CHAT.required == ("messages", "model")
    # stream is a parameter of the SDK's streaming overloads, not of its base
    assert chat_service.BODY_FIELDS - {"stream"} <= sdk_fields(completion_create_params.CompletionCreateParamsBase)
    assert sc.CREATE_COMPLETION.fields == completions_service.BODY_FIELDS
    assert sc.CREATE_COMPLETION.required == ("model", "prompt")
    assert completions_service.BODY_FIELDS - {"stream"} == sdk_fields(legacy_params.CompletionCreateParamsBase)
    assert sc.UPDATE_CHAT.fields == sdk_fields(completion_update_params.CompletionUpdateParams)
    assert sc.UPDATE_CHAT.required == ("metadata",)


def test_the_limits_are_the_services():
    props = sc.CREATE_CHAT.properties
    assert props["n"]["anyOf"][0]["maximum"] == chat_service.MAX_N
    assert props["stop"]["anyOf"][0]["anyOf"][1]["maxItems"] == chat_service.MAX_STOP
    assert props["messages"]["minItems"] == 1
    assert sc.CREATE_COMPLETION.properties["n"]["anyOf"][0]["maximum"] == chat_service.MAX_N


@pytest.mark.parametrize("body", [
    {"model": "gpt-4o", "messages": USER},
    {"model": "m", "messages": [
        {"role": "system", "content": "Be brief."}, {"role": "developer", "content": [{"type": "text", "text": "x"}]},
        {"role": "user", "content": [{"type": "text", "text": "hi"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "assistant", "content": "It is sunny.", "refusal": None, "name": "bot"}]},
    {"model": "m", "messages": USER, "tools": [WEATHER], "tool_choice": "required", "parallel_tool_calls": False},
    {"model": "m", "messages": USER, "tools": [WEATHER],
     "tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
    {"model": "m", "messages": USER, "n": 128, "seed": 7, "temperature": 2, "top_p": 0, "stop": "END",
     "logprobs": True, "top_logprobs": 20, "logit_bias": {"50256": -100}, "max_completion_tokens": 1,
     "presence_penalty": -2, "frequency_penalty": 2, "user": "u1", "metadata": {"k": "v"}, "store": True},
    {"model": "m", "messages": USER, "stream": True, "stream_options": {"include_usage": True},
     "stop": ["a", "b", "c", "d"], "response_format": {"type": "json_object"}, "modalities": ["text"]},
    {"model": "m", "messages": USER, "max_tokens": None, "n": None, "service_tier": "auto",
     "reasoning_effort": "low", "verbosity": "low", "prompt_cache_key": "k", "safety_identifier": "s"},
])
def test_the_chat_body_takes_what_the_sdk_sends(body):
    assert valid(body, sc.CREATE_CHAT)


REFUSED_CHAT = [
    {"messages": [], "model": "m"},
    {"messages": [{"role": "robot", "content": "hi"}], "model": "m"},
    {"messages": USER, "model": "m", "n": 129},
    {"messages": USER, "model": "m", "n": 0},
    {"messages": USER, "model": "m", "logprobs": True, "top_logprobs": 21},
    {"messages": USER, "model": "m", "stop": ["a", "b", "c", "d", "e"]},
    {"messages": USER, "model": "m", "stop": [""]},
    {"messages": USER, "model": "m", "logit_bias": {"50256": 101}},
    {"messages": USER, "model": "m", "tools": [{"type": "code_interpreter"}]},
    {"messages": USER, "model": "m", "tool_choice": "sometimes"},
    {"messages": USER, "model": "m", "max_completion_tokens": 0},
    {"messages": USER, "model": "m", "temperature": 2.5},
    {"messages": USER, "model": "m", "top_p": 1.5},
    {"messages": USER, "model": "m", "store": "yes"},
    {"messages": USER, "model": "m", "stream": "yes"},
    {"messages": USER, "model": "m", "functions": []},
    {"messages": USER},
]


@pytest.mark.parametrize("body", REFUSED_CHAT)
def test_the_chat_body_refuses_what_the_service_refuses(body):
    assert not valid(body, sc.CREATE_CHAT)
    service = ChatCompletionsService(None, Models(), check_model=lambda name: None, default_max_tokens=16)
    with pytest.raises(InvalidRequestError):
        service.prepare(body)


@pytest.mark.parametrize("body", [
    {"model": "m", "prompt": "Hello"},
    {"model": "m", "prompt": ["a", "b"]},
    {"model": "m", "prompt": [1, 2, 3]},
    {"model": "m", "prompt": [[1, 2], [3]]},
    {"model": "m", "prompt": "x", "echo": True, "logprobs": 5, "max_tokens": 0, "n": 2, "best_of": 2,
     "stop": ["\n"], "suffix": None, "seed": 1, "temperature": 0, "top_p": 1, "presence_penalty": 0,
     "frequency_penalty": 0, "logit_bias": {"1": 1}, "user": "u", "stream": True,
     "stream_options": {"include_usage": True}},
])
def test_the_completion_body_takes_what_the_sdk_sends(body):
    assert valid(body, sc.CREATE_COMPLETION)


REFUSED_COMPLETION = [
    {"model": "m"},
    {"model": "m", "prompt": "x", "logprobs": 6},
    {"model": "m", "prompt": "x", "max_tokens": -1},
    {"model": "m", "prompt": "x", "n": 129},
    {"model": "m", "prompt": [[]]},
    {"model": "m", "prompt": 3},
    {"model": "m", "prompt": "x", "echo": "yes"},
    {"model": "m", "prompt": "x", "messages": USER},
]


@pytest.mark.parametrize("body", REFUSED_COMPLETION)
def test_the_completion_body_refuses_what_the_service_refuses(body):
    assert not valid(body, sc.CREATE_COMPLETION)
    with pytest.raises(InvalidRequestError):
        CompletionsService(Models(), check_model=lambda name: None).prepare(body)


def test_the_update_body_is_metadata_alone():
    assert valid({"metadata": {"a": "b"}}, sc.UPDATE_CHAT)
    assert not valid({}, sc.UPDATE_CHAT) and not valid({"metadata": {"a": 1}}, sc.UPDATE_CHAT)
    assert not valid({"metadata": {}, "store": True}, sc.UPDATE_CHAT)


def test_query_parameters():
    assert [p.name for p in sc.CHAT_LIST] == ["limit", "order", "after", "model"]
    assert {p.name for p in sc.CHAT_LIST} <= sdk_fields(completion_list_params.CompletionListParams)
    assert [p.name for p in sc.MESSAGES_PAGE] == ["limit", "order", "after"]


def test_a_stored_message_keeps_the_role_it_had():
    message = sc.StoredMessage(id="chatcmpl-1-0", role="user", content="hi")
    assert message.role == "user" and message.tool_calls is None and message.content_parts is None
    for role in ("system", "developer", "assistant", "tool"):
        assert sc.StoredMessage(id="x", role=role).role == role
    with pytest.raises(ValidationError):
        sc.StoredMessage(id="x", role="robot")


def test_doc_describes_the_streamed_create():
    kwargs = sc.doc(body=sc.CREATE_CHAT, stream=True)
    assert kwargs["openapi_extra"]["requestBody"] == sc.CREATE_CHAT.openapi()
    assert "text/event-stream" in kwargs["responses"][200]["content"]
