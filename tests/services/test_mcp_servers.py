"""The declared MCP servers: the settings file (checked, read again when it changes), labels
and URLs a request may use, listings kept a while; and ``local-assistants mcp list``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from local_assistants.adapters.mcp_client import ToolInfo, ToolResult
from local_assistants.errors import InvalidRequestError
from local_assistants.services.mcp_servers import (McpConfigError, McpServers, is_loopback_url, normal_url,
                                                   parse_config)

SERVER = Path(__file__).resolve().parents[1] / "data" / "mcp_server.py"


class FakeClient:
    def __init__(self):
        self.listed = 0
        self.specs = []

    def list_tools(self, spec):
        self.listed += 1
        self.specs.append(spec)
        return [ToolInfo("add", "Add.", {"type": "object"})]

    def call_tool(self, spec, name, arguments):
        self.specs.append(spec)
        return ToolResult(output=f"{name}{arguments}")

    def close(self):
        pass


def write(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_parse_config_resolves_commands_and_checks_everything(tmp_path):
    config = parse_config({"servers": {
        "calc": {"command": ["python3", "server.py"], "env": {"K": "v"}, "timeout_s": 5},
        "rel": {"command": ["./bin/s"], "cwd": "sub"},
        "web": {"url": "http://localhost:9000/mcp"},
        "far": {"url": "https://10.0.0.5:9000/mcp/"}}, "allowed_urls": ["https://10.0.0.5:9000/mcp"]},
        tmp_path, which=lambda name: "/usr/bin/" + name)
    calc = config.servers["calc"]
    assert calc.command == ("/usr/bin/python3", "server.py") and calc.cwd == str(tmp_path)
    assert calc.env == {"K": "v"} and calc.timeout_s == 5 and calc.transport == "stdio"
    assert config.servers["rel"].command == (str(tmp_path / "sub" / "bin/s"),)
    assert config.servers["web"].transport == "http"
    bad = [{"servers": {"a__b": {"url": "http://127.0.0.1/"}}},
           {"servers": {"a": {}}},
           {"servers": {"a": {"url": "http://127.0.0.1/", "command": ["x"]}}},
           {"servers": {"a": {"url": "http://mcp.example.com/"}}},
           {"servers": {"a": {"url": "ftp://127.0.0.1/"}}},
           {"servers": {"a": {"command": []}}},
           {"servers": {"a": {"command": ["x"], "timeout_s": 0}}},
           {"servers": {"a": {"command": ["x"], "env": {"A=B": "c"}}}},
           {"servers": {"a": {"command": ["x"], "extra": 1}}},
           {"other": 1}, []]
    for data in bad:
        with pytest.raises(McpConfigError):
            parse_config(data, tmp_path, which=lambda name: "/usr/bin/" + name)
    with pytest.raises(McpConfigError):
        parse_config({"servers": {"a": {"command": ["nope"]}}}, tmp_path, which=lambda name: None)


def test_urls_loopback_and_normal_form():
    assert is_loopback_url("http://127.0.0.1:1/x") and is_loopback_url("http://[::1]/") \
        and is_loopback_url("http://localhost/")
    assert not is_loopback_url("http://10.0.0.1/") and not is_loopback_url("http://example.com/")
    assert normal_url("HTTP://Example.com:80/mcp/") == "http://example.com:80/mcp"


def test_labels_urls_and_the_file_read_again(tmp_path):
    path = write(tmp_path / "mcp.json", {"servers": {"web": {"url": "http://127.0.0.1:9000/mcp"},
                                                     "far": {"url": "http://10.0.0.5/mcp"}},
                                         "allowed_urls": ["http://10.0.0.5/mcp"]})
    servers = McpServers(path, tmp_path / "state", FakeClient())
    assert servers.check("web", None).url == "http://127.0.0.1:9000/mcp"
    assert servers.check("web", "http://127.0.0.1:9000/mcp/").label == "web"
    assert servers.check("far", "http://10.0.0.5/mcp").label == "far"
    with pytest.raises(InvalidRequestError, match="Unknown MCP server_label"):
        servers.check("nope", None, "tools[0]")
    with pytest.raises(InvalidRequestError, match="not allowed"):
        servers.check("web", "http://example.com/mcp")
    with pytest.raises(InvalidRequestError, match="not the URL"):
        servers.check("web", "http://127.0.0.1:9001/mcp")
    write(path, {"servers": {}})
    with pytest.raises(InvalidRequestError):
        servers.check("web", None)
    path.write_text("{broken")
    with pytest.raises(McpConfigError, match="cannot be read"):
        servers.servers()
    path.unlink()
    assert servers.servers() == {}


def test_listings_are_kept_a_while_and_stdio_gets_its_own_home(tmp_path):
    now = [0.0]
    client = FakeClient()
    path = write(tmp_path / "mcp.json", {"servers": {"calc": {"command": [sys.executable, "s.py"],
                                                              "env": {"K": "v"}}}})
    servers = McpServers(path, tmp_path / "state", client, list_ttl_s=10, clock=lambda: now[0])
    assert [t.name for t in servers.list_tools("calc")] == ["add"]
    servers.list_tools("calc")
    assert client.listed == 1
    now[0] = 11
    servers.list_tools("calc")
    assert client.listed == 2
    spec = client.specs[-1]
    assert spec.env["K"] == "v" and spec.env["HOME"] == str(tmp_path / "state" / "calc")
    assert set(spec.env) == {"PATH", "HOME", "LANG", "K"}
    assert servers.call_tool("calc", "add", {"a": 1}).output == "add{'a': 1}"


def test_cli_mcp_list_shows_servers_and_their_tools(tmp_path, capsys):
    from local_assistants.cli import main

    config = write(tmp_path / "mcp.json", {"servers": {"calc": {"command": [sys.executable, str(SERVER)]},
                                                       "gone": {"url": "http://127.0.0.1:9/mcp", "timeout_s": 2}}})
    argv = ["--home", str(tmp_path), "mcp", "list"]
    assert main(argv) == 1  # "gone" cannot be listed
    out = capsys.readouterr().out
    assert "calc" in out and "add: Add two integers." in out and "slow" in out
    assert "gone" in out and "cannot list its tools" in out
    assert main([*argv, "--no-tools"]) == 0
    config.write_text("[")
    assert main(argv) == 2
    config.unlink()
    assert main(argv) == 0 and "no MCP servers declared" in capsys.readouterr().out
