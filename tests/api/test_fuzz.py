"""Schemathesis against the running server, from the OpenAPI document it serves.

Every operation gets requests generated from its described body and parameters, valid
and invalid, with path ids sometimes replaced by ids of objects that exist (so that the
checks after the lookups are reached too).  It fails on any 5xx, any response that breaks
the schema the document gives for it (the official SDK's models; OpenAI's error body),
and any error the server logs.  The budget is ``FUZZ_EXAMPLES`` cases an operation (100
by default: 47 operations in 73 s on 2 cores; ``make fuzz`` runs 500); ``FUZZ_SEED``
other than 0 draws other cases.

The run worker is not started: runs stay queued, so no model decodes during fuzzing
(runs themselves are tested with the real model elsewhere), and ``stream`` is sent false
(a stream of a run that never starts would only wait for its keep-alives).
"""

from __future__ import annotations

import logging
import os
import random

import pytest
import schemathesis
from hypothesis import HealthCheck, seed, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import make_settings
from live_server import serve

pytestmark = pytest.mark.filterwarnings("ignore")

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
SEED = int(os.environ.get("FUZZ_SEED", "0"))


class _Errors(logging.Handler):
    """Every record of level ERROR or above that the server logs."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    from local_assistants.runtime import Runtime

    runtime = Runtime(make_settings(tmp_path_factory.mktemp("fuzz")), start_worker=False)
    errors = _Errors()
    logging.getLogger().addHandler(errors)
    try:
        with serve(runtime) as base:
            yield base, _seed_objects(base), errors
    finally:
        logging.getLogger().removeHandler(errors)
        runtime.close()


def _seed_objects(base: str) -> dict[str, list[str]]:
    """Objects that exist, whose ids replace generated ones half of the time."""
    import httpx

    h = {"openai-beta": "assistants=v2"}
    with httpx.Client(base_url=base + "/v1", headers=h, timeout=30) as c:
        assistant = c.post("/assistants", json={"model": "gpt-4o", "tools": [{"type": "file_search"}]}).json()
        thread = c.post("/threads", json={"messages": [{"role": "user", "content": "Hello"}]}).json()
        message = c.get(f"/threads/{thread['id']}/messages").json()["data"][0]
        file = c.post("/files", files={"file": ("notes.txt", b"Paris is the capital of France."),
                                       "purpose": (None, "assistants")}).json()
        store = c.post("/vector_stores", json={"name": "s", "file_ids": [file["id"]]}).json()
        batch = c.post(f"/vector_stores/{store['id']}/file_batches", json={"file_ids": [file["id"]]}).json()
        other = c.post("/threads", json={}).json()
        run = c.post(f"/threads/{other['id']}/runs", json={"assistant_id": assistant["id"]}).json()
        response = c.post("/responses", json={"model": "gpt-4o", "input": "Hi", "background": True}).json()
        conversation = c.post("/conversations", json={"items": [{"role": "user", "content": "Hi"}]}).json()
        item = c.get(f"/conversations/{conversation['id']}/items").json()["data"][0]
    return {"response_id": [response["id"]], "conversation_id": [conversation["id"], thread["id"]],
            "item_id": [item["id"]],"assistant_id": [assistant["id"]], "thread_id": [thread["id"], other["id"]],
            "message_id": [message["id"]], "file_id": [file["id"]], "vector_store_id": [store["id"]],
            "batch_id": [batch["id"]], "run_id": [run["id"]], "model_id": ["gpt-4o"]}


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation the document describes (read without a server)."""
    from local_assistants.server import create_app

    spec = create_app(None).openapi()
    return [(method.upper(), path) for path, item in spec["paths"].items() for method in item]


@pytest.fixture(scope="module")
def api_schema(fuzz_server):
    base, _, _ = fuzz_server
    schema = schemathesis.openapi.from_url(base + "/openapi.json")
    schema.config.update(base_url=base)
    return schema


CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


@pytest.mark.parametrize("method, path", _operations(), ids=lambda x: x)
def test_the_api_survives_the_fuzzer(method, path, api_schema, fuzz_server):
    from hypothesis import given
    from hypothesis import strategies as st
    from schemathesis import GenerationMode

    base, ids, errors = fuzz_server
    operation = api_schema[path][method]
    strategies = [operation.as_strategy(GenerationMode.POSITIVE)]
    try:
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    except Exception:  # nothing in this operation can be made invalid
        pass

    @given(case=st.one_of(*strategies))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=not SEED, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case):
        rng = random.Random(f"{SEED}:{method}:{path}:{case.path_parameters}:{case.body!r:.200}")
        for name in case.path_parameters or {}:
            if name in ids and method != "DELETE" and rng.random() < 0.5:
                case.path_parameters[name] = rng.choice(ids[name])
        if isinstance(case.body, dict) and case.body.get("stream") is not None:
            case.body["stream"] = False
        if (method, path) == ("POST", "/v1/responses") and not isinstance(case.body, (list, str, int, float)):
            # answered at once: no worker decodes here, and a response that waited would wait forever
            case.body = {**(case.body if isinstance(case.body, dict) else {}), "background": True, "store": True}
        if (case.query or {}).get("stream") is not None:
            case.query["stream"] = "false"
        before = len(errors.records)
        response = case.call(timeout=30)
        if os.environ.get("FUZZ_DEBUG"):
            print(method, path, response.status_code, response.text[:150].replace("\n", " "))
        case.validate_response(response, checks=CHECKS)
        logged = errors.records[before:]
        assert not logged, [f"{r.name}: {r.getMessage()}" for r in logged]

    if SEED:  # the same cases for the same seed; 0 (the default): the same cases every time
        fuzz = seed(SEED)(fuzz)
    fuzz()
