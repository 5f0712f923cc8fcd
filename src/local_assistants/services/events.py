"""Run events fanned out to streaming subscribers.

The worker thread publishes; each SSE response owns a subscription bound to its
asyncio loop, fed with ``call_soon_threadsafe`` so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable

from ..core import run_state

# After one of these the stream of that run ends (requires_action: the client must act).
FINAL_EVENTS = frozenset({f"thread.run.{s}" for s in run_state.TERMINAL} | {"thread.run.requires_action"})

Publish = Callable[[str, str, dict], None]
"""``publish(run_id, event name, data)``: what the run loop calls for each event of a run."""


@dataclass(frozen=True)
class Event:
    event: str
    data: dict


class Subscription:
    def __init__(self, bus: "EventBus", run_id: str, loop: asyncio.AbstractEventLoop):
        self.bus = bus
        self.run_id = run_id
        self.loop = loop
        self.queue: asyncio.Queue[Event] = asyncio.Queue()

    def push(self, event: Event) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, event)
        except RuntimeError:  # the loop has closed: the client went away
            self.close()

    async def get(self, timeout: float) -> Event | None:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            return None

    def drain(self) -> list[Event]:
        """Whatever is already waiting, without blocking."""
        items = []
        while not self.queue.empty():
            items.append(self.queue.get_nowait())
        return items

    def close(self) -> None:
        self.bus._remove(self)


class EventBus:
    def __init__(self):
        self._lock = threading.Lock()
        self._subs: dict[str, list[Subscription]] = defaultdict(list)

    def subscribe(self, run_id: str, loop: asyncio.AbstractEventLoop) -> Subscription:
        sub = Subscription(self, run_id, loop)
        with self._lock:
            self._subs[run_id].append(sub)
        return sub

    def publish(self, run_id: str, event: str, data: dict) -> None:
        """Each subscriber gets the object as it is now: a copy, since the publisher goes on
        changing its own (a slow client once read ``thread.message.created`` with the
        message's final content, serialised only when it was sent)."""
        with self._lock:
            subs = list(self._subs.get(run_id, ()))
        if not subs:
            return
        event_ = Event(event, _snapshot(data))
        for sub in subs:
            sub.push(event_)

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subs.get(sub.run_id)
            if subs and sub in subs:
                subs.remove(sub)
                if not subs:
                    del self._subs[sub.run_id]


def _snapshot(value):
    """A copy of a JSON-shaped value (dicts, lists, scalars): faster than ``deepcopy``."""
    if isinstance(value, dict):
        return {k: _snapshot(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snapshot(v) for v in value]
    return value
