"""The Conversations API: a conversation is a thread.

A conversation made here is a thread (id ``conv_...``); a thread made by the
Assistants API is a conversation too.  Its items are the thread's messages and its
runs' tool calls, in the order the ``items`` table records them (a message, a call
and a function's output each join it as they are written), shown by
``response_items``.
"""

from __future__ import annotations

from typing import Any

from ..core import validation as v
from ..errors import InvalidRequestError, NotFoundError
from ..ids import new_id
from . import response_items as ri
from .base import ResourceService, list_query
from .messages import MessagesService, item_key
from .threads import ThreadsService

MAX_CREATE_ITEMS = 20


class ConversationsService(ResourceService):
    table = "threads"
    noun = "conversation"

    def __init__(self, messages: MessagesService, threads: ThreadsService, *, container_file_of=None):
        super().__init__(messages.store, messages.clock)
        self.messages = messages
        self.threads = threads
        self.container_file_of = container_file_of

    # -- conversations -----------------------------------------------------------------
    def create(self, *, items: Any = None, metadata: Any = None) -> dict:
        prepared = self._prepare_items(items, MAX_CREATE_ITEMS)
        thread = {"id": new_id("conversation"), "object": "thread", "created_at": self.now(),
                  "metadata": v.metadata(metadata) or {}, "tool_resources": {}}
        with self.store.transaction():
            self.store.insert("threads", thread)
            for message in prepared:
                message["thread_id"] = thread["id"]
                self.messages.insert(message)
        return view(thread)

    def thread(self, conversation_id: str) -> dict:
        thread = self.store.get("threads", conversation_id)
        if thread is None:
            raise NotFoundError(f"Conversation with id '{conversation_id}' not found.")
        return thread

    def retrieve(self, conversation_id: str) -> dict:
        return view(self.thread(conversation_id))

    def update(self, conversation_id: str, *, metadata: Any = None) -> dict:
        if metadata is None:
            raise v.missing("metadata")
        with self.store.transaction():
            thread = self.thread(conversation_id)
            thread["metadata"] = v.metadata(metadata) or {}
            self.store.update("threads", thread)
        return view(thread)

    def delete(self, conversation_id: str) -> dict:
        self.thread(conversation_id)
        self.threads.delete(conversation_id)
        return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}

    # -- items ---------------------------------------------------------------------------
    def _prepare_items(self, items: Any, most: int) -> list[dict]:
        if items is None:
            return []
        if not isinstance(items, list):
            raise InvalidRequestError("Invalid type for 'items': expected an array.", param="items")
        if len(items) > most:
            raise InvalidRequestError(f"Invalid 'items': array too long. Expected an array with maximum length "
                                      f"{most}, but got an array with length {len(items)} instead.", param="items")
        out = []
        for i, item in enumerate(items):
            p = f"items[{i}]"
            if not isinstance(item, dict) or (item.get("type") or "message") != "message":
                raise InvalidRequestError(f"Invalid value for '{p}.type': only 'message' items can be added to a "
                                          "conversation here.", param=f"{p}.type")
            role = item.get("role")
            if role not in ("user", "assistant"):
                raise InvalidRequestError(f"Invalid value for '{p}.role': expected 'user' or 'assistant'.",
                                          param=f"{p}.role")
            content = item.get("content")
            if isinstance(content, list):
                parts = []
                for j, part in enumerate(content):
                    if not isinstance(part, dict) or part.get("type") not in ("input_text", "output_text", "text"):
                        raise InvalidRequestError(f"Invalid value for '{p}.content[{j}].type': expected "
                                                  "'input_text' or 'output_text'.", param=f"{p}.content[{j}].type")
                    parts.append({"type": "text", "text": part.get("text")})
                content = parts
            out.append(self.messages.prepare("", {"role": role, "content": content}, param=p))
        return out

    def list_items(self, conversation_id: str, *, limit: Any = None, order: Any = None, after: str | None = None,
                   before: str | None = None, include: list[str] | None = None) -> dict:
        self.thread(conversation_id)
        query = list_query(limit, order, item_key(conversation_id, after) if after else None,
                           item_key(conversation_id, before) if before else None, where={"thread_id": conversation_id})
        page = self.store.list("items", query)
        data = [item for item in (self._show(row, include or []) for row in page.data) if item is not None]
        return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None, "has_more": page.has_more}

    def create_items(self, conversation_id: str, *, items: Any = None, include: list[str] | None = None) -> dict:
        prepared = self._prepare_items(items, MAX_CREATE_ITEMS)
        if not prepared:
            raise v.missing("items")
        with self.store.transaction():
            self.thread(conversation_id)
            self.messages.refuse_if_run_active(conversation_id)
            for message in prepared:
                message["thread_id"] = conversation_id
                self.messages.insert(message)
        data = [ri.message_item(m) for m in prepared]
        return {"object": "list", "data": data, "first_id": data[0]["id"], "last_id": data[-1]["id"],
                "has_more": False}

    def retrieve_item(self, conversation_id: str, item_id: str, include: list[str] | None = None) -> dict:
        self.thread(conversation_id)
        row = self.store.get("items", item_key(conversation_id, item_id))
        item = self._show(row, include or []) if row and row["thread_id"] == conversation_id else None
        if item is None:
            raise NotFoundError(f"Item with id '{item_id}' not found.")
        return item

    def delete_item(self, conversation_id: str, item_id: str) -> dict:
        with self.store.transaction():
            thread = self.thread(conversation_id)
            row = self.store.get("items", item_key(conversation_id, item_id))
            if row is None or row["thread_id"] != conversation_id:
                raise NotFoundError(f"Item with id '{item_id}' not found.")
            self.messages.refuse_if_run_active(conversation_id)
            ref = row["ref"]
            if ref.startswith(("call:", "output:")):
                kind, call_id = ref.split(":", 1)
                step = self.store.get("run_steps", row.get("step_id") or "")
                if step is not None:
                    calls = step["step_details"]["tool_calls"]
                    for call in calls:
                        if call["id"] == call_id and kind == "output" and call["type"] == "function":
                            call["function"]["output"] = None
                    if kind == "call":
                        step["step_details"]["tool_calls"] = [c for c in calls if c["id"] != call_id]
                        self.store.delete_where("items", ref="output:" + call_id)
                    self.store.update("run_steps", step, thread_id=step["thread_id"], run_id=step["run_id"])
                self.store.delete("items", row["id"])
            else:
                self.messages.delete(conversation_id, ref)
        return view(thread)

    def _show(self, row: dict, include: list[str]) -> dict | None:
        """An ``items`` row as its item (None when its record is gone)."""
        ref = row["ref"]
        if not ref.startswith(("call:", "output:")):
            message = self.store.get("messages", ref)
            return ri.message_item(message, container_file_of=self.container_file_of,
                                   include=include) if message else None
        kind, call_id = ref.split(":", 1)
        step = self.store.get("run_steps", row.get("step_id") or "")
        call = next((c for c in (step or {}).get("step_details", {}).get("tool_calls") or [] if c["id"] == call_id),
                    None)
        if call is None:
            return None
        if kind == "output":
            return ri.function_output_item(call) if call["type"] == "function" else None
        return ri.call_item(call, step["status"], include=include, container_file_of=self.container_file_of)


def view(thread: dict) -> dict:
    """A thread as the SDK's ``Conversation``."""
    return {"id": thread["id"], "object": "conversation", "created_at": thread["created_at"],
            "metadata": thread.get("metadata") or {}}


__all__ = ["ConversationsService", "view"]
