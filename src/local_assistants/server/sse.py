"""Server-sent events as OpenAI sends them: ``event: <name>`` / ``data: <json>``,
keep-alive comments while the model is quiet, and ``event: done`` / ``data: [DONE]``."""

from __future__ import annotations

import asyncio
import json
from typing import AsyncIterator, Iterable

from fastapi.responses import StreamingResponse

from ..services.events import FINAL_EVENTS, Event, Subscription

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
            items = [item, *sub.drain()]
            for event in coalesce_deltas(items):
                yield frame(event.event, event.data)
            if any(i.event in FINAL_EVENTS for i in items):
                break
        yield frame("done", "[DONE]")
    except asyncio.CancelledError:  # the client went away; the run goes on
        raise
    finally:
        sub.close()


def coalesce_deltas(events: list[Event]) -> list[Event]:
    """Merge consecutive text deltas of one message into one event.

    When the client reads slower than the model writes, the queue holds several
    deltas: sending them as one keeps the client's per-event work from slowing
    the stream further.  The merged delta is what the SDK would have built by
    concatenating them (annotations come only with the first piece).
    """
    out: list[Event] = []
    for event in events:
        prev = out[-1] if out else None
        if (prev is not None and event.event == prev.event == "thread.message.delta"
                and event.data["id"] == prev.data["id"] and _text_part(prev) and _text_part(event)
                and _text_part(prev)["index"] == _text_part(event)["index"]
                and not _text_part(event)["text"].get("annotations")):
            merged = _text_part(prev)["text"]["value"] + _text_part(event)["text"]["value"]
            part = dict(_text_part(prev), text=dict(_text_part(prev)["text"], value=merged))
            out[-1] = Event(prev.event, dict(prev.data, delta={"content": [part]}))
        else:
            out.append(event)
    return out


def _text_part(event: Event) -> dict | None:
    content = event.data.get("delta", {}).get("content") or []
    if len(content) == 1 and content[0].get("type") == "text" and set(content[0]["text"]) <= {"value", "annotations"}:
        return content[0]
    return None


def sse_response(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream",
                             headers={"cache-control": "no-cache", "x-accel-buffering": "no"})
