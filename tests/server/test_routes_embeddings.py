"""/v1/embeddings reads a JSON body of exactly the SDK's fields and hands it to the embeddings
service; the OpenAPI document describes it.  On the app with a stand-in service
(tests/api/test_embeddings.py tests it over HTTP, with the SDK, on the real model)."""

from __future__ import annotations

import typing

import pytest

from local_assistants.server import routes_embeddings
from stand_in import app_client, stand_in_runtime

ANSWER = {"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [1.0]}], "model": "m",
          "usage": {"prompt_tokens": 1, "total_tokens": 1}}


class Embeddings:
    def __init__(self):
        self.calls: list[dict] = []

    def create(self, **fields):
        self.calls.append(fields)
        return ANSWER


@pytest.fixture
def service():
    return Embeddings()


@pytest.fixture
def client(service):
    with app_client(stand_in_runtime(embeddings=service)) as c:
        yield c


def test_the_body_reaches_the_service(client, service):
    body = {"model": "text-embedding-3-small", "input": ["a", "b"], "encoding_format": "base64", "dimensions": 8,
            "user": "u"}
    response = client.post("/v1/embeddings", json=body)
    assert response.status_code == 200 and response.json() == ANSWER
    assert service.calls == [body]


@pytest.mark.parametrize("body, param", [({"input": "a"}, "model"), ({"model": "m"}, "input"),
                                         ({"model": "m", "input": "a", "stream": True}, "stream")])
def test_missing_and_unknown_fields_are_refused(client, service, body, param):
    response = client.post("/v1/embeddings", json=body)
    assert response.status_code == 400 and response.json()["error"]["param"] == param
    assert service.calls == []


def test_the_body_takes_exactly_the_fields_the_sdk_sends():
    from openai.types.embedding_create_params import EmbeddingCreateParams

    assert routes_embeddings.CREATE_EMBEDDING.fields == set(typing.get_type_hints(EmbeddingCreateParams))


def test_the_document_describes_the_route(client):
    op = client.get("/openapi.json").json()["paths"]["/v1/embeddings"]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["input", "model"]
    assert schema["properties"]["input"]["anyOf"][1]["maxItems"] == 2048
    assert "200" in op["responses"] and "default" in op["responses"]
