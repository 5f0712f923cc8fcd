"""In-process use: an embedded server in a background thread and the official
``openai.OpenAI`` client pointed at it.

    with LocalAssistants() as la:
        client = la.client          # an ordinary openai.OpenAI
        client.beta.assistants.create(model="gpt-4o", ...)
"""

from __future__ import annotations

import socket
import threading
import time

from .config import Settings
from .runtime import Runtime


class LocalAssistants:
    """Runs the server on a loopback ephemeral port for as long as it is open."""

    def __init__(self, settings: Settings | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 **overrides):
        self.settings = settings or Settings.from_env(**overrides)
        if settings is not None and overrides:
            self.settings = settings.replace(**overrides)
        self.host = host
        self.port = port
        self.runtime: Runtime | None = None
        self._server = None
        self._thread: threading.Thread | None = None
        self._client = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def playground_url(self) -> str:
        """The playground page (a browser client of ``base_url``)."""
        return f"http://{self.host}:{self.port}/"

    @property
    def client(self):
        if self._client is None:
            import openai

            self._client = openai.OpenAI(base_url=self.base_url, api_key=self.settings.api_key or "local",
                                         max_retries=2)
        return self._client

    def start(self) -> "LocalAssistants":
        import uvicorn

        from .server import create_app

        self.runtime = Runtime(self.settings)
        app = create_app(self.runtime)
        # IPPROTO_TCP explicitly: with protocol 0 asyncio leaves Nagle on for accepted
        # connections, and every small response (each SSE event) waits ~40 ms for an ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=3)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="local-assistants-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the embedded server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._server = None
        if self.runtime is not None:
            self.runtime.close()
            self.runtime = None

    def __enter__(self) -> "LocalAssistants":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
