"""The /v1/chat/completions and /v1/completions routes' own work, on the app with a stand-in
runtime holding the real services over the fake chat model and a real SQLite file: the
OpenAPI document, bodies refused before a service is called, what a completion created
with or without streaming answers (OpenAI's ``data:`` lines, then ``data: [DONE]``), and the
query parameters the list routes hand the service (tests/api/test_chat_completions.py drives
these routes with the SDK and a real model)."""

from __future__ import annotations

import json

import pytest
from openai.types import Completion
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from local_assistants.adapters.sqlite_store import SQLiteStore
from local_assistants.server.app import create_app
from local_assistants.services import chat_completions as chat_service
from local_assistants.services import completions as completions_service
from local_assistants.services.chat_completions import ChatCompletionsService
from local_assistants.services.completions import CompletionsService
from local_assistants.testing import FakeChatModel

from stand_in import app_client, stand_in_runtime

SPEC = create_app(None).openapi()
NEW_OPERATIONS = {
    ("POST", "/v1/chat/completions"), ("GET", "/v1/chat/completions"),
    ("GET", "/v1/chat/completions/{completion_id}"), ("POST", "/v1/chat/completions/{completion_id}"),
    ("DELETE", "/v1/chat/completions/{completion_id}"), ("GET", "/v1/chat/completions/{completion_id}/messages"),
    ("POST", "/v1/completions"),
}
USER = [{"role": "user", "content": "hi"}]


def operation(method, path):
    return SPEC["paths"][path][method.lower()]


def body_schema(method, path):
    return operation(method, path)["requestBody"]["content"]["application/json"]["schema"]


class Models:
    def __init__(self, model):
        self.model = model

    def get(self, name):
        return self.model


class RecordingChat(ChatCompletionsService):
    """The real service; what the routes hand its list and prepare is recorded."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.listed: list[dict] = []
        self.prepared: list[dict] = []

    def prepare(self, body):
        self.prepared.append(body)
        return super().prepare(body)

    def list(self, **kwargs):
        self.listed.append(kwargs)
        return super().list(**kwargs)


@pytest.fixture
def fake():
    return FakeChatModel(piece=2)


@pytest.fixture
def runtime(tmp_path, fake):
    models = Models(fake)
    chat = RecordingChat(SQLiteStore(tmp_path / "db.sqlite"), models, check_model=lambda name: None,
                         default_max_tokens=128)
    return stand_in_runtime(chat_completions=chat, completions=CompletionsService(models,
                                                                                 check_model=lambda name: None))


@pytest.fixture
def client(runtime):
    with app_client(runtime) as c:
        yield c


def data_lines(text: str) -> list[str]:
    """The payloads of a stream's ``data:`` lines, after checking it holds nothing else."""
    blocks = text.split("\n\n")
    assert blocks[-1] == "" and all(b.startswith("data: ") and "\n" not in b for b in blocks[:-1]), text
    return [b[len("data: "):] for b in blocks[:-1]]


# -- the OpenAPI document --------------------------------------------------------------------------
def test_every_new_operation_is_in_the_openapi_document():
    operations = {(m.upper(), p) for p, ops in SPEC["paths"].items() for m in ops}
    assert NEW_OPERATIONS <= operations


def test_the_create_bodies_are_the_services_fields():
    chat = body_schema("POST", "/v1/chat/completions")
    assert set(chat["properties"]) == chat_service.BODY_FIELDS
    assert set(chat["required"]) == {"messages", "model"} and chat["additionalProperties"] is False
    legacy = body_schema("POST", "/v1/completions")
    assert set(legacy["properties"]) == completions_service.BODY_FIELDS
    assert set(legacy["required"]) == {"model", "prompt"}
    update = body_schema("POST", "/v1/chat/completions/{completion_id}")
    assert set(update["properties"]) == {"metadata"} and update["required"] == ["metadata"]


@pytest.mark.parametrize("method, path", sorted(NEW_OPERATIONS))
def test_every_new_operation_describes_its_answer(method, path):
    ok = operation(method, path)["responses"]["200"]["content"]
    assert ok and all(c.get("schema") for c in ok.values())
    if method == "POST":
        assert "requestBody" in operation(method, path)


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions"])
def test_the_create_operations_may_answer_with_a_stream(path):
    assert "text/event-stream" in operation("POST", path)["responses"]["200"]["content"]


def test_the_list_operations_take_their_query_parameters():
    names = {p["name"] for p in operation("GET", "/v1/chat/completions")["parameters"]}
    assert {"limit", "order", "after", "model"} <= names
    names = {p["name"] for p in operation("GET", "/v1/chat/completions/{completion_id}/messages")["parameters"]}
    assert {"limit", "order", "after"} <= names


# -- bodies refused before the service is called ------------------------------------------------------
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions", "/v1/chat/completions/chatcmpl-1"])
def test_a_malformed_body_gets_openai_s_error_shape(client, runtime, fake, path):
    resp = client.post(path, content=b"{nope", headers={"content-type": "application/json"})
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    assert runtime.chat_completions.prepared == [] and fake.calls == []


@pytest.mark.parametrize("path, body, param", [
    ("/v1/chat/completions", {"model": "m", "messages": USER, "functions": []}, "functions"),
    ("/v1/completions", {"model": "m", "prompt": "hi", "messages": USER}, "messages"),
    ("/v1/chat/completions/chatcmpl-1", {"metadata": {}, "store": True}, "store"),
])
def test_an_unknown_field_is_refused_before_the_service_is_called(client, runtime, fake, path, body, param):
    resp = client.post(path, json=body)
    assert resp.status_code == 400
    assert resp.json()["error"] == {"message": f"Unknown parameter: '{param}'.", "type": "invalid_request_error",
                                    "param": param, "code": "unknown_parameter"}
    assert runtime.chat_completions.prepared == [] and fake.calls == []


@pytest.mark.parametrize("path, body, param", [
    ("/v1/chat/completions", {"messages": USER}, "model"),
    ("/v1/chat/completions", {"model": "m"}, "messages"),
    ("/v1/completions", {"model": "m"}, "prompt"),
    ("/v1/chat/completions/chatcmpl-1", {}, "metadata"),
])
def test_a_missing_field_is_refused(client, runtime, path, body, param):
    resp = client.post(path, json=body)
    assert resp.status_code == 400 and resp.json()["error"]["param"] == param
    assert runtime.chat_completions.prepared == []


@pytest.mark.parametrize("path, body, param", [
    ("/v1/chat/completions", {"model": "m", "messages": USER, "n": 129, "stream": True}, "n"),
    ("/v1/completions", {"model": "m", "prompt": "hi", "logprobs": 6, "stream": True}, "logprobs"),
])
def test_a_refused_streamed_request_is_a_json_error_not_a_stream(client, fake, path, body, param):
    resp = client.post(path, json=body)
    assert resp.status_code == 400 and resp.headers["content-type"].startswith("application/json")
    assert resp.json()["error"]["param"] == param and fake.calls == []


# -- creating --------------------------------------------------------------------------------------------
def test_a_chat_completion_without_streaming_is_one_json_object(client, fake):
    fake.say("Hello there")
    resp = client.post("/v1/chat/completions", json={"model": "m", "messages": USER})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/json")
    out = ChatCompletion.model_validate(resp.json())
    assert out.choices[0].message.content == "Hello there" and out.choices[0].finish_reason == "stop"


def test_a_streamed_chat_completion_is_data_lines_ending_with_done(client, fake):
    fake.say("Hello")
    body = {"model": "m", "messages": USER, "stream": True, "stream_options": {"include_usage": True}}
    with client.stream("POST", "/v1/chat/completions", json=body) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        payloads = data_lines(resp.read().decode())
    assert payloads[-1] == "[DONE]"
    chunks = [ChatCompletionChunk.model_validate(json.loads(p)) for p in payloads[:-1]]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 5


def test_a_legacy_completion_with_and_without_streaming(client, fake):
    fake.say(" world", " there")
    out = client.post("/v1/completions", json={"model": "m", "prompt": "Hello", "max_tokens": 8})
    assert Completion.model_validate(out.json()).choices[0].text == " world"
    with client.stream("POST", "/v1/completions", json={"model": "m", "prompt": "Hello", "stream": True}) as resp:
        payloads = data_lines(resp.read().decode())
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert "".join(c["choices"][0]["text"] for c in chunks) == " there"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


# -- stored completions over HTTP ------------------------------------------------------------------------
def store(client, fake, text, **fields):
    fake.say(text)
    resp = client.post("/v1/chat/completions", json={"model": "m", "messages": USER, "store": True, **fields})
    assert resp.status_code == 200
    return resp.json()["id"]


def test_metadata_query_parameters_reach_the_list_filter(client, runtime, fake):
    first = store(client, fake, "a", metadata={"topic": "x", "lang": "en"})
    store(client, fake, "b", metadata={"topic": "y"})
    resp = client.get("/v1/chat/completions", params={"metadata[topic]": "x", "metadata[lang]": "en",
                                                       "model": "m", "limit": "5", "order": "desc"})
    assert [c["id"] for c in resp.json()["data"]] == [first]
    assert runtime.chat_completions.listed[-1] == {"limit": "5", "order": "desc", "after": None, "model": "m",
                                                   "metadata": {"topic": "x", "lang": "en"}}
    client.get("/v1/chat/completions")
    assert runtime.chat_completions.listed[-1] == {"limit": None, "order": None, "after": None, "model": None,
                                                   "metadata": {}}


def test_retrieve_update_messages_delete(client, fake):
    cid = store(client, fake, "Hello", metadata={"a": "1"})
    assert client.get(f"/v1/chat/completions/{cid}").json()["metadata"] == {"a": "1"}
    updated = client.post(f"/v1/chat/completions/{cid}", json={"metadata": {"b": "2"}})
    assert ChatCompletion.model_validate(updated.json()).metadata == {"b": "2"}
    messages = client.get(f"/v1/chat/completions/{cid}/messages", params={"limit": "1"}).json()
    assert [(m["id"], m["role"], m["content"]) for m in messages["data"]] == [(f"{cid}-0", "user", "hi")]
    assert client.delete(f"/v1/chat/completions/{cid}").json() == {"id": cid, "object": "chat.completion.deleted",
                                                                    "deleted": True}
    gone = client.get(f"/v1/chat/completions/{cid}")
    assert gone.status_code == 404 and gone.json()["error"]["type"] == "invalid_request_error"
    assert cid in gone.json()["error"]["message"]


def test_a_bad_page_query_is_refused(client):
    resp = client.get("/v1/chat/completions", params={"limit": "many"})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "limit"
    resp = client.get("/v1/chat/completions", params={"after": "chatcmpl-nope"})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "after"
