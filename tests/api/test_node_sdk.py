"""The official `openai` Node SDK (pinned in tests/node/package.json, installed by
`make node-sdk`) runs the basic Responses flow and a streamed response against the real
server and the real SmolLM2: tests/node/responses_flow.mjs does the checks with the SDK's
own parsing and stream helper, tests/node/chat_flow.mjs a chat completion with a tool call
and its answer, a streamed one with its usage, and embeddings; this module starts the
server, runs them, and reads their one-line JSON reports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
SCRIPT = NODE_DIR / "responses_flow.mjs"
CHAT_SCRIPT = NODE_DIR / "chat_flow.mjs"
PINNED = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]["openai"]
TIMEOUT_S = 180


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js (20 or newer) is not on PATH: the Node SDK test needs it; install Node.js, "
                    "then run `make node-sdk`.")
    installed = NODE_DIR / "node_modules" / "openai" / "package.json"
    if not installed.is_file():
        pytest.fail(f"The openai Node SDK is not installed in {NODE_DIR / 'node_modules'}: run `make node-sdk` "
                    "(`make test` does it).")
    version = json.loads(installed.read_text())["version"]
    if version != PINNED:
        pytest.fail(f"tests/node/node_modules holds openai {version}, the pin is {PINNED}: run `make node-sdk`.")
    return node


@pytest.fixture(scope="module")
def node() -> str:
    """The node binary, once the pinned SDK is known to be installed (before a server starts)."""
    return _node()


def _run(node: str, script: Path, base_url: str) -> dict:
    """Run one of the scripts against the server; its one-line JSON report."""
    env = {**os.environ, "BASE_URL": base_url, "NO_COLOR": "1"}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    try:
        done = subprocess.run([node, str(script)], cwd=NODE_DIR, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{script.name} did not finish in {TIMEOUT_S} s\nstdout:\n{e.stdout}\nstderr:\n{e.stderr}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    result = None
    if lines:
        try:
            result = json.loads(lines[-1])
        except json.JSONDecodeError:
            result = None
    assert done.returncode == 0, (f"{script.name} exited {done.returncode}: "
                                  f"{json.dumps(result) if result else ''}\nstdout:\n{done.stdout}\n"
                                  f"stderr:\n{done.stderr}")
    assert result is not None, f"no JSON report on the last line\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return result


@pytest.fixture(scope="module")
def report(node, shared_server):
    return _run(node, SCRIPT, shared_server.base_url)


@pytest.fixture(scope="module")
def chat_report(node, shared_server):
    return _run(node, CHAT_SCRIPT, shared_server.base_url)


def test_the_node_sdk_runs_the_basic_flow(report):
    assert report["ok"] is True and report["sdk_version"] == PINNED
    create = report["create"]
    assert create["id"].startswith("resp_") and create["status"] in ("completed", "incomplete")
    assert create["output_text"]
    assert report["follow_up"]["previous_response_id"] == create["id"]
    assert report["conversation"]["id"].startswith("conv_")
    assert report["conversation"]["items"] == ["message:user", "message:assistant"]


def test_the_node_sdk_reads_a_streamed_response(report):
    stream = report["stream"]
    assert stream["first"] == "response.created"
    assert stream["last"] in ("response.completed", "response.incomplete")
    assert stream["deltas"] >= 1 and stream["output_text"]
    assert {"response.in_progress", "response.output_item.added", "response.content_part.added",
            "response.output_text.delta", "response.output_text.done", "response.content_part.done",
            "response.output_item.done"} <= set(stream["types"])
    helper = report["stream_helper"]
    assert helper is not None, "the pinned SDK has client.responses.stream"
    assert helper["status"] in ("completed", "incomplete") and helper["output_text"]


def test_what_the_node_sdk_made_reads_the_same_from_the_python_sdk(report, shared_client):
    """The records the Node client made are the ones the Python SDK reads back (strictly)."""
    streamed = shared_client.responses.retrieve(report["stream"]["id"])
    assert streamed.output_text == report["stream"]["output_text"]
    items = shared_client.conversations.items.list(report["conversation"]["id"], order="asc")
    assert [(i.type, i.role) for i in items.data] == [("message", "user"), ("message", "assistant")]


# -- chat completions and embeddings (tests/node/chat_flow.mjs) ---------------------------
def test_the_node_sdk_gets_a_required_tool_call_and_its_answer(chat_report):
    assert chat_report["ok"] is True and chat_report["sdk_version"] == PINNED
    call = chat_report["tool_call"]
    assert call["id"].startswith("chatcmpl-") and call["finish_reason"] == "tool_calls"
    assert call["name"] == "get_weather" and isinstance(call["arguments"], dict) and call["calls"] == 1
    answer = chat_report["tool_answer"]
    assert answer["finish_reason"] in ("stop", "length") and answer["content"].strip()


def test_the_node_sdk_reads_a_streamed_chat_completion_with_usage(chat_report):
    stream = chat_report["stream"]
    assert stream["id"].startswith("chatcmpl-") and stream["finish_reason"] in ("stop", "length")
    assert stream["text"] and stream["chunks"] >= 3
    usage = stream["usage"]
    assert 0 < usage["completion_tokens"] <= 24 and usage["prompt_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_the_node_sdk_decodes_base64_embeddings_as_the_python_sdk_reads_floats(chat_report, shared_client):
    emb = chat_report["embeddings"]
    assert emb["count"] == 2 and emb["dims"] == [384, 384]
    assert all(abs(n - 1) <= 1e-3 for n in emb["norms"])
    floats = shared_client.embeddings.create(model="text-embedding-3-small", input=["a", "b"],
                                             encoding_format="float")
    for node_head, item in zip(emb["head"], floats.data):
        assert node_head == pytest.approx(item.embedding[:4], abs=1e-6)
