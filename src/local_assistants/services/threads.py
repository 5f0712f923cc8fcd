"""Threads: create (with initial messages), retrieve, modify, delete (with what they hold)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ..core import validation as v
from ..errors import InvalidRequestError
from ..ids import Clock, new_id
from ..ports import ThreadStore
from .base import ResourceService, deleted
from .messages import MessagesService


class ThreadsService(ResourceService):
    table = "threads"
    noun = "thread"

    def __init__(self, store: ThreadStore, messages: MessagesService, clock: Clock | None = None, *,
                 on_delete: Sequence[Callable[[str], None]] = ()):
        super().__init__(store, clock or messages.clock)
        self.store: ThreadStore = store
        self.messages = messages
        self.on_delete = list(on_delete)
        """Called with a deleted thread's id, after the rows are gone (its kernel and disk)."""

    @property
    def vector_stores(self):
        """The vector-store service (the messages service's)."""
        return self.messages.vector_stores

    def create(self, *, messages: Any = None, metadata: Any = None, tool_resources: Any = None) -> dict:
        if messages is not None and not isinstance(messages, list):
            raise InvalidRequestError("Invalid type for 'messages': expected an array.", param="messages")
        thread = {
            "id": new_id("thread"),
            "object": "thread",
            "created_at": self.now(),
            "metadata": v.metadata(metadata) or {},
            "tool_resources": v.tool_resources(tool_resources) or {},
        }
        # Check every message before writing anything: bad input leaves no partial thread.
        prepared = [self.messages.prepare(thread["id"], m, param=f"messages[{i}]")
                    for i, m in enumerate(messages or [])]
        with self.store.transaction():
            # Inline file_search.vector_stores become stores of the thread (ingested in the background).
            thread["tool_resources"] = self._file_search(thread["tool_resources"])
            self.store.insert(self.table, thread)
            for i, message in enumerate(prepared):
                self.messages.insert(message)
                self.messages.add_file_search_attachments(thread, message, param=f"messages[{i}].attachments")
        return thread

    def modify(self, thread_id: str, *, metadata: Any = None, tool_resources: Any = None) -> dict:
        with self.store.transaction():
            thread = self.get(thread_id)
            if metadata is not None:
                thread["metadata"] = v.metadata(metadata)
            if tool_resources is not None:
                thread["tool_resources"] = self._file_search(v.tool_resources(tool_resources))
            return self.store.update(self.table, thread)

    def _file_search(self, tool_resources: dict | None) -> dict:
        """Check the file_search stores exist and create the inline ones (a thread's expire
        7 days after last activity)."""
        if self.vector_stores is None:
            fs = (tool_resources or {}).get("file_search")
            if isinstance(fs, dict) and fs.pop("vector_stores", None):
                raise InvalidRequestError("Inline vector stores are not available here.",
                                          param="tool_resources.file_search.vector_stores")
            return tool_resources or {}
        return self.vector_stores.resolve_tool_resources(tool_resources, for_thread=True) or {}

    def delete(self, thread_id: str) -> dict:
        with self.store.transaction():
            self.get(thread_id)
            self.store.delete_token_counts(thread_id=thread_id)
            for table in ("messages", "run_steps", "runs", "items", "responses"):
                self.store.delete_where(table, thread_id=thread_id)
            self.store.delete(self.table, thread_id)
        for hook in self.on_delete:
            hook(thread_id)
        return deleted(thread_id, "thread.deleted")
