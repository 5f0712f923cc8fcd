"""Messages of a thread: create, list (with a run_id filter), retrieve, modify, delete."""

from __future__ import annotations

from typing import Any

from ..core import run_state
from ..core import validation as v
from ..errors import InvalidRequestError, InvalidStateError, NotFoundError
from ..ids import Clock, new_id, system_clock
from ..ports import ThreadStore
from .base import ResourceService, deleted
from .vector_stores import VectorStoresService


MESSAGE_FIELDS = ("role", "content", "attachments", "metadata")


def index_item(store, thread_id: str, item_id: str, ref: str, step_id: str | None = None) -> None:
    """A thread's next item in conversation order: a message (``ref`` its id), or a tool
    call of a step (``call:<id>``) or a function's output (``output:<id>``)."""
    row_id = item_key(thread_id, item_id)
    if store.get("items", row_id) is None:  # a call given again (a client's own history) keeps its place
        store.insert("items", {"id": row_id, "item_id": item_id, "thread_id": thread_id, "ref": ref,
                               "step_id": step_id}, thread_id=thread_id, ref=ref)


def item_key(thread_id: str, item_id: str) -> str:
    """An item's row: item ids come from call ids, which another thread may hold too."""
    return f"{thread_id}/{item_id}"


class MessagesService(ResourceService):
    table = "messages"
    noun = "message"

    def __init__(self, store: ThreadStore, clock: Clock = system_clock, *,
                 vector_stores: VectorStoresService | None = None):
        super().__init__(store, clock)
        self.store: ThreadStore = store
        self.vector_stores = vector_stores
        """file_search attachments go to the thread's store through it (None: no file search)."""

    def thread(self, thread_id: str) -> dict:
        thread = self.store.get("threads", thread_id)
        if thread is None:
            raise NotFoundError(f"No thread found with id '{thread_id}'.")
        return thread

    def prepare(self, thread_id: str, body: Any, *, param: str = "", run_id: str | None = None,
                assistant_id: str | None = None) -> dict:
        """Check a message request and build the object, writing nothing."""
        prefix = f"{param}." if param else ""
        if not isinstance(body, dict):
            raise InvalidRequestError(f"Invalid type for '{param or 'message'}': expected an object.",
                                      param=param or None)
        v.refuse_unknown(body, set(MESSAGE_FIELDS), param)
        if "content" not in body or body["content"] is None:
            raise InvalidRequestError(f"Missing required parameter: '{prefix}content'.", param=f"{prefix}content")
        if "role" not in body:
            raise InvalidRequestError(f"Missing required parameter: '{prefix}role'.", param=f"{prefix}role")
        return {
            "id": new_id("message"),
            "object": "thread.message",
            "created_at": self.now(),
            "thread_id": thread_id,
            "status": "completed",
            "incomplete_details": None,
            "completed_at": None,
            "incomplete_at": None,
            "role": v.message_role(body.get("role"), f"{prefix}role"),
            "content": v.message_content(body.get("content"), f"{prefix}content"),
            "assistant_id": assistant_id,
            "run_id": run_id,
            "attachments": v.attachments(body.get("attachments"), f"{prefix}attachments") or [],
            "metadata": v.metadata(body.get("metadata"), f"{prefix}metadata") or {},
        }

    def insert(self, message: dict) -> dict:
        """Write a message, and its place among the thread's items (the conversation's order)."""
        with self.store.transaction():
            self.store.insert(self.table, message, thread_id=message["thread_id"], run_id=message["run_id"])
            index_item(self.store, message["thread_id"], message["id"], message["id"])
        return message

    def save(self, message: dict) -> dict:
        return self.store.update(self.table, message, thread_id=message["thread_id"], run_id=message["run_id"])

    def create(self, thread_id: str, **body: Any) -> dict:
        with self.store.transaction():
            thread = self.thread(thread_id)
            self.refuse_if_run_active(thread_id)
            message = self.insert(self.prepare(thread_id, body))
            self.add_file_search_attachments(thread, message)
            return message

    def add_file_search_attachments(self, thread: dict, message: dict, param: str = "attachments") -> None:
        """Files attached for ``file_search`` join the thread's vector store (created, and
        recorded in the thread's ``tool_resources``, if the thread has none)."""
        file_ids = [a["file_id"] for a in message.get("attachments") or []
                    if any(t.get("type") == "file_search" for t in a.get("tools") or [])]
        if not file_ids:
            return
        if self.vector_stores is None:
            raise InvalidRequestError("File search is not available here.", param=param)
        with self.store.transaction():
            self.vector_stores.attach_to_thread(thread, list(dict.fromkeys(file_ids)), param=param)
            self.store.update("threads", thread)

    def refuse_if_run_active(self, thread_id: str) -> None:
        active = self.store.find("runs", thread_id=thread_id, status=sorted(run_state.ACTIVE))
        if active:
            run = active[-1]
            # 400, not 409: the SDK retries 409 and would repeat the request.
            raise InvalidStateError(
                f"Thread {thread_id} already has an active run {run['id']}.", param="thread_id"
            )

    def retrieve(self, thread_id: str, message_id: str) -> dict:
        self.thread(thread_id)
        return self.get(message_id, thread_id=thread_id)

    def list(self, thread_id: str, *, run_id: str | None = None, **page: Any):
        self.thread(thread_id)
        return self.list_page(thread_id=thread_id, run_id=run_id or None, **page)

    def modify(self, thread_id: str, message_id: str, *, metadata: Any = None) -> dict:
        with self.store.transaction():
            message = self.retrieve(thread_id, message_id)
            if metadata is not None:
                message["metadata"] = v.metadata(metadata)
            return self.save(message)

    def delete(self, thread_id: str, message_id: str) -> dict:
        with self.store.transaction():
            self.retrieve(thread_id, message_id)
            self.store.delete_token_counts(message_id=message_id)
            self.store.delete(self.table, message_id)
            self.store.delete_where("items", ref=message_id)
        return deleted(message_id, "thread.message.deleted")
