"""The MCP client against a real stdio server written with the SDK's FastMCP
(tests/data/mcp_server.py): listing, calls, a tool's own error, timeouts, a server that
cannot start, and the environment the server gets (nothing of ours)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from local_assistants.adapters.mcp_client import (TIMEOUT_CODE, McpClient, McpFailure, ServerSpec,
                                                  server_environment)

SERVER = Path(__file__).resolve().parents[1] / "data" / "mcp_server.py"


@pytest.fixture(scope="module")
def client():
    c = McpClient()
    yield c
    c.close()


def spec(tmp_path, timeout_s=10.0, **env):
    return ServerSpec("t", command=(sys.executable, str(SERVER)), env=server_environment(env, str(tmp_path)),
                      cwd=str(tmp_path), timeout_s=timeout_s, log_path=str(tmp_path / "stderr.log"))


def test_environment_is_empty_but_path_home_lang_and_the_declared_ones():
    env = server_environment({"TOKEN": "x", "LANG": "fr_FR.UTF-8"}, "/srv/h")
    assert env == {"PATH": env["PATH"], "HOME": "/srv/h", "LANG": "fr_FR.UTF-8", "TOKEN": "x"}
    for bad in ({"A=B": "x"}, {"": "x"}, {"A": "x\0y"}):
        with pytest.raises(ValueError):
            server_environment(bad, "/")


def test_lists_and_calls_tools_with_a_scrubbed_environment(client, tmp_path, monkeypatch):
    monkeypatch.setenv("SERVER_SECRET", "hunter2")
    s = spec(tmp_path, DECLARED="1")
    tools = {t.name: t for t in client.list_tools(s)}
    assert set(tools) == {"add", "slow", "fail", "environment"}
    assert tools["add"].input_schema["required"] == ["a", "b"] and tools["add"].description == "Add two integers."
    assert client.call_tool(s, "add", {"a": 2, "b": 40}).output == "The sum is 42."
    assert client.call_tool(s, "environment", {}).output.split() == ["DECLARED", "HOME", "LANG", "PATH"]


def test_a_tools_own_error_is_a_result(client, tmp_path):
    result = client.call_tool(spec(tmp_path), "fail", {"reason": "why"})
    assert result.output is None and result.error["type"] == "mcp_tool_execution_error"
    assert "it broke: why" in result.error["content"][0]["text"]


def test_a_slow_tool_times_out_and_the_server_is_stopped(client, tmp_path):
    pid_file = tmp_path / "pid"
    started = time.monotonic()
    with pytest.raises(McpFailure) as err:
        client.call_tool(spec(tmp_path, timeout_s=2, MCP_PID_FILE=str(pid_file)), "slow", {"seconds": 60})
    assert err.value.code == TIMEOUT_CODE and time.monotonic() - started < 15
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the server was left running")


def test_a_server_that_cannot_start_or_is_not_mcp_fails(client, tmp_path):
    with pytest.raises(McpFailure):
        client.list_tools(ServerSpec("t", command=("/no/such/program",), env=server_environment({}, "/"),
                                     timeout_s=5))
    with pytest.raises(McpFailure):  # exits at once
        client.list_tools(ServerSpec("t", command=("/bin/true",), env=server_environment({}, "/"), timeout_s=5))
    with pytest.raises(McpFailure):  # a relative program is refused (it would be looked up anywhere)
        client.list_tools(ServerSpec("t", command=("python3",), env=server_environment({}, "/"), timeout_s=5))


def test_an_http_server_that_is_not_there_fails(client):
    with pytest.raises(McpFailure):
        client.list_tools(ServerSpec("h", url="http://127.0.0.1:9/mcp", timeout_s=3))
