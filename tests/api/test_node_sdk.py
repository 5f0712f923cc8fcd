"""The official `openai` Node SDK (pinned in tests/node/package.json, installed by
`make node-sdk`) runs the basic Responses flow and a streamed response against the real
server and the real SmolLM2: tests/node/responses_flow.mjs does the checks with the SDK's
own parsing and stream helper; this module starts the server, runs it, and reads its
one-line JSON report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
SCRIPT = NODE_DIR / "responses_flow.mjs"
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


@pytest.fixture(scope="module")
def report(node, shared_server):
    env = {**os.environ, "BASE_URL": shared_server.base_url, "NO_COLOR": "1"}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    try:
        done = subprocess.run([node, str(SCRIPT)], cwd=NODE_DIR, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"responses_flow.mjs did not finish in {TIMEOUT_S} s\nstdout:\n{e.stdout}\nstderr:\n{e.stderr}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    result = None
    if lines:
        try:
            result = json.loads(lines[-1])
        except json.JSONDecodeError:
            result = None
    assert done.returncode == 0, (f"responses_flow.mjs exited {done.returncode}: "
                                  f"{json.dumps(result) if result else ''}\nstdout:\n{done.stdout}\n"
                                  f"stderr:\n{done.stderr}")
    assert result is not None, f"no JSON report on the last line\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return result


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
