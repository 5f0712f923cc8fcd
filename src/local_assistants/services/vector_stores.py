"""Vector stores: create, list, retrieve, modify, delete; their expiry; the stores that
assistants' and threads' ``tool_resources`` name or create.

A vector store's ``file_counts``, ``usage_bytes`` and ``status`` are computed from its
files' rows whenever it is read, so they are always right; ``expired`` follows from
``expires_at``.  Beside this service: its files (``vector_store_files``), file batches
(``file_batches``), searching it (``search``) and filling it (``ingestion``).
"""

from __future__ import annotations

from typing import Any

from ..core import chunking
from ..core import validation as v
from ..errors import InvalidRequestError, InvalidStateError
from ..ids import Clock, new_id, system_clock
from ..ports import FileSearchStore, Page
from .base import ResourceService, deleted
from .indexes import IndexCache
from .vector_store_files import VectorStoreFilesService, file_counts, file_id_list

MAX_FILE_IDS = 500
MAX_EXPIRES_DAYS = 365
THREAD_STORE_EXPIRY = {"anchor": "last_active_at", "days": 7}
DAY_S = 86400
UNSET: Any = object()


def _expires_after(value: Any, param: str = "expires_after") -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequestError(f"Invalid type for '{param}': expected an object.", param=param)
    if value.get("anchor") != "last_active_at":
        raise InvalidRequestError(f"Invalid value for '{param}.anchor': expected 'last_active_at'.",
                                  param=f"{param}.anchor")
    days = value.get("days")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_EXPIRES_DAYS:
        raise InvalidRequestError(f"Invalid '{param}.days': expected an integer from 1 to {MAX_EXPIRES_DAYS}.",
                                  param=f"{param}.days")
    return {"anchor": "last_active_at", "days": days}


def _expires_at(obj: dict) -> int | None:
    policy = obj.get("expires_after")
    if not policy:
        return None
    return int(obj.get("last_active_at") or obj["created_at"]) + int(policy["days"]) * DAY_S


class VectorStoreRecords(ResourceService):
    """A vector store looked up (404), checked usable (not expired) and kept active: what
    its files, batches, ingestion and search need of it."""

    table = "vector_stores"
    noun = "vector store"

    def expired(self, obj: dict) -> bool:
        return obj.get("expires_at") is not None and self.now() >= obj["expires_at"]

    def usable(self, vector_store_id: str) -> dict:
        """The store, if it exists (404) and has not expired (400): one files may join or a search read."""
        obj = self.get(vector_store_id)
        if self.expired(obj):
            raise InvalidStateError(f"Vector store {vector_store_id} has expired.", param="vector_store_id")
        return obj

    def touch(self, vector_store_id: str) -> None:
        """Record activity (searches, new files): pushes ``expires_at`` back."""
        with self.store.transaction():
            obj = self.store.get(self.table, vector_store_id)
            if obj is None or self.expired(obj):
                return
            now = self.now()
            if obj.get("last_active_at") == now:
                return
            obj["last_active_at"] = now
            obj["expires_at"] = _expires_at(obj)
            self.store.update(self.table, obj)


class VectorStoresService(VectorStoreRecords):
    def __init__(self, store: FileSearchStore, indexes: IndexCache, vector_store_files: VectorStoreFilesService,
                 clock: Clock = system_clock):
        super().__init__(store, clock)
        self.store: FileSearchStore = store
        self.indexes = indexes
        self.vector_store_files = vector_store_files
        """Files named at creation are attached through it."""

    def create(self, *, name: Any = None, file_ids: Any = None, chunking_strategy: Any = None,
               expires_after: Any = None, metadata: Any = None, description: Any = None,
               _max_files: int = MAX_FILE_IDS) -> dict:
        name = v.text(name, "name", v.MAX_NAME)
        v.text(description, "description", v.MAX_DESCRIPTION)
        metadata = v.metadata(metadata)
        expires_after = _expires_after(expires_after)
        file_ids = file_id_list(file_ids, "file_ids", _max_files)
        strategy = chunking.chunking_strategy(chunking_strategy)
        self.vector_store_files.check_exist(file_ids, "file_ids")
        now = self.now()
        obj = {
            "id": new_id("vector_store"),
            "object": "vector_store",
            "created_at": now,
            "name": name or "",
            "usage_bytes": 0,
            "file_counts": file_counts({}),
            "status": "completed",
            "expires_after": expires_after,
            "expires_at": now + expires_after["days"] * DAY_S if expires_after else None,
            "last_active_at": now,
            "metadata": metadata or {},
        }
        with self.store.transaction():
            self.store.insert(self.table, obj)
            for file_id in file_ids:
                self.vector_store_files.attach(obj["id"], file_id, strategy=strategy, attributes=None)
        return self.render(obj)

    def retrieve(self, vector_store_id: str) -> dict:
        return self.render(self.get(vector_store_id))

    def list(self, **page: Any) -> Page:
        result = self.list_page(**page)
        result.data = [self.render(obj) for obj in result.data]
        return result

    def modify(self, vector_store_id: str, *, name: Any = None, expires_after: Any = UNSET,
               metadata: Any = None) -> dict:
        """``expires_after=None`` (sent as null) removes the expiry policy; leaving it out keeps it."""
        with self.store.transaction():
            obj = self.get(vector_store_id)
            if name is not None:
                obj["name"] = v.text(name, "name", v.MAX_NAME)
            if metadata is not None:
                obj["metadata"] = v.metadata(metadata)
            if expires_after is not UNSET:
                obj["expires_after"] = _expires_after(expires_after)
                obj["last_active_at"] = self.now()
                obj["expires_at"] = _expires_at(obj)
            self.store.update(self.table, obj)
        return self.render(obj)

    def delete(self, vector_store_id: str) -> dict:
        with self.store.transaction():
            self.get(vector_store_id)
            self.store.delete_vector_store_rows(vector_store_id)
            self.store.delete(self.table, vector_store_id)
            self.indexes.drop(vector_store_id)
        return deleted(vector_store_id, "vector_store.deleted")

    def render(self, obj: dict) -> dict:
        counts, usage = self.store.vector_store_file_counts(obj["id"])
        counted = file_counts(counts)
        if self.expired(obj):
            status = "expired"
        elif counted["in_progress"]:
            status = "in_progress"
        else:
            status = "completed"
        return {**obj, "file_counts": counted, "usage_bytes": usage, "status": status}

    # -- assistants, threads and messages ------------------------------------------
    def resolve_tool_resources(self, tool_resources: dict | None, *, for_thread: bool,
                               param: str = "tool_resources") -> dict | None:
        """Check ``file_search.vector_store_ids`` exist; create the stores ``vector_stores``
        asks for (thread ones expire 7 days after last activity) and put their ids there.
        Call inside the transaction that stores the owner, so a failure leaves nothing."""
        if not tool_resources or not isinstance(tool_resources.get("file_search"), dict):
            return tool_resources
        fs = dict(tool_resources["file_search"])
        specs = fs.pop("vector_stores", None) or []
        ids = list(fs.get("vector_store_ids") or [])
        for vs_id in ids:
            if self.store.get(self.table, vs_id) is None:
                raise InvalidRequestError(f"No vector store found with id '{vs_id}'.",
                                          param=f"{param}.file_search.vector_store_ids")
        for spec in specs:
            created = self.create(
                file_ids=spec.get("file_ids"), chunking_strategy=spec.get("chunking_strategy"),
                metadata=spec.get("metadata"), expires_after=THREAD_STORE_EXPIRY if for_thread else None,
                _max_files=v.MAX_INLINE_VECTOR_STORE_FILES)
            ids.append(created["id"])
        fs["vector_store_ids"] = ids
        return {**tool_resources, "file_search": fs}

    def attach_to_thread(self, thread: dict, file_ids: list[str], param: str = "attachments") -> str:
        """Add files (message attachments for file_search) to the thread's vector store,
        creating one if the thread has none; returns its id.  The caller saves ``thread``."""
        for file_id in file_ids:
            if self.store.get("files", file_id) is None:
                raise InvalidRequestError(f"No file found with id '{file_id}'.", param=param)
        resources = thread.setdefault("tool_resources", {}) or {}
        thread["tool_resources"] = resources
        fs = resources.setdefault("file_search", {})
        # The thread's store, unless it was deleted or has expired: then a new one.
        ids = [i for i in fs.get("vector_store_ids") or []
               if (obj := self.store.get(self.table, i)) is not None and not self.expired(obj)]
        if ids:
            vs_id = ids[0]
        else:
            vs_id = self.create(expires_after=THREAD_STORE_EXPIRY)["id"]
            ids = [vs_id]
        fs["vector_store_ids"] = ids
        strategy = chunking.chunking_strategy(None)
        with self.store.transaction():
            for file_id in file_ids:
                self.vector_store_files.attach(vs_id, file_id, strategy=strategy, attributes=None)
        self.touch(vs_id)
        return vs_id
