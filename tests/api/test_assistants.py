"""/v1/assistants through the official SDK (strict response validation) against the real server."""

from __future__ import annotations

import httpx
import openai
import pytest

from conftest import make_settings, sdk_client
from local_assistants import LocalAssistants

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


FUNCTION_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def _bad_request(call, **kwargs) -> openai.BadRequestError:
    with pytest.raises(openai.BadRequestError) as info:
        call(**kwargs)
    assert info.value.status_code == 400
    return info.value


# -- create / retrieve / list / modify / delete ---------------------------------------------

def test_create_returns_every_field(shared_client):
    a = shared_client.beta.assistants.create(
        model="gpt-4o",
        name="Helper",
        description="Helps.",
        instructions="Be brief.",
        tools=[{"type": "code_interpreter"}, {"type": "file_search"}, FUNCTION_TOOL],
        tool_resources={"code_interpreter": {"file_ids": ["file-abc"]}},
        metadata={"team": "blue"},
        temperature=0.5,
        top_p=0.9,
        response_format={"type": "json_object"},
    )
    assert a.id.startswith("asst_")
    assert a.object == "assistant"
    assert isinstance(a.created_at, int) and a.created_at > 1_600_000_000
    assert a.model == "gpt-4o"  # kept as sent, even though a local model answers
    assert a.name == "Helper"
    assert a.description == "Helps."
    assert a.instructions == "Be brief."
    assert [t.type for t in a.tools] == ["code_interpreter", "file_search", "function"]
    assert a.tools[2].function.name == "get_weather"
    assert a.tools[2].function.description == "The weather in a city."
    assert a.tools[2].function.parameters["required"] == ["city"]
    assert a.tool_resources.code_interpreter.file_ids == ["file-abc"]
    assert a.metadata == {"team": "blue"}
    assert a.temperature == 0.5
    assert a.top_p == 0.9
    assert a.response_format.type == "json_object"


def test_create_minimal_has_defaults(shared_client):
    a = shared_client.beta.assistants.create(model="gpt-4-turbo")
    assert a.model == "gpt-4-turbo"
    assert a.name is None and a.description is None and a.instructions is None
    assert a.tools == []
    assert a.metadata == {}
    assert a.temperature == 1.0 and a.top_p == 1.0
    assert a.response_format == "auto"


def test_zero_temperature_is_kept(shared_client):
    a = shared_client.beta.assistants.create(model="gpt-4o", temperature=0, top_p=0)
    assert a.temperature == 0 and a.top_p == 0


def test_retrieve_returns_what_create_returned(shared_client):
    a = shared_client.beta.assistants.create(model="gpt-4o", name="R", tools=[FUNCTION_TOOL], metadata={"k": "v"})
    got = shared_client.beta.assistants.retrieve(a.id)
    assert got.model_dump() == a.model_dump()


def test_list_returns_created_assistants_newest_first(client):
    ids = [client.beta.assistants.create(model="gpt-4o", name=f"n{i}").id for i in range(3)]
    page = client.beta.assistants.list()
    assert [a.id for a in page.data] == ids[::-1]
    assert page.has_more is False
    asc = client.beta.assistants.list(order="asc")
    assert [a.id for a in asc.data] == ids


def test_modify_changes_only_what_is_sent(shared_client):
    a = shared_client.beta.assistants.create(model="gpt-4o", name="Before", instructions="Old.",
                                      metadata={"a": "1"})
    m = shared_client.beta.assistants.update(a.id, name="After", metadata={"b": "2"}, model="gpt-4o-mini",
                                      tools=[FUNCTION_TOOL], temperature=0.2)
    assert m.id == a.id and m.created_at == a.created_at
    assert m.name == "After"
    assert m.instructions == "Old."
    assert m.metadata == {"b": "2"}
    assert m.model == "gpt-4o-mini"
    assert [t.type for t in m.tools] == ["function"]
    assert m.temperature == 0.2
    assert shared_client.beta.assistants.retrieve(a.id).model_dump() == m.model_dump()


def test_modify_with_invalid_value_changes_nothing(shared_client):
    a = shared_client.beta.assistants.create(model="gpt-4o", name="Keep")
    e = _bad_request(shared_client.beta.assistants.update, assistant_id=a.id, name="New",
                     description="x" * 513)
    assert e.param == "description"
    assert shared_client.beta.assistants.retrieve(a.id).name == "Keep"


def test_delete(shared_client):
    a = shared_client.beta.assistants.create(model="gpt-4o")
    d = shared_client.beta.assistants.delete(a.id)
    assert d.id == a.id and d.deleted is True and d.object == "assistant.deleted"
    with pytest.raises(openai.NotFoundError):
        shared_client.beta.assistants.retrieve(a.id)
    assert a.id not in [x.id for x in shared_client.beta.assistants.list()]


@pytest.mark.parametrize("op", ["retrieve", "update", "delete"])
def test_unknown_id_is_404(shared_client, op):
    with pytest.raises(openai.NotFoundError) as info:
        getattr(shared_client.beta.assistants, op)("asst_doesnotexist")
    assert info.value.status_code == 404
    assert "asst_doesnotexist" in info.value.message


# -- limits ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"metadata": {"k" * 65: "v"}}, "metadata"),
        ({"metadata": {"k": "v" * 513}}, "metadata.k"),
        ({"metadata": {"k": 1}}, "metadata.k"),
        ({"name": "n" * 257}, "name"),
        ({"description": "d" * 513}, "description"),
        ({"instructions": "i" * 256_001}, "instructions"),
        ({"tools": [{"type": "code_interpreter"}] * 129}, "tools"),
        ({"tools": [{"type": "browser"}]}, "tools[0].type"),
        ({"tools": [{"type": "code_interpreter"}, {"type": "function", "function": {"name": "bad name!"}}]},
         "tools[1].function.name"),
        ({"tools": [{"type": "function", "function": {"name": "f" * 65}}]}, "tools[0].function.name"),
        ({"tools": [FUNCTION_TOOL, FUNCTION_TOOL]}, "tools[1].function.name"),
        ({"tools": [{"type": "file_search", "file_search": {"ranking_options": {"ranker": "auto"}}}]},
         "tools[0].file_search.ranking_options.score_threshold"),
        ({"tools": [{"type": "file_search", "file_search": {"ranking_options": {"score_threshold": 0.5,
                                                                                "ranker": "bm25"}}}]},
         "tools[0].file_search.ranking_options.ranker"),
        ({"tools": [{"type": "file_search", "file_search": {"max_num_results": 51}}]},
         "tools[0].file_search.max_num_results"),
        ({"tools": [{"type": "function", "function": {"name": "f", "description": 5}}]},
         "tools[0].function.description"),
        ({"temperature": 2.5}, "temperature"),
        ({"top_p": -0.1}, "top_p"),
        ({"response_format": {"type": "xml"}}, "response_format"),
        ({"tool_resources": {"code_interpreter": {"file_ids": [f"file-{i}" for i in range(21)]}}},
         "tool_resources.code_interpreter.file_ids"),
        ({"tool_resources": {"file_search": {"vector_store_ids": ["vs_1", "vs_2"]}}},
         "tool_resources.file_search.vector_store_ids"),
    ],
)
def test_limits_are_refused_with_param(shared_server, shared_client, kwargs, param):
    before = shared_server.runtime.store.count("assistants")
    e = _bad_request(shared_client.beta.assistants.create, model="gpt-4o", **kwargs)
    assert e.param == param
    assert e.type == "invalid_request_error"
    assert shared_server.runtime.store.count("assistants") == before  # nothing written


@pytest.mark.parametrize(
    "kwargs",
    [
        {"metadata": {f"k{i}": "v" * 512 for i in range(16)}},
        {"metadata": {"k" * 64: "v"}},
        {"name": "n" * 256, "description": "d" * 512, "instructions": "i" * 256_000},
        {"tools": [{"type": "function", "function": {"name": f"f_{i}"}} for i in range(128)]},
        {"tools": [{"type": "file_search", "file_search": {
            "max_num_results": 50, "ranking_options": {"score_threshold": 0.5, "ranker": "auto"}}}]},
    ],
)
def test_values_at_the_limit_are_accepted(shared_client, kwargs):
    a = shared_client.beta.assistants.create(model="gpt-4o", **kwargs)
    assert shared_client.beta.assistants.retrieve(a.id).model_dump() == a.model_dump()


def test_limits_apply_to_modify(shared_client):
    a = shared_client.beta.assistants.create(model="gpt-4o")
    e = _bad_request(shared_client.beta.assistants.update, assistant_id=a.id,
                     metadata={f"k{i}": "v" for i in range(17)})
    assert e.param == "metadata"
    e = _bad_request(shared_client.beta.assistants.update, assistant_id=a.id, tools=[{"type": "browser"}])
    assert e.param == "tools[0].type"


@pytest.mark.parametrize("model", [None, "", "   ", 5])
def test_missing_or_empty_model_is_refused(shared_client, model):
    e = _bad_request(shared_client.beta.assistants.create, model=model)
    assert e.param == "model"


def test_modify_to_empty_model_is_refused(shared_client):
    a = shared_client.beta.assistants.create(model="gpt-4o")
    e = _bad_request(shared_client.beta.assistants.update, assistant_id=a.id, model="")
    assert e.param == "model"
    assert shared_client.beta.assistants.retrieve(a.id).model == "gpt-4o"


@pytest.mark.parametrize(
    "tool_resources, param",
    [
        ({"code_interpreter": "file-1"}, "tool_resources.code_interpreter"),
        ({"file_search": ["vs_1"]}, "tool_resources.file_search"),
        ({"code_interpreter": {"file_ids": [1]}}, "tool_resources.code_interpreter.file_ids"),
        ({"file_search": {"vector_store_ids": [1]}}, "tool_resources.file_search.vector_store_ids"),
    ],
)
def test_malformed_tool_resources_are_refused(shared_client, tool_resources, param):
    e = _bad_request(shared_client.beta.assistants.create, model="gpt-4o", tool_resources=tool_resources)
    assert e.param == param


def test_unknown_body_argument_is_refused(shared_server, shared_client):
    before = shared_server.runtime.store.count("assistants")
    e = _bad_request(shared_client.beta.assistants.create, model="gpt-4o", extra_body={"colour": "red"})
    assert e.param == "colour"
    assert "colour" in e.message
    assert shared_server.runtime.store.count("assistants") == before


def test_error_carries_request_id(shared_client):
    with pytest.raises(openai.BadRequestError) as info:
        shared_client.beta.assistants.create(model="gpt-4o", name="n" * 257)
    assert info.value.request_id and info.value.request_id.startswith("req_")


# -- raw HTTP -------------------------------------------------------------------------------

def _assert_openai_error(resp: httpx.Response, status: int) -> dict:
    assert resp.status_code == status
    assert resp.headers.get("x-request-id", "").startswith("req_")
    body = resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def test_malformed_json_body_is_openai_400(shared_server):
    resp = httpx.post(f"{shared_server.base_url}/assistants", content=b'{"model": "gpt-4o",',
                      headers={"Content-Type": "application/json", "OpenAI-Beta": "assistants=v2"})
    err = _assert_openai_error(resp, 400)
    assert err["type"] == "invalid_request_error"
    assert "JSON" in err["message"]


def test_non_object_json_body_is_openai_400(shared_server):
    resp = httpx.post(f"{shared_server.base_url}/assistants", json=["gpt-4o"])
    _assert_openai_error(resp, 400)


def test_unknown_route_is_openai_404(shared_server):
    resp = httpx.get(f"{shared_server.base_url}/nothing-here")
    _assert_openai_error(resp, 404)


def test_successful_responses_carry_request_id(shared_server):
    resp = httpx.post(f"{shared_server.base_url}/assistants", json={"model": "gpt-4o"})
    assert resp.status_code == 200
    assert resp.headers.get("x-request-id", "").startswith("req_")
    assert resp.json()["object"] == "assistant"


def test_unexpected_error_is_openai_500_and_not_retried(server, monkeypatch):
    calls = []

    def broken(assistant_id):
        calls.append(assistant_id)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(server.runtime.assistants, "get", broken)
    resp = httpx.get(f"{server.base_url}/assistants/asst_1")
    err = _assert_openai_error(resp, 500)
    assert err["type"] == "server_error"
    assert "disk on fire" not in err["message"]  # internals stay in the log
    assert resp.headers.get("x-should-retry") == "false"
    # the SDK, which retries 5xx by default, obeys x-should-retry: one call only
    calls.clear()
    retrying = sdk_client(server.base_url).with_options(max_retries=2)
    try:
        with pytest.raises(openai.InternalServerError):
            retrying.beta.assistants.retrieve("asst_1")
    finally:
        retrying.close()
    assert calls == ["asst_1"]


def test_api_key_is_enforced_when_set(tmp_path):
    with LocalAssistants(make_settings(tmp_path, api_key="sekrit")) as la:
        wrong = sdk_client(la.base_url)  # sends "test-key"
        right = openai.OpenAI(base_url=la.base_url, api_key="sekrit", max_retries=0,
                              _strict_response_validation=True)
        try:
            with pytest.raises(openai.AuthenticationError) as info:
                wrong.beta.assistants.list()
            assert info.value.status_code == 401
            assert info.value.code == "invalid_api_key"
            assert right.beta.assistants.create(model="gpt-4o").model == "gpt-4o"
            assert httpx.get(la.base_url.removesuffix("/v1") + "/health").status_code == 200
            resp = httpx.get(f"{la.base_url}/assistants")
            _assert_openai_error(resp, 401)
        finally:
            wrong.close()
            right.close()
