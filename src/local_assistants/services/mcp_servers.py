"""The MCP servers the operator declared, by label, and the only ones a response may use.

The settings file (``Settings.mcp_config``, default ``<home>/mcp.json``) is JSON::

    {"servers": {
        "calc":  {"command": ["python3", "server.py"], "env": {"TOKEN": "..."}, "timeout_s": 30,
                  "cwd": "/srv/calc"},
        "notes": {"url": "http://127.0.0.1:9000/mcp", "timeout_s": 10}},
     "allowed_urls": ["http://10.0.0.5:9000/mcp"]}

A server is a stdio ``command`` (argv; its program looked up on the operator's ``PATH``
when not a path; relative paths run from ``cwd``, by default the settings file's folder)
or a streamable-HTTP ``url`` that is loopback or listed in ``allowed_urls``.  A stdio
server's environment is empty but for ``PATH``, ``HOME`` (a folder of its own under
``<data>/mcp/<label>``), ``LANG`` and its declared ``env``.  The file is read again when
it changes.  A request names a label; a ``server_url`` it gives must be the label's own.
Listings are kept ``LIST_TTL_S`` seconds per label.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from ..adapters.mcp_client import McpClient, ServerSpec, ToolInfo, ToolResult, server_environment
from ..errors import InvalidRequestError, LocalAssistantsError

LIST_TTL_S = 30.0
DEFAULT_TIMEOUT_S = 30.0
MAX_TIMEOUT_S = 600.0
LABEL = re.compile(r"^[A-Za-z0-9-]+(?:_[A-Za-z0-9-]+)*$")
"""A label: letters, digits, ``-`` and single ``_`` (``__`` separates it from a tool's name)."""
MAX_LABEL = 48


class McpConfigError(LocalAssistantsError):
    """The MCP settings file cannot be used; the message says what is wrong in it."""


@dataclass(frozen=True)
class DeclaredServer:
    label: str
    command: tuple[str, ...] = ()
    url: str | None = None
    env: dict = field(default_factory=dict)
    timeout_s: float = DEFAULT_TIMEOUT_S
    cwd: str | None = None

    @property
    def transport(self) -> str:
        return "http" if self.url else "stdio"

    def describe(self) -> str:
        return self.url or " ".join(self.command)


@dataclass(frozen=True)
class McpConfig:
    servers: dict[str, DeclaredServer]
    allowed_urls: frozenset[str]


def normal_url(url: str) -> str:
    """A URL as compared with others: scheme and host lower case, no trailing ``/``."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}{query}"


def is_loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_config(data: object, folder: Path, which: Callable[[str], str | None] = shutil.which) -> McpConfig:
    """The settings file's content, checked (``folder``: where relative paths start)."""
    if not isinstance(data, dict):
        raise McpConfigError("expected a JSON object with 'servers'")
    unknown = set(data) - {"servers", "allowed_urls"}
    if unknown:
        raise McpConfigError(f"unknown keys {sorted(unknown)}")
    allowed = data.get("allowed_urls") or []
    if not isinstance(allowed, list) or not all(isinstance(u, str) and u.startswith(("http://", "https://"))
                                                for u in allowed):
        raise McpConfigError("'allowed_urls' must be a list of http(s) URLs")
    allowed_set = frozenset(normal_url(u) for u in allowed)
    raw_servers = data.get("servers") or {}
    if not isinstance(raw_servers, dict):
        raise McpConfigError("'servers' must be an object of labels")
    servers: dict[str, DeclaredServer] = {}
    for label, raw in raw_servers.items():
        where = f"server {label!r}"
        if not isinstance(label, str) or len(label) > MAX_LABEL or not LABEL.match(label):
            raise McpConfigError(f"{where}: a label is letters, digits, '-' and single '_' (at most {MAX_LABEL})")
        if not isinstance(raw, dict):
            raise McpConfigError(f"{where}: expected an object")
        unknown = set(raw) - {"command", "url", "env", "timeout_s", "cwd"}
        if unknown:
            raise McpConfigError(f"{where}: unknown keys {sorted(unknown)}")
        if ("command" in raw) == ("url" in raw):
            raise McpConfigError(f"{where}: give either 'command' or 'url'")
        timeout = raw.get("timeout_s", DEFAULT_TIMEOUT_S)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_TIMEOUT_S:
            raise McpConfigError(f"{where}: 'timeout_s' must be a number of seconds up to {MAX_TIMEOUT_S:g}")
        env = raw.get("env") or {}
        if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise McpConfigError(f"{where}: 'env' must map names to strings")
        try:
            server_environment(env, "/")
        except ValueError as err:
            raise McpConfigError(f"{where}: {err}") from None
        if "url" in raw:
            url = raw["url"]
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise McpConfigError(f"{where}: 'url' must be an http(s) URL")
            if not (is_loopback_url(url) or normal_url(url) in allowed_set):
                raise McpConfigError(f"{where}: {url} is neither loopback nor in 'allowed_urls'")
            servers[label] = DeclaredServer(label, url=url, timeout_s=float(timeout))
            continue
        command = raw["command"]
        if isinstance(command, str):
            command = [command]
        if not isinstance(command, list) or not command or not all(isinstance(c, str) and c for c in command):
            raise McpConfigError(f"{where}: 'command' must be a non-empty list of strings")
        cwd = Path(raw.get("cwd") or folder)
        if not cwd.is_absolute():
            cwd = folder / cwd
        program = command[0]
        if "/" in program:
            resolved = str(program if Path(program).is_absolute() else (cwd / program))
        else:
            resolved = which(program)
            if resolved is None:
                raise McpConfigError(f"{where}: {program!r} is not on PATH")
        servers[label] = DeclaredServer(label, command=(str(Path(resolved).absolute()), *command[1:]),
                                        env=dict(env), timeout_s=float(timeout), cwd=str(cwd))
    return McpConfig(servers, allowed_set)


class McpServers:
    """The declared servers (the settings file, read again when it changes), their tools
    (listings kept a while per label), and calls to them through ``client``."""

    def __init__(self, config_path: Path, state_dir: Path, client: McpClient | None = None, *,
                 list_ttl_s: float = LIST_TTL_S, clock: Callable[[], float] = time.monotonic):
        self.config_path = Path(config_path)
        self.state_dir = Path(state_dir)
        self.client = client or McpClient()
        self.list_ttl_s = list_ttl_s
        self.clock = clock
        self._lock = threading.Lock()
        self._config: McpConfig | None = None
        self._stamp: tuple | None = None
        self._listings: dict[str, tuple[float, DeclaredServer, list[ToolInfo]]] = {}

    # -- the settings file -------------------------------------------------------------
    def config(self) -> McpConfig:
        try:
            st = self.config_path.stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if self._config is not None and stamp == self._stamp:
                return self._config
            if stamp is None:
                config = McpConfig({}, frozenset())
            else:
                try:
                    data = json.loads(self.config_path.read_text())
                except (OSError, ValueError) as err:
                    raise McpConfigError(f"The MCP settings file {self.config_path} cannot be read: {err}") from None
                try:
                    config = parse_config(data, self.config_path.parent)
                except McpConfigError as err:
                    raise McpConfigError(f"The MCP settings file {self.config_path} is invalid: {err}") from None
            self._config, self._stamp = config, stamp
            self._listings.clear()
            return config

    def servers(self) -> dict[str, DeclaredServer]:
        return self.config().servers

    def server(self, label: str, param: str | None = None) -> DeclaredServer:
        """A declared server, or a 400 naming the labels there are."""
        servers = self.servers()
        if label not in servers:
            known = ", ".join(repr(k) for k in servers) or "none are declared"
            raise InvalidRequestError(f"Unknown MCP server_label {label!r}: the operator declares MCP servers in "
                                      f"{self.config_path} ({known}).", param=param)
        return servers[label]

    def check(self, label: str, server_url: str | None, param: str | None = None) -> DeclaredServer:
        """The server a request names, refused (400) when its ``server_url`` is not the label's
        own or not allowlisted (loopback or in ``allowed_urls``)."""
        server = self.server(label, param and f"{param}.server_label")
        if server_url is None:
            return server
        p = param and f"{param}.server_url"
        if not isinstance(server_url, str) or not server_url.startswith(("http://", "https://")):
            raise InvalidRequestError("Invalid 'server_url': expected an http(s) URL.", param=p)
        allowed = is_loopback_url(server_url) or normal_url(server_url) in self.config().allowed_urls
        if not allowed:
            raise InvalidRequestError(f"The server_url {server_url!r} is not allowed: only loopback addresses and "
                                      "the operator's allowed_urls may be used.", param=p)
        if server.url is None or normal_url(server.url) != normal_url(server_url):
            raise InvalidRequestError(f"The server_url {server_url!r} is not the URL of MCP server {label!r}.",
                                      param=p)
        return server

    # -- operations -------------------------------------------------------------------
    def spec(self, server: DeclaredServer) -> ServerSpec:
        folder = self.state_dir / server.label
        if server.url:
            return ServerSpec(server.label, url=server.url, timeout_s=server.timeout_s)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return ServerSpec(server.label, command=server.command, env=server_environment(server.env, str(folder)),
                          cwd=server.cwd, timeout_s=server.timeout_s, log_path=str(folder / "stderr.log"))

    def list_tools(self, label: str, *, fresh: bool = False) -> list[ToolInfo]:
        """A server's tools (kept ``list_ttl_s`` seconds); raises ``McpFailure``."""
        server = self.server(label)
        now = self.clock()
        with self._lock:
            kept = self._listings.get(label)
        if kept is not None and not fresh and kept[1] == server and now - kept[0] < self.list_ttl_s:
            return kept[2]
        tools = self.client.list_tools(self.spec(server))
        with self._lock:
            self._listings[label] = (self.clock(), server, tools)
        return tools

    def call_tool(self, label: str, name: str, arguments: dict) -> ToolResult:
        """Call a tool; raises ``McpFailure`` when the server fails (a tool's own error is a result)."""
        return self.client.call_tool(self.spec(self.server(label)), name, arguments)

    def close(self) -> None:
        self.client.close()


__all__ = ["DeclaredServer", "McpConfig", "McpConfigError", "McpServers", "is_loopback_url", "normal_url",
           "parse_config"]
