"""The HTTP app (``server.app``) on its own: JSON that cannot be written is repaired,
errors are OpenAI's bodies with request ids, the API key guards /v1 only; on the app
with a stand-in runtime and a few routes that fail on purpose."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from local_assistants.errors import InvalidRequestError, LocalAssistantsError, NotFoundError
from local_assistants.server.app import SafeJSONResponse, _repaired, create_app, error_response

from stand_in import stand_in_runtime


def test_what_json_cannot_hold_is_repaired():
    assert _repaired({"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5], "c": ("x", 2)}) == {
        "a": None, "b": [None, None, 1.5], "c": ["x", 2]}
    assert _repaired({"bad\ud800key": "lone \udfff here", "ok": "caf\u00e9 \U0001f600"}) == {
        "bad\ufffdkey": "lone \ufffd here", "ok": "caf\u00e9 \U0001f600"}
    assert _repaired([True, None, 3, "plain"]) == [True, None, 3, "plain"]


def test_a_response_that_cannot_be_written_is_repaired_not_a_500(caplog):
    with caplog.at_level(logging.WARNING, logger="local_assistants.server.app"):
        body = SafeJSONResponse({"score": float("nan"), "text": "a\ud800b"}).body
    assert json.loads(body) == {"score": None, "text": "a\ufffdb"}
    assert "repaired" in caplog.text
    assert SafeJSONResponse({"x": 1.0}).body == b'{"x":1.0}'  # what can be written is left as it is


def test_error_responses():
    resp = error_response(InvalidRequestError("Bad.", param="limit"), "req_1")
    assert resp.status_code == 400 and resp.headers["x-request-id"] == "req_1"
    assert "x-should-retry" not in resp.headers
    assert json.loads(resp.body) == {"error": {"message": "Bad.", "type": "invalid_request_error", "param": "limit",
                                               "code": None}}
    failed = error_response(LocalAssistantsError("Broken."))
    assert failed.status_code == 500 and "x-request-id" not in failed.headers
    assert failed.headers["x-should-retry"] == "false"  # the SDK would repeat a failed POST


def _app(api_key=None):
    app = create_app(stand_in_runtime(api_key=api_key))

    @app.get("/v1/raises/{kind}")
    async def raises(kind: str):
        if kind == "own":
            raise NotFoundError("No assistant found with id 'asst_1'.", param="assistant_id")
        if kind == "server":
            raise LocalAssistantsError("The model failed.")
        raise RuntimeError("a bug")

    @app.get("/v1/typed")
    async def typed(n: int):
        return {"n": n}

    @app.get("/v1/request-id")
    async def request_id(request: Request):
        return {"id": request.state.request_id}

    return app


@pytest.fixture(scope="module")
def client():
    with TestClient(_app(), raise_server_exceptions=False) as c:
        yield c


def test_every_answer_carries_its_own_request_id(client):
    first, second = client.get("/v1/request-id"), client.get("/v1/request-id")
    assert first.headers["x-request-id"] == first.json()["id"] and first.json()["id"].startswith("req_")
    assert first.json()["id"] != second.json()["id"]
    assert client.get("/v1/raises/own").headers["x-request-id"].startswith("req_")


def test_own_errors_are_openai_bodies(client):
    resp = client.get("/v1/raises/own")
    assert resp.status_code == 404
    assert resp.json() == {"error": {"message": "No assistant found with id 'asst_1'.",
                                     "type": "invalid_request_error", "param": "assistant_id", "code": None}}
    failed = client.get("/v1/raises/server")
    assert failed.status_code == 500 and failed.headers["x-should-retry"] == "false"


def test_an_unexpected_exception_is_a_500_that_names_only_its_type(client):
    resp = client.get("/v1/raises/bug")
    assert resp.status_code == 500 and resp.headers["x-should-retry"] == "false"
    assert resp.json()["error"]["message"] == ("The server had an error while processing your request: "
                                               "RuntimeError.")
    assert "a bug" not in resp.text


def test_a_parameter_fastapi_refuses_is_named(client):
    error = client.get("/v1/typed", params={"n": "many"}).json()["error"]
    assert error["param"] == "n" and error["message"].startswith("Invalid value for 'n': ")
    assert client.get("/v1/typed", params={"n": "3"}).json() == {"n": 3}


def test_unknown_urls_and_methods_are_worded_as_openai_words_them(client):
    missing = client.get("/v1/nothing/here")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "Invalid URL (GET /v1/nothing/here)"
    wrong = client.delete("/v1/typed")
    assert wrong.status_code == 405
    assert wrong.json()["error"] == {"message": "Method DELETE is not allowed on /v1/typed.",
                                     "type": "invalid_request_error", "param": None, "code": None}


def test_health_and_the_playground_need_no_key_the_api_does():
    with TestClient(_app(api_key="sekrit")) as c:
        assert c.get("/health").json() == {"status": "ok"}
        assert c.get("/").status_code == 200
        refused = c.get("/v1/request-id")
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
        assert refused.headers["x-request-id"].startswith("req_")
        assert c.get("/v1/request-id", headers={"authorization": "sekrit"}).status_code == 401  # no Bearer
        assert c.get("/v1/request-id", headers={"authorization": "Bearer sekrit"}).status_code == 200


def test_create_thread_and_run_is_not_taken_for_modify_thread(client):
    """POST /v1/threads/runs reaches create-thread-and-run (which needs assistant_id), not
    modify-thread on a thread called "runs"."""
    error = client.post("/v1/threads/runs", json={}).json()["error"]
    assert error["message"] == "Missing required parameter: 'assistant_id'."
