"""The app on a stand-in runtime: only the settings the server reads and the services a
test passes, so a route's own work is tested without models, SQLite or kernels."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

from fastapi.testclient import TestClient

from local_assistants.server.app import create_app


def stand_in_runtime(*, api_key: str | None = None, poll_after_ms: int = 100, **services) -> SimpleNamespace:
    return SimpleNamespace(settings=SimpleNamespace(api_key=api_key, poll_after_ms=poll_after_ms), **services)


@contextlib.contextmanager
def app_client(runtime: SimpleNamespace):
    with TestClient(create_app(runtime)) as client:
        yield client
