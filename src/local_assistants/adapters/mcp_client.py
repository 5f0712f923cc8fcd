"""MCP servers through the official ``mcp`` SDK: list a server's tools, call one of them.

Each operation is one session of its own, started and closed inside one time bound
(``timeout_s``): a stdio server is a process started for it (through ``env -i``, so it
gets exactly the environment given, nothing of the server's own) and stopped after; an
HTTP server is one streamable-HTTP session (no proxies from the environment, no
redirects off its origin).  A server that hangs or dies is a ``McpFailure``, never a
wait without end.  The SDK is async: ``McpClient`` runs it on an event loop of its own
thread, and callers block on it with the same bound plus a margin.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

from .sandbox import HOST_PATH

TIMEOUT_CODE = -32001
"""The code of a call that ran past its time (the MCP TypeScript SDK's REQUEST_TIMEOUT)."""
CLOSED_CODE = -32000
"""The code of a session whose server went away (the SDK's CONNECTION_CLOSED)."""
MARGIN_S = 10.0
"""How much longer than its own bound a caller waits for an operation (its clean-up)."""
MAX_LOG_BYTES = 1 << 20


class McpFailure(Exception):
    """An MCP operation that did not complete: the server could not be started or reached,
    broke the protocol, timed out or went away.  ``code`` is a JSON-RPC error code."""

    def __init__(self, message: str, code: int = CLOSED_CODE):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ServerSpec:
    """How to reach one server: a stdio ``command`` (argv, its first element an absolute
    path) run with exactly ``env`` in ``cwd``, or a streamable-HTTP ``url``."""

    label: str
    command: tuple[str, ...] = ()
    url: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    timeout_s: float = 30.0
    log_path: str | None = None
    """Where a stdio server's stderr goes (appended; started afresh past 1 MiB)."""


@dataclass(frozen=True)
class ToolInfo:
    name: str
    description: str | None
    input_schema: dict
    annotations: dict | None = None

    def as_item(self) -> dict:
        """As an ``mcp_list_tools`` item lists it."""
        return {"name": self.name, "description": self.description, "input_schema": self.input_schema,
                "annotations": self.annotations}


@dataclass(frozen=True)
class ToolResult:
    """A call's text ``output``, or ``error`` in the Responses shape (``McpToolCallError``)."""

    output: str | None = None
    error: dict | None = None


def server_environment(declared: Mapping[str, str] | None, home: str) -> dict[str, str]:
    """A stdio server's whole environment: an empty one with ``PATH``, ``HOME`` and ``LANG``
    (the kernels' recipe), then what the operator declared for it (which may replace them)."""
    env = {"PATH": HOST_PATH, "HOME": home, "LANG": "C.UTF-8"}
    for key, value in (declared or {}).items():
        if not isinstance(key, str) or not key or "=" in key or "\0" in key or not isinstance(value, str) \
                or "\0" in value:
            raise ValueError(f"invalid environment variable {key!r}")
        env[key] = value
    return env


def _launch(spec: ServerSpec) -> tuple[str, list[str]]:
    """The process to start: ``env -i NAME=VALUE... COMMAND ARGS`` (the SDK itself adds some of
    the server's own variables to any environment it is given; ``env -i`` drops them)."""
    env_tool = shutil.which("env", path=HOST_PATH) or "/usr/bin/env"
    program = spec.command[0]
    if not os.path.isabs(program) or "=" in program:
        raise McpFailure(f"the command of MCP server {spec.label!r} must start with an absolute path")
    return env_tool, ["-i", *(f"{k}={v}" for k, v in spec.env.items()), *spec.command]


def _text_of(content: list) -> str:
    """A result's content as text: text parts as they are, others as their JSON."""
    parts = []
    for c in content or []:
        if getattr(c, "type", None) == "text":
            parts.append(c.text)
        else:
            parts.append(json.dumps(c.model_dump(mode="json", exclude_none=True)))
    return "\n".join(parts)


class McpClient:
    """MCP operations on an event loop of their own thread (started at the first one)."""

    def __init__(self):
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- the loop --------------------------------------------------------------------
    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="mcp-client", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def _run(self, spec: ServerSpec, work: Callable[[Any], Awaitable[Any]]) -> Any:
        future = asyncio.run_coroutine_threadsafe(self._session(spec, work), self._ensure_loop())
        try:
            return future.result(timeout=spec.timeout_s + MARGIN_S)
        except TimeoutError:
            future.cancel()
            raise McpFailure(f"MCP server {spec.label!r} did not answer within {spec.timeout_s:g} s",
                             TIMEOUT_CODE) from None

    def close(self) -> None:
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join(5)
            if not loop.is_running():
                loop.close()

    # -- operations ------------------------------------------------------------------
    def list_tools(self, spec: ServerSpec) -> list[ToolInfo]:
        async def work(session):
            tools: list[ToolInfo] = []
            cursor = None
            while True:
                page = await session.list_tools(cursor=cursor) if cursor else await session.list_tools()
                for t in page.tools:
                    tools.append(ToolInfo(t.name, t.description, dict(t.inputSchema or {"type": "object"}),
                                          t.annotations.model_dump(exclude_none=True) if t.annotations else None))
                cursor = page.nextCursor
                if not cursor or len(tools) > 1000:
                    return tools

        return self._run(spec, work)

    def call_tool(self, spec: ServerSpec, name: str, arguments: dict) -> ToolResult:
        """Call a tool: its output, or the error it reported (a tool's own failure is a result,
        not a ``McpFailure``; a server that fails is one)."""
        async def work(session):
            result = await session.call_tool(name, arguments,
                                             read_timeout_seconds=timedelta(seconds=spec.timeout_s))
            text = _text_of(result.content)
            if not text and result.structuredContent is not None:
                text = json.dumps(result.structuredContent)
            if result.isError:
                return ToolResult(error={"type": "mcp_tool_execution_error",
                                         "content": [c.model_dump(mode="json", exclude_none=True)
                                                     for c in result.content or []]})
            return ToolResult(output=text)

        return self._run(spec, work)

    # -- one session -------------------------------------------------------------------
    async def _session(self, spec: ServerSpec, work: Callable[[Any], Awaitable[Any]]) -> Any:
        import anyio
        from mcp import ClientSession
        from mcp.shared.exceptions import McpError

        try:
            with anyio.fail_after(spec.timeout_s):
                async with self._transport(spec) as (read, write), ClientSession(read, write) as session:
                    await session.initialize()
                    return await work(session)
        except TimeoutError:
            raise McpFailure(f"MCP server {spec.label!r} did not answer within {spec.timeout_s:g} s",
                             TIMEOUT_CODE) from None
        except McpError as err:
            code = err.error.code
            if code == 408:  # the SDK's own read timeout
                code = TIMEOUT_CODE
            raise McpFailure(err.error.message, code) from None
        except McpFailure:
            raise
        except Exception as err:  # the SDK wraps a dead server's errors in exception groups
            inner = _find(err, McpError)
            if inner is not None:
                raise McpFailure(inner.error.message, inner.error.code) from None
            if _find(err, TimeoutError) is not None:
                raise McpFailure(f"MCP server {spec.label!r} did not answer within {spec.timeout_s:g} s",
                                 TIMEOUT_CODE) from None
            raise McpFailure(f"MCP server {spec.label!r} failed: {_describe(err)}") from None

    def _transport(self, spec: ServerSpec):
        if spec.url:
            import httpx
            from mcp.client.streamable_http import streamable_http_client

            client = httpx.AsyncClient(trust_env=False, follow_redirects=False,
                                       timeout=httpx.Timeout(spec.timeout_s))
            return _http(streamable_http_client(spec.url, http_client=client), client)
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        program, args = _launch(spec)
        errlog = _open_log(spec.log_path)
        # The SDK merges a few of the server's own variables into ``env``; ``env -i`` drops them.
        params = StdioServerParameters(command=program, args=args, env={}, cwd=spec.cwd)
        return _closing(stdio_client(params, errlog=errlog), errlog)


def _find(err: BaseException, kind: type) -> Any:
    """``err`` or the first exception of its kind inside it (exception groups)."""
    if isinstance(err, kind):
        return err
    for inner in getattr(err, "exceptions", None) or ():
        found = _find(inner, kind)
        if found is not None:
            return found
    return None


def _describe(err: BaseException) -> str:
    inner = getattr(err, "exceptions", None)
    if inner:
        return _describe(inner[0])
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def _open_log(path: str | None):
    if not path:
        return subprocess.DEVNULL
    log = Path(path)
    log.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if log.exists() and log.stat().st_size > MAX_LOG_BYTES else "ab"
    return open(log, mode)


class _closing:
    """An async context (a transport) that closes a file (its stderr log) when it ends."""

    def __init__(self, inner, file):
        self.inner, self.file = inner, file

    async def __aenter__(self):
        return await self.inner.__aenter__()

    async def __aexit__(self, *exc):
        try:
            return await self.inner.__aexit__(*exc)
        finally:
            if hasattr(self.file, "close"):
                self.file.close()


class _http:
    """The streamable-HTTP transport, its httpx client closed after it; yields (read, write)."""

    def __init__(self, inner, client):
        self.inner, self.client = inner, client

    async def __aenter__(self):
        await self.client.__aenter__()
        read, write, _ = await self.inner.__aenter__()
        return read, write

    async def __aexit__(self, *exc):
        try:
            return await self.inner.__aexit__(*exc)
        finally:
            await self.client.__aexit__(None, None, None)


__all__ = ["CLOSED_CODE", "McpClient", "McpFailure", "ServerSpec", "TIMEOUT_CODE", "ToolInfo", "ToolResult",
           "server_environment"]
