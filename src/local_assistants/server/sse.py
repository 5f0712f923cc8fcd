"""Server-sent events as OpenAI sends them: ``event: <name>`` / ``data: <json>``,
keep-alive comments while the model is quiet, and ``event: done`` / ``data: [DONE]``."""

from __future__ import annotations

import asyncio
import json
from typing import AsyncIterator, Iterable

from fastapi.responses import StreamingResponse

from ..services.events import FINAL_EVENTS, Subscription

KEEPALIVE_S = 10.0


def frame(event: str, data: dict | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n".encode()


async def run_events(sub: Subscription, leading: Iterable[tuple[str, dict]]) -> AsyncIterator[bytes]:
    """The leading events (already known), then the run's events until it settles."""
    try:
        for event, data in leading:
            yield frame(event, data)
        while True:
            item = await sub.get(KEEPALIVE_S)
            if item is None:
                yield b": ping\n\n"
                continue
            yield frame(item.event, item.data)
            if item.event in FINAL_EVENTS:
                break
        yield frame("done", "[DONE]")
    except asyncio.CancelledError:  # the client went away; the run goes on
        raise
    finally:
        sub.close()


def sse_response(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream",
                             headers={"cache-control": "no-cache", "x-accel-buffering": "no"})
