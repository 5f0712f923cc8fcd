"""Small helpers every route module uses."""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool


def runtime(request: Request):
    return request.app.state.runtime


async def call(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Run a (blocking, SQLite-bound) service call off the event loop."""
    return await run_in_threadpool(partial(fn, *args, **kwargs))


def page_params(request: Request) -> dict[str, Any]:
    q = request.query_params
    return {"limit": q.get("limit"), "order": q.get("order"), "after": q.get("after"),
            "before": q.get("before")}
