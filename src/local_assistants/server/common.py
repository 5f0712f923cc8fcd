"""Small helpers every route module uses."""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from .schemas import PAGE, Param


def runtime(request: Request):
    return request.app.state.runtime


async def call(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Run a (blocking, SQLite-bound) service call off the event loop."""
    return await run_in_threadpool(partial(fn, *args, **kwargs))


def query(request: Request, params: tuple[Param, ...]) -> dict[str, Any]:
    """The declared query parameters (``include[]`` as ``include``, a list), by name; others are
    ignored, as OpenAI ignores them."""
    q = request.query_params
    out: dict[str, Any] = {}
    for p in params:
        if p.array:
            out[p.name.removesuffix("[]")] = q.getlist(p.name)
        else:
            out[p.name] = q.get(p.name)
    return out


def page_params(request: Request) -> dict[str, Any]:
    return query(request, PAGE)
