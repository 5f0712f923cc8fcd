"""The served OpenAPI document describes every route's body, query parameters and answers,
with the same fields OpenAI's SDK sends, and limits that the validation code agrees with:
each limit the document states is sent to the server, just inside and just outside it."""

from __future__ import annotations

import importlib

import httpx
import pytest

from conftest import make_settings
from live_server import serve
from local_assistants.runtime import Runtime
from local_assistants.server import create_app
from local_assistants.server import schemas as s

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SPEC = create_app(None).openapi()
OPERATIONS = [(m.upper(), p, op) for p, item in SPEC["paths"].items() for m, op in item.items()]


def test_the_document_served_is_the_one_described(tmp_path):
    with Runtime(make_settings(tmp_path), start_worker=False) as rt, serve(rt) as base:
        assert httpx.get(base + "/openapi.json").json() == SPEC


@pytest.mark.parametrize("method, path, op", OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_every_operation_describes_its_input_and_answers(method, path, op):
    ok = op["responses"]["200"]["content"]
    assert ok, "no 200 body described"
    assert all(c.get("schema") for c in ok.values())
    if path.startswith("/v1"):
        assert op["responses"]["default"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"}
    if method == "POST":
        assert "requestBody" in op, "a POST without a described body"
    # Stored chat completions and their messages page forward only (the SDK's list parameters have no before).
    if method == "GET" and path.endswith(("/assistants", "/messages", "/runs", "/steps", "/files", "/vector_stores")) \
            and not path.startswith("/v1/chat/completions"):
        names = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        assert {"limit", "order", "after", "before"} <= names


SDK_PARAMS = [  # (our body, the SDK's parameters for it)
    (s.CREATE_ASSISTANT, "openai.types.beta.assistant_create_params:AssistantCreateParams"),
    (s.MODIFY_ASSISTANT, "openai.types.beta.assistant_update_params:AssistantUpdateParams"),
    (s.CREATE_THREAD, "openai.types.beta.thread_create_params:ThreadCreateParams"),
    (s.MODIFY_THREAD, "openai.types.beta.thread_update_params:ThreadUpdateParams"),
    (s.CREATE_MESSAGE, "openai.types.beta.threads.message_create_params:MessageCreateParams"),
    (s.CREATE_RUN, "openai.types.beta.threads.run_create_params:RunCreateParamsBase"),
    (s.CREATE_THREAD_AND_RUN, "openai.types.beta.thread_create_and_run_params:ThreadCreateAndRunParamsBase"),
    (s.SUBMIT_TOOL_OUTPUTS, "openai.types.beta.threads.run_submit_tool_outputs_params:RunSubmitToolOutputsParamsBase"),
    (s.CREATE_VECTOR_STORE, "openai.types.vector_store_create_params:VectorStoreCreateParams"),
    (s.MODIFY_VECTOR_STORE, "openai.types.vector_store_update_params:VectorStoreUpdateParams"),
    (s.SEARCH_VECTOR_STORE, "openai.types.vector_store_search_params:VectorStoreSearchParams"),
    (s.ATTACH_FILE, "openai.types.vector_stores.file_create_params:FileCreateParams"),
    (s.UPDATE_FILE, "openai.types.vector_stores.file_update_params:FileUpdateParams"),
    (s.CREATE_BATCH, "openai.types.vector_stores.file_batch_create_params:FileBatchCreateParams"),
]
PATH_PARAMS = {"thread_id", "vector_store_id", "run_id"}
QUERY_PARAMS = {"include"}  # the SDK sends these as query parameters (include[]), not in the body


@pytest.mark.parametrize("body, sdk", SDK_PARAMS, ids=[b.name for b, _ in SDK_PARAMS])
def test_bodies_take_exactly_the_fields_the_sdk_sends(body, sdk):
    module, name = sdk.split(":")
    params = getattr(importlib.import_module(module), name)
    fields = set(params.__annotations__)
    for base in getattr(params, "__orig_bases__", ()):
        fields |= set(getattr(base, "__annotations__", {}))
    assert body.fields - {"stream"} == fields - PATH_PARAMS - QUERY_PARAMS


# -- the limits the document states, against the server --------------------------------------
def _plain(schema: dict) -> dict:
    """The first non-null branch of a (nullable) schema: where its limits are."""
    while "anyOf" in schema:
        schema = next(b for b in schema["anyOf"] if b.get("type") != "null")
    return schema


def _example(schema: dict):
    schema = _plain(schema)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {k: _example(schema["properties"][k]) for k in schema.get("required", [])}
    if kind == "array":
        return [_example(schema["items"])] * schema.get("minItems", 0)
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    return "a" * max(1, schema.get("minLength", 1))


def _cases(properties: dict) -> list[tuple[str, object, object]]:
    """(field, a value just inside a stated limit, one just outside it)."""
    out = []
    for name, full in properties.items():
        schema = _plain(full)
        kind = schema.get("type")
        if "maximum" in schema:
            step = 1 if kind == "integer" else 0.5
            out.append((name, schema["maximum"], schema["maximum"] + step))
        if "minimum" in schema:
            step = 1 if kind == "integer" else 0.5
            out.append((name, schema["minimum"], schema["minimum"] - step))
        if "maxLength" in schema:
            out.append((name, "a" * schema["maxLength"], "a" * (schema["maxLength"] + 1)))
        if schema.get("minLength"):
            out.append((name, "a" * schema["minLength"], "a" * (schema["minLength"] - 1)))
        if "enum" in schema:
            out.append((name, schema["enum"][-1], "not-one-of-them"))
        if "maxItems" in schema:
            item = _example(schema["items"])
            out.append((name, [item] * schema["maxItems"], [item] * (schema["maxItems"] + 1)))
        if schema.get("minItems"):
            item = _example(schema["items"])
            out.append((name, [item] * schema["minItems"], []))
        if "maxProperties" in schema:
            pairs = lambda n: {f"k{i}": "v" for i in range(n)}  # noqa: E731
            out.append((name, pairs(schema["maxProperties"]), pairs(schema["maxProperties"] + 1)))
    return out


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with Runtime(make_settings(tmp_path_factory.mktemp("limits")), start_worker=False) as rt, serve(rt) as base:
        with httpx.Client(base_url=base + "/v1", timeout=60) as c:
            assistant = c.post("/assistants", json={"model": "gpt-4o"}).json()["id"]
            file_id = c.post("/files", files={"file": ("a.txt", b"words"), "purpose": (None, "assistants")}).json()["id"]
            store = c.post("/vector_stores", json={}).json()["id"]
            yield c, {"assistant": assistant, "file": file_id, "store": store}


def _targets(c, ids):
    """Each body with a route that takes it and the required fields filled in."""
    fresh_thread = lambda: c.post("/threads", json={}).json()["id"]  # noqa: E731 (runs lock their thread)
    return [
        (s.CREATE_ASSISTANT, lambda: "/assistants", {"model": "gpt-4o"}),
        (s.MODIFY_ASSISTANT, lambda: f"/assistants/{ids['assistant']}", {}),
        (s.CREATE_THREAD, lambda: "/threads", {}),
        (s.CREATE_MESSAGE, lambda: f"/threads/{fresh_thread()}/messages", {"role": "user", "content": "x"}),
        (s.CREATE_RUN, lambda: f"/threads/{fresh_thread()}/runs", {"assistant_id": ids["assistant"]}),
        (s.CREATE_THREAD_AND_RUN, lambda: "/threads/runs", {"assistant_id": ids["assistant"]}),
        (s.CREATE_VECTOR_STORE, lambda: "/vector_stores", {}),
        (s.MODIFY_VECTOR_STORE, lambda: f"/vector_stores/{ids['store']}", {}),
        (s.SEARCH_VECTOR_STORE, lambda: f"/vector_stores/{ids['store']}/search", {"query": "x"}),
        (s.ATTACH_FILE, lambda: f"/vector_stores/{ids['store']}/files", {"file_id": ids["file"]}),
        (s.CREATE_BATCH, lambda: f"/vector_stores/{ids['store']}/file_batches", {"file_ids": [ids["file"]]}),
    ]


def test_the_validation_agrees_with_every_limit_the_document_states(api):
    c, ids = api
    checked, disagreements = 0, []
    for body, route, base in _targets(c, ids):
        for field, inside, outside in _cases(body.properties):
            if field in base and field in ("file_id", "assistant_id"):
                continue  # ids: any string is a well-formed one (a missing object is a 404)
            if field in ("stream",):
                continue
            base_ = {k: v for k, v in base.items() if (field, k) != ("files", "file_ids")}  # one or the other
            refused = c.post(route(), json={**base_, field: outside})
            error = refused.json().get("error") or {}
            if refused.status_code != 400 or not (error.get("param") or "").startswith(field):
                disagreements.append(f"{body.name}.{field}={str(outside)[:40]!r}: {refused.status_code} {error}")
            taken = c.post(route(), json={**base_, field: inside})
            error = taken.json().get("error") or {}
            if field == "model" and error.get("code") == "model_not_found":
                pass  # well-formed, but not a model this server serves (OpenAI answers so too)
            elif taken.status_code == 400 and (error.get("param") or "").startswith(field):
                disagreements.append(f"{body.name}.{field}={str(inside)[:40]!r} refused: {error}")
            checked += 1
    assert not disagreements, "\n".join(disagreements)
    assert checked > 60


@pytest.mark.parametrize("path, params", [
    ("/assistants", s.PAGE), ("/files", s.FILES_PAGE), ("/vector_stores", s.PAGE),
])
def test_the_validation_agrees_with_the_query_limits(api, path, params):
    c, _ = api
    for p in params:
        schema = p.schema
        if "maximum" in schema:
            assert c.get(path, params={p.name: schema["maximum"]}).status_code == 200
            assert c.get(path, params={p.name: schema["maximum"] + 1}).json()["error"]["param"] == p.name
        if "minimum" in schema:
            assert c.get(path, params={p.name: schema["minimum"] - 1}).json()["error"]["param"] == p.name
        if "enum" in schema:
            assert c.get(path, params={p.name: schema["enum"][-1]}).status_code == 200
            assert c.get(path, params={p.name: "not-one"}).json()["error"]["param"] == p.name
