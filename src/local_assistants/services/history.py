"""A thread's history as window items, newest first, read lazily in pages.

Token counts are per tokenizer and computed once per message: looked up in the
store's token-count table and, when missing, counted and stored.  Building a
window therefore never re-tokenizes history and never loads a whole thread.

Earlier runs' tool calls and outputs (the code a run ran and what it printed, a
function's submitted output) come back where the run made them, just before the
run's message that followed them, so a follow-up turn can build on what an earlier
one computed.  ``replay`` turns a run's steps into those items.
"""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

from ..core.prompt import content_text
from ..core.window import WindowItem
from ..ports import ListQuery, ThreadStore

PAGE = 64
MAX_CHAIN = 10_000
"""Parent threads followed at most (each branch of a chain of responses adds one)."""


class ThreadHistory:
    def __init__(self, store: ThreadStore, thread_id: str, tokenizer_key: str, count: Callable[[str], int], overhead: int,
                 replay: Callable[[list[dict]], list[WindowItem]] | None = None, current_run: str | None = None):
        self.store = store
        self.thread_id = thread_id
        self.tokenizer_key = tokenizer_key
        self.count = count
        self.overhead = overhead
        self.replay = replay
        self.current_run = current_run  # its own tool work comes as run_items
        self._steps: dict[str, list[dict]] = {}
        self._replayed: dict[str, list[WindowItem]] = {}  # counted once per history, not per walk
        self._chain: list[tuple[str, str | None]] | None = None

    def newest_first(self, run_items: Sequence[WindowItem] = ()) -> Iterator[WindowItem]:
        """The thread's items, newest first, preceded by ``run_items``.

        ``run_items`` (oldest first) is where what the current run produced enters the
        window: tool calls and their outputs, file-search chunks, code-interpreter logs.
        Give a call and its output one ``group`` so they are kept or dropped together.
        """
        yield from reversed(run_items)
        for thread_id, upto in self._segments():
            after = None
            if upto is not None:  # a branch of a chain: the parent's history up to that message
                message = self.store.get("messages", upto)
                if message is None:
                    return
                yield self._items([message])[0]
                yield from reversed(self._replayed_before(message))
                after = upto
            while True:
                page = self.store.list("messages", ListQuery(limit=PAGE, order="desc", after=after,
                                                             where={"thread_id": thread_id}))
                for message, item in zip(page.data, self._items(page.data)):
                    yield item
                    yield from reversed(self._replayed_before(message))
                if not page.has_more:
                    break
                after = page.data[-1]["id"]

    def _segments(self) -> list[tuple[str, str | None]]:
        """The thread, then (for a branch of a chain of responses) each parent thread with the
        message the branch starts after: ``(thread id, last message or None)``, newest first."""
        if self._chain is None:
            chain: list[tuple[str, str | None]] = [(self.thread_id, None)]
            thread = self.store.get("threads", self.thread_id) or {}
            while thread.get("parent") and len(chain) < MAX_CHAIN:
                parent = thread["parent"]
                chain.append((parent["thread_id"], parent["message_id"]))
                thread = self.store.get("threads", parent["thread_id"]) or {}
            self._chain = chain
        return self._chain

    def first_user(self) -> WindowItem | None:
        root = self._segments()[-1][0]
        page = self.store.list("messages", ListQuery(limit=1, order="asc", where={"thread_id": root}))
        if not page.data or page.data[0]["role"] != "user":
            return None
        item = self._items(page.data)[0]
        return WindowItem(id=item.id, role=item.role, text=item.text, tokens=item.tokens, first_user=True)

    def _replayed_before(self, message: dict) -> list[WindowItem]:
        """An earlier run's tool items (oldest first) between its previous message and ``message``."""
        run_id = message.get("run_id")
        if self.replay is None or message["role"] != "assistant" or not run_id or run_id == self.current_run:
            return []
        if message["id"] not in self._replayed:
            steps = self._steps.get(run_id)
            if steps is None:
                steps = self._steps[run_id] = self.store.find("run_steps", run_id=run_id)
            self._replayed[message["id"]] = self._tool_steps_before(steps, message["id"])
        return self._replayed[message["id"]]

    def _tool_steps_before(self, steps: list[dict], message_id: str) -> list[WindowItem]:
        before: list[dict] = []
        for step in steps:
            if step["type"] != "message_creation":
                before.append(step)
            elif step["step_details"]["message_creation"]["message_id"] == message_id:
                return self.replay(before) if before else []
            else:
                before = []
        return []

    def _items(self, messages: list[dict]) -> list[WindowItem]:
        """Items for a page of messages; counts missing for this tokenizer are counted and stored."""
        counts = self.store.token_counts([m["id"] for m in messages], self.tokenizer_key)
        fresh = {}
        items = []
        for message in messages:
            text = content_text(message["content"])
            tokens = counts.get(message["id"])
            if tokens is None:
                tokens = fresh[message["id"]] = self.count(text) + self.overhead
            items.append(WindowItem(id=message["id"], role=message["role"], text=text, tokens=tokens))
        if fresh:
            self.store.save_token_counts(fresh, self.tokenizer_key)
        return items
