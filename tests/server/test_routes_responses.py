"""The /v1/responses and /v1/conversations routes' own work, on the app with stand-in
services: the OpenAPI document, bodies refused before a service is called, what a response
created with or without streaming answers, and a stream read again from its stored events
(a real SQLite store and the real ResponseEvents and EventBus; tests/api/test_responses.py
drives these routes with the SDK and a real model)."""

from __future__ import annotations

import json
import threading

import pytest

from local_assistants.adapters.sqlite_store import SQLiteStore
from local_assistants.errors import NotFoundError
from local_assistants.server.app import create_app
from local_assistants.server import schemas_responses as sr
from local_assistants.services.events import EventBus
from local_assistants.services.response_events import ResponseEvents
from local_assistants.services.responses import BODY_FIELDS

from stand_in import app_client, stand_in_runtime

SPEC = create_app(None).openapi()
NEW_OPERATIONS = {
    ("POST", "/v1/responses"), ("POST", "/v1/responses/input_tokens"), ("GET", "/v1/responses/{response_id}"),
    ("DELETE", "/v1/responses/{response_id}"), ("POST", "/v1/responses/{response_id}/cancel"),
    ("GET", "/v1/responses/{response_id}/input_items"),
    ("POST", "/v1/conversations"), ("GET", "/v1/conversations/{conversation_id}"),
    ("POST", "/v1/conversations/{conversation_id}"), ("DELETE", "/v1/conversations/{conversation_id}"),
    ("GET", "/v1/conversations/{conversation_id}/items"), ("POST", "/v1/conversations/{conversation_id}/items"),
    ("GET", "/v1/conversations/{conversation_id}/items/{item_id}"),
    ("DELETE", "/v1/conversations/{conversation_id}/items/{item_id}"),
}


def operation(method, path):
    return SPEC["paths"][path][method.lower()]


def body_schema(method, path):
    return operation(method, path)["requestBody"]["content"]["application/json"]["schema"]


def response_object(rid, status="queued", **fields):
    return {"id": rid, "object": "response", "status": status, "output": [], **fields}


class Responses:
    """The ResponsesService's calls, recorded; its answers, plain."""

    def __init__(self, background=False):
        self.background = background
        self.created: list[tuple[dict, bool]] = []
        self.forgotten: list[str] = []
        self.asked: list[tuple] = []

    def create(self, body, *, start):
        self.created.append((body, start))
        rid = f"resp_{len(self.created)}"
        return response_object(rid), {"id": rid, "background": self.background or bool(body.get("background"))}

    def retrieve(self, response_id, include=None):
        self.asked.append(("retrieve", response_id, include))
        if not response_id.startswith("resp_"):
            raise NotFoundError(f"Response with id '{response_id}' not found.")
        return response_object(response_id, "completed")

    def input_items(self, response_id, **page):
        self.asked.append(("input_items", response_id, page))
        return {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}

    def input_tokens(self, body):
        self.asked.append(("input_tokens", body))
        return {"object": "response.input_tokens", "input_tokens": 7}

    def cancel(self, response_id):
        return response_object(response_id, "cancelled")

    def delete(self, response_id):
        return {"id": response_id, "object": "response", "deleted": True}

    def forget_unstored(self, response_id):
        self.forgotten.append(response_id)


class Conversations:
    def __init__(self):
        self.calls: list[tuple] = []

    def _record(self, name, *args, **kwargs):
        self.calls.append((name, args, kwargs))
        return {"id": "conv_1", "object": "conversation", "created_at": 0, "metadata": {}}

    def create(self, **body):
        return self._record("create", **body)

    def update(self, conversation_id, **body):
        return self._record("update", conversation_id, **body)

    def create_items(self, conversation_id, **body):
        self._record("create_items", conversation_id, **body)
        return {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}

    def list_items(self, conversation_id, **page):
        self._record("list_items", conversation_id, **page)
        return {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


class Worker:
    """Runs a response as the worker would, on its own thread: its events, then its end."""

    def __init__(self):
        self.enqueued: list[str] = []
        self.response_events: ResponseEvents | None = None
        self.threads: list[threading.Thread] = []

    def enqueue(self, rid):
        self.enqueued.append(rid)
        if self.response_events is None:
            return

        def run():
            self.response_events.emit(rid, "response.in_progress", {"response": response_object(rid, "in_progress")})
            self.response_events.emit(rid, "response.completed", {"response": response_object(rid, "completed")})

        thread = threading.Thread(target=run)
        self.threads.append(thread)
        thread.start()


@pytest.fixture
def runtime(tmp_path):
    store = SQLiteStore(tmp_path / "db.sqlite")
    bus = EventBus()
    worker = Worker()
    rt = stand_in_runtime(store=store, events=bus, worker=worker, responses=Responses(),
                          conversations=Conversations())
    rt.response_events = worker.response_events = ResponseEvents(store, bus.publish, view=lambda rid: None)
    return rt


@pytest.fixture
def client(runtime):
    with app_client(runtime) as c:
        yield c
    for thread in runtime.worker.threads:
        thread.join(5)


def sse(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


# -- the OpenAPI document -----------------------------------------------------------------
def test_the_document_lists_every_new_operation():
    listed = {(m.upper(), p) for p, item in SPEC["paths"].items() for m in item
              if p.startswith(("/v1/responses", "/v1/conversations"))}
    assert listed == NEW_OPERATIONS


def test_the_create_body_is_the_service_s_fields():
    assert set(body_schema("POST", "/v1/responses")["properties"]) == set(BODY_FIELDS)
    assert body_schema("POST", "/v1/responses")["additionalProperties"] is False
    assert set(body_schema("POST", "/v1/responses/input_tokens")["properties"]) == sr.INPUT_TOKENS.fields
    assert set(body_schema("POST", "/v1/conversations")["properties"]) == {"items", "metadata"}
    assert body_schema("POST", "/v1/conversations/{conversation_id}")["required"] == ["metadata"]
    assert body_schema("POST", "/v1/conversations/{conversation_id}/items")["required"] == ["items"]


@pytest.mark.parametrize("method, path", sorted(NEW_OPERATIONS))
def test_every_new_operation_describes_its_answer(method, path):
    ok = operation(method, path)["responses"]["200"]["content"]
    assert ok and all(c.get("schema") for c in ok.values())
    if method == "POST":
        assert "requestBody" in operation(method, path)


def test_paged_and_retrieved_operations_take_their_query_parameters():
    names = {p["name"] for p in operation("GET", "/v1/responses/{response_id}/input_items")["parameters"]}
    assert {"limit", "order", "after", "before", "include[]"} <= names
    names = {p["name"] for p in operation("GET", "/v1/responses/{response_id}")["parameters"]}
    assert {"include[]", "stream", "starting_after"} <= names


# -- bodies refused before the service is called ---------------------------------------------
def test_a_malformed_body_gets_openai_s_error_shape(client, runtime):
    resp = client.post("/v1/responses", content=b"{nope", headers={"content-type": "application/json"})
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    assert runtime.responses.created == [] and runtime.worker.enqueued == []


@pytest.mark.parametrize("path, body, param", [
    ("/v1/responses", {"input": "hi", "colour": "red"}, "colour"),
    ("/v1/responses/input_tokens", {"input": "hi", "stream": True}, "stream"),
    ("/v1/responses/resp_1/cancel", {"now": True}, "now"),
    ("/v1/conversations", {"title": "x"}, "title"),
])
def test_an_unknown_field_is_refused_before_the_service_is_called(client, runtime, path, body, param):
    resp = client.post(path, json=body)
    assert resp.status_code == 400
    assert resp.json()["error"] == {"message": f"Unknown parameter: '{param}'.", "type": "invalid_request_error",
                                    "param": param, "code": "unknown_parameter"}
    assert runtime.responses.created == [] and runtime.responses.asked == [] and runtime.conversations.calls == []


@pytest.mark.parametrize("path, body, param", [
    ("/v1/conversations/conv_1", {}, "metadata"),
    ("/v1/conversations/conv_1/items", {}, "items"),
])
def test_a_missing_field_is_refused(client, runtime, path, body, param):
    resp = client.post(path, json=body)
    assert resp.status_code == 400 and resp.json()["error"]["param"] == param
    assert runtime.conversations.calls == []


def test_stream_must_be_a_boolean(client, runtime):
    resp = client.post("/v1/responses", json={"input": "hi", "stream": "yes"})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "stream"
    assert runtime.responses.created == []


# -- creating a response ---------------------------------------------------------------------
def test_a_background_response_is_answered_at_once_and_its_first_events_stored(client, runtime):
    resp = client.post("/v1/responses", json={"input": "hi", "background": True})
    assert resp.status_code == 200 and resp.json()["id"] == "resp_1"
    assert runtime.responses.created == [({"input": "hi", "background": True}, False)]  # queued by the route
    assert runtime.worker.enqueued == ["resp_1"]
    for thread in runtime.worker.threads:
        thread.join(5)
    stored = runtime.store.events_after("resp_1", -1)
    assert [(seq, event) for seq, event, _ in stored[:2]] == [(0, "response.created"), (1, "response.queued")]
    assert stored[0][2]["response"]["status"] == "queued"


def test_a_response_without_streaming_is_answered_with_its_final_event(client, runtime):
    resp = client.post("/v1/responses", json={"input": "hi"})
    assert resp.json() == response_object("resp_1", "completed")
    assert runtime.responses.forgotten == ["resp_1"]  # a response not to be stored goes once answered
    events = [event for _, event, _ in runtime.store.events_after("resp_1", -1)]
    assert events == ["response.created", "response.in_progress", "response.completed"]


def test_a_streamed_response_sends_its_events_in_order(client, runtime):
    with client.stream("POST", "/v1/responses", json={"input": "hi", "stream": True}) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = sse(resp.read().decode())
    assert [e for e, _ in events] == ["response.created", "response.in_progress", "response.completed"]
    assert [d["sequence_number"] for _, d in events] == [0, 1, 2]
    assert events[0][1]["response"]["status"] == "in_progress"


def test_a_stream_is_read_again_from_its_stored_events(client, runtime):
    client.post("/v1/responses", json={"input": "hi"})
    resp = client.get("/v1/responses/resp_1", params={"stream": "true", "starting_after": "0"})
    assert [(e, d["sequence_number"]) for e, d in sse(resp.text)] == [("response.in_progress", 1),
                                                                      ("response.completed", 2)]
    bad = client.get("/v1/responses/resp_1", params={"stream": "true", "starting_after": "soon"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "starting_after"


def test_an_unknown_response_s_stream_is_a_404_not_a_stream(client):
    resp = client.get("/v1/responses/nothing_here", params={"stream": "true"})
    assert resp.status_code == 404 and resp.headers["content-type"].startswith("application/json")
    assert resp.json()["error"]["type"] == "invalid_request_error"
    assert "nothing_here" in resp.json()["error"]["message"]


# -- what the other routes hand the services -----------------------------------------------------
def test_query_parameters_reach_the_services(client, runtime):
    client.get("/v1/responses/resp_9", params=[("include[]", "code_interpreter_call.outputs")])
    client.get("/v1/responses/resp_9/input_items", params={"limit": "5", "order": "asc", "after": "msg_1"})
    client.post("/v1/responses/input_tokens", json={"input": "hello"})
    assert runtime.responses.asked == [
        ("retrieve", "resp_9", ["code_interpreter_call.outputs"]),
        ("input_items", "resp_9", {"limit": "5", "order": "asc", "after": "msg_1", "before": None, "include": []}),
        ("input_tokens", {"input": "hello"})]
    assert client.post("/v1/responses/resp_9/cancel").json()["status"] == "cancelled"  # no body at all
    assert client.delete("/v1/responses/resp_9").json()["deleted"] is True


def test_conversation_bodies_reach_the_service(client, runtime):
    items = [{"type": "message", "role": "user", "content": "hi"}]
    client.post("/v1/conversations", json={"items": items, "metadata": {"a": "b"}})
    client.post("/v1/conversations/conv_1", json={"metadata": {"c": "d"}})
    client.post("/v1/conversations/conv_1/items", json={"items": items})
    client.get("/v1/conversations/conv_1/items", params={"limit": "2"})
    assert runtime.conversations.calls == [
        ("create", (), {"items": items, "metadata": {"a": "b"}}),
        ("update", ("conv_1",), {"metadata": {"c": "d"}}),
        ("create_items", ("conv_1",), {"items": items, "include": []}),
        ("list_items", ("conv_1",), {"limit": "2", "order": None, "after": None, "before": None, "include": []})]
