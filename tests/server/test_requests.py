"""What route handlers read from a request (``server.requests``): the JSON body as a
``Body`` declares it, the declared query parameters, and the poll hint; on a bare app
whose routes only read, with a stand-in runtime."""

from __future__ import annotations

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from local_assistants.server import requests as r
from local_assistants.server.app import create_app
from local_assistants.server.schemas import Body, Param, integer, string

from stand_in import stand_in_runtime


SPEC = Body("Spec", {"name": string(), "size": integer(), "note": string()}, ("name", "size"))
PARAMS = (Param("limit", integer()), Param("order", string()), Param("include[]", string(), array=True))


@pytest.fixture(scope="module")
def client():
    runtime = stand_in_runtime(poll_after_ms=321)
    app = create_app(runtime)  # its error handlers answer in OpenAI's words

    @app.post("/t/body")
    async def body(request: Request):
        return {"body": await r.json_body(request, SPEC)}

    @app.post("/t/empty")
    async def empty(request: Request):
        return {"body": await r.json_body(request, Body("Empty", {}))}

    @app.get("/t/query")
    async def query(request: Request):
        return {"page": r.page_params(request), "declared": r.query(request, PARAMS)}

    @app.get("/t/poll")
    async def poll(request: Request):
        assert r.runtime(request) is runtime
        return r.with_poll_hint(request, {"id": "run_1", "status": "queued"})

    with TestClient(app) as c:
        yield c


def _error(resp):
    assert resp.status_code == 400, resp.text
    return resp.json()["error"]


def test_a_body_with_its_required_fields_is_read_as_sent(client):
    sent = {"name": "a", "size": 0, "note": None}
    assert client.post("/t/body", json=sent).json() == {"body": sent}


@pytest.mark.parametrize("sent, param", [({"size": 1}, "name"), ({"name": "a", "size": None}, "size"),
                                         ({}, "name")])
def test_a_missing_or_null_required_field_is_refused(client, sent, param):
    error = _error(client.post("/t/body", json=sent))
    assert error == {"message": f"Missing required parameter: '{param}'.", "type": "invalid_request_error",
                     "param": param, "code": None}


def test_an_unknown_field_is_refused_before_a_missing_one(client):
    error = _error(client.post("/t/body", json={"colour": "red", "zebra": 1}))
    assert (error["param"], error["code"]) == ("colour", "unknown_parameter")


def test_an_empty_body_is_an_empty_object(client):
    assert client.post("/t/empty", content=b"").json() == {"body": {}}
    assert client.post("/t/empty", content=b" \n").json() == {"body": {}}
    assert _error(client.post("/t/body", content=b""))["param"] == "name"


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"3", b"null"])
def test_a_body_that_is_not_an_object_is_refused(client, raw):
    error = _error(client.post("/t/empty", content=raw, headers={"content-type": "application/json"}))
    assert error["message"] == "Invalid request body: expected a JSON object."


def test_malformed_json_is_refused(client):
    assert _error(client.post("/t/empty", content=b"{nope"))["type"] == "invalid_request_error"


def test_only_declared_query_parameters_are_read(client):
    got = client.get("/t/query", params=[("limit", "5"), ("after", "msg_1"), ("include[]", "a"), ("include[]", "b"),
                                         ("colour", "red")]).json()
    assert got["page"] == {"limit": "5", "order": None, "after": "msg_1", "before": None}
    assert got["declared"] == {"limit": "5", "order": None, "include": ["a", "b"]}
    assert client.get("/t/query").json()["declared"] == {"limit": None, "order": None, "include": []}


def test_the_poll_hint_is_the_runtime_s_setting(client):
    resp = client.get("/t/poll")
    assert resp.json() == {"id": "run_1", "status": "queued"}
    assert resp.headers["openai-poll-after-ms"] == "321"


def test_a_blocking_call_runs_off_the_event_loop():
    import asyncio
    import threading

    async def main():
        loop_thread = threading.get_ident()
        return loop_thread, await r.call(lambda a, *, b: (threading.get_ident(), a + b), 1, b=2)

    loop_thread, (worker_thread, total) = asyncio.run(main())
    assert total == 3 and worker_thread != loop_thread
