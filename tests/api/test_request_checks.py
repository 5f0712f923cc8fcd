"""Request bodies are checked in one place, before anything is stored: JSON that could be
stored but never sent back (NaN, Infinity, lone surrogates), or nested past what the server
walks, is a 400, and lists stay readable; unknown fields are refused in OpenAI's words."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from conftest import make_settings, sdk_client
from local_assistants import LocalAssistants
from local_assistants.core.validation import MAX_JSON_DEPTH

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

JSON = {"content-type": "application/json", "authorization": "Bearer test-key"}
PARSE_ERROR = "We could not parse the JSON body of your request."


@pytest.fixture(scope="module")
def la(tmp_path_factory):
    with LocalAssistants(make_settings(tmp_path_factory.mktemp("checks"))) as server:
        yield server


@pytest.fixture(scope="module")
def http(la):
    with httpx.Client(base_url=la.base_url, headers={**JSON, "openai-beta": "assistants=v2"}) as c:
        yield c


def _post(http, path: str, raw: str) -> httpx.Response:
    return http.post(path, content=raw.encode())


def _refused(resp: httpx.Response, param: str | None = None, start: str | None = None) -> dict:
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]  # a well-formed OpenAI error body
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    if param is not None:
        assert error["param"] == param, error
    if start is not None:
        assert error["message"].startswith(start), error
    return error


@pytest.mark.parametrize("raw", [
    # tool parameters, response_format schemas: NaN, Infinity, -Infinity, and a number too big for a float
    '{"model": "gpt-4o", "tools": [{"type": "function", "function": {"name": "f", '
    '"parameters": {"type": "object", "properties": {"x": {"type": "number", "maximum": NaN}}}}}]}',
    '{"model": "gpt-4o", "response_format": {"type": "json_schema", "json_schema": {"name": "s", '
    '"schema": {"type": "number", "minimum": -Infinity}}}}',
    '{"model": "gpt-4o", "temperature": Infinity}',
    '{"model": "gpt-4o", "metadata": {"a": "b"}, "top_p": 1e999}',
])
def test_non_finite_numbers_are_refused(http, raw):
    _refused(_post(http, "/assistants", raw), start=PARSE_ERROR)
    assert http.get("/assistants").status_code == 200


@pytest.mark.parametrize("raw, param", [
    ('{"model": "gpt-4o", "name": "bad \\ud800 name"}', "name"),
    ('{"model": "gpt-4o", "metadata": {"k": "\\udfff"}}', "metadata.k"),
    ('{"model": "gpt-4o", "metadata": {"\\ud83d": "v"}}', "metadata"),
    ('{"model": "gpt-4o", "tools": [{"type": "function", "function": {"name": "f", "description": "x\\udc00"}}]}',
     "tools[0].function.description"),
])
def test_lone_surrogates_are_refused(http, raw, param):
    error = _refused(_post(http, "/assistants", raw), param=param)
    assert "surrogate" in error["message"]
    # A surrogate pair is one valid character, and kept.
    ok = _post(http, "/assistants", '{"model": "gpt-4o", "name": "\\ud83d\\ude00"}')
    assert ok.status_code == 200 and ok.json()["name"] == "\U0001F600"


def test_nothing_refused_was_stored_and_every_list_still_answers(la, http):
    thread = http.post("/threads", json={}).json()
    _refused(_post(http, f"/threads/{thread['id']}/messages", '{"role": "user", "content": "hi \\ud800"}'),
             param="content")
    _refused(_post(http, f"/threads/{thread['id']}/messages",
                   '{"role": "user", "content": [{"type": "text", "text": "\\udbff"}]}'), param="content[0].text")
    _refused(_post(http, "/threads", '{"messages": [{"role": "user", "content": "\\ud800"}]}'),
             param="messages[0].content")
    store = http.post("/vector_stores", json={"name": "s"}).json()
    upload = httpx.post(la.base_url + "/files", headers={"authorization": "Bearer k"},
                        files={"file": ("a.txt", b"some words to index"), "purpose": (None, "assistants")}).json()
    _refused(_post(http, f"/vector_stores/{store['id']}/files",
                   json.dumps({"file_id": upload["id"]})[:-1] + ', "attributes": {"n": NaN}}'), start=PARSE_ERROR)
    _refused(_post(http, f"/vector_stores/{store['id']}/file_batches",
                   '{"file_ids": ["%s"], "attributes": {"s": "\\ud800"}}' % upload["id"]), param="attributes.s")
    _refused(_post(http, "/vector_stores", '{"name": "x", "metadata": {"a": "\\ud800"}}'), param="metadata.a")
    for path in ("/assistants", f"/threads/{thread['id']}/messages", "/vector_stores",
                 f"/vector_stores/{store['id']}/files"):
        resp = http.get(path)
        assert resp.status_code == 200, (path, resp.text)
    assert http.get(f"/threads/{thread['id']}/messages").json()["data"] == []
    assert http.get(f"/vector_stores/{store['id']}/files").json()["data"] == []


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 100_000])
def test_deep_nesting_is_refused(http, depth):
    raw = '{"model": "gpt-4o", "metadata": ' + "[" * depth + "]" * depth + "}"
    error = _refused(_post(http, "/assistants", raw))
    assert "nested deeper" in error["message"]
    raw = '{"model": "gpt-4o", "tools": [{"type": "function", "function": {"name": "f", "parameters": ' \
          + '{"a": ' * depth + "1" + "}" * depth + "}}]}"
    assert "nested deeper" in _refused(_post(http, "/assistants", raw))["message"]


def test_nesting_within_the_limit_is_kept(http):
    inner = {"type": "object", "properties": {}}
    schema = inner
    for _ in range(20):  # a parameters schema 20 objects deep: about 44 JSON levels in the body
        schema = {"type": "object", "properties": {"x": schema}}
    body = {"model": "gpt-4o", "tools": [{"type": "function", "function": {"name": "f", "parameters": schema}}]}
    resp = http.post("/assistants", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["tools"][0]["function"]["parameters"] == schema


def test_rows_stored_before_these_checks_do_not_break_lists(la, http):
    # A database written by an older server may hold such values: lists repair them, not 500.
    la.runtime.store.insert("assistants", {
        "id": "asst_poisoned", "object": "assistant", "created_at": 1, "model": "gpt-4o", "name": "x\ud800",
        "description": None, "instructions": None, "tools": [], "tool_resources": {}, "metadata": {},
        "temperature": float("nan"), "top_p": 1.0, "response_format": "auto"})
    resp = http.get("/assistants")
    assert resp.status_code == 200
    [poisoned] = [a for a in resp.json()["data"] if a["id"] == "asst_poisoned"]
    assert poisoned["name"] == "x\ufffd" and poisoned["temperature"] is None
    http.delete("/assistants/asst_poisoned")


# -- unknown fields, as OpenAI words them ---------------------------------------------------
def test_unknown_parameters_are_named_as_openai_names_them(la):
    client = sdk_client(la.base_url)
    cases = [
        lambda: client.beta.assistants.create(model="gpt-4o", extra_body={"bogus": 1}),
        lambda: client.beta.threads.create(extra_body={"bogus": 1}),
        lambda: client.beta.threads.create_and_run(assistant_id="asst_x", thread={"bogus": 1}),  # type: ignore
        lambda: client.beta.threads.create(messages=[{"role": "user", "content": "x", "bogus": 1}]),  # type: ignore
        lambda: client.vector_stores.create(chunking_strategy={"type": "auto", "bogus": 1}),  # type: ignore
        lambda: client.vector_stores.create(extra_body={"bogus": 1}),
    ]
    params = ["bogus", "bogus", "thread.bogus", "messages[0].bogus", "chunking_strategy.bogus", "bogus"]
    for call, param in zip(cases, params):
        with pytest.raises(openai.BadRequestError) as info:
            call()
        assert info.value.code == "unknown_parameter" and info.value.param == param
        assert info.value.body["message"] == f"Unknown parameter: '{param}'."
    store = client.vector_stores.create()
    with pytest.raises(openai.BadRequestError) as info:
        client.vector_stores.search(store.id, query="x", ranking_options={"bogus": 1})  # type: ignore
    assert info.value.code == "unknown_parameter" and info.value.param == "ranking_options.bogus"
    client.close()


@pytest.mark.parametrize("value", ["extreme", "LOW", "", 3, True])
def test_reasoning_effort_is_checked_as_openai_checks_it(la, value):
    client = sdk_client(la.base_url)
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.assistants.create(model="gpt-4o", reasoning_effort=value)  # type: ignore[arg-type]
    assert info.value.param == "reasoning_effort"
    assert info.value.code in ("invalid_value", "invalid_type")
    assistant = client.beta.assistants.create(model="gpt-4o", reasoning_effort="low")
    thread = client.beta.threads.create()
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id,
                                        reasoning_effort=value)  # type: ignore[arg-type]
    assert info.value.param == "reasoning_effort"
    client.close()


def test_multipart_fields_are_checked_like_json_fields(la):
    url = la.base_url + "/files"
    resp = httpx.post(url, files={"file": ("a.txt", b"x"), "purpose": (None, "a" * 5000)})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "purpose"
    resp = httpx.post(url, files=[("file", ("a.txt", b"x")), ("purpose", (None, "assistants")),
                                  ("purpose", (None, "assistants"))])
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "purpose"
    resp = httpx.post(url, files={"file": ("a.txt", b"x"), "purpose": (None, "assistants"),
                                  "expires_after[seconds]": (None, "NaN")})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "expires_after.seconds"


def test_what_a_strict_client_could_not_read_back_is_refused(la):
    # Found by the fuzzer: a response_format whose schema was not an object was stored, and
    # from then on every strict SDK client failed to read the assistant and the assistant list.
    client = sdk_client(la.base_url)
    for fmt, param in [
        ({"type": "json_schema", "json_schema": {"name": "s", "schema": 0.0}}, "response_format.json_schema.schema"),
        ({"type": "json_schema", "json_schema": {"name": "s", "schema": {}, "bogus": 1}},
         "response_format.json_schema.bogus"),
    ]:
        with pytest.raises(openai.BadRequestError) as info:
            client.beta.assistants.create(model="gpt-4o", response_format=fmt)  # type: ignore[arg-type]
        assert info.value.param == param
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.assistants.create(model="gpt-4o", tools=[{"type": "function", "function": {  # type: ignore
            "name": "f", "strict": "yes"}}])
    assert info.value.param == "tools[0].function.strict"
    list(client.beta.assistants.list())  # strict validation of every stored assistant
    client.close()
