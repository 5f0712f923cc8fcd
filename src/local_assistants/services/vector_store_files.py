"""Files of vector stores: attach (create), list (by status, by batch), retrieve, update
attributes, delete, and the parsed content.

Attaching a file only writes an ``in_progress`` row and queues it (``enqueue``, set by the
runtime to the ingestion worker's), so the API never waits on parsing or embedding; the
worker completes or fails it (``ingestion``).  A vector-store file's id is its file's: a
file may sit in several stores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ..core import chunking
from ..core import filters as flt
from ..errors import InvalidRequestError, NotFoundError
from ..ids import Clock, now_s, system_clock
from ..ports import DocumentError, DocumentParser, FileSearchStore, ListQuery, Page
from .base import deleted, list_query
from .files import FilesService
from .indexes import IndexCache, vector_ids

if TYPE_CHECKING:  # it imports this module
    from .vector_stores import VectorStoreRecords

FILE_STATUSES = ("in_progress", "completed", "failed", "cancelled")


def file_counts(counts: dict[str, int]) -> dict[str, int]:
    """``file_counts`` as stores and batches show it: every status, and the total."""
    out = {status: int(counts.get(status, 0)) for status in FILE_STATUSES}
    out["total"] = sum(out.values())
    return out


def file_id_list(value: Any, param: str, max_len: int) -> list[str]:
    """A request's array of file ids, checked, without repeats."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
        raise InvalidRequestError(f"Invalid type for '{param}': expected an array of strings.", param=param)
    if len(value) > max_len:
        raise InvalidRequestError(
            f"Invalid '{param}': array too long. Expected an array with maximum length {max_len}, but got an "
            f"array with length {len(value)} instead.", param=param)
    return list(dict.fromkeys(value))


class VectorStoreFilesService:
    def __init__(self, store: FileSearchStore, vector_stores: VectorStoreRecords, files: FilesService,
                 parse: DocumentParser, indexes: IndexCache, *,
                 enqueue: Callable[[str, str], None] = lambda vector_store_id, file_id: None,
                 clock: Clock = system_clock):
        self.store = store
        self.vector_stores = vector_stores
        self.files = files
        self.parse = parse
        self.indexes = indexes
        self.clock = clock
        self.enqueue = enqueue
        """Queues an attached file for ingestion (``IngestionQueue.put``)."""

    def create(self, vector_store_id: str, *, file_id: Any, attributes: Any = None,
               chunking_strategy: Any = None) -> dict:
        if not isinstance(file_id, str) or not file_id:
            raise InvalidRequestError("Missing required parameter: 'file_id'.", param="file_id")
        attributes = flt.attributes(attributes)
        strategy = chunking.chunking_strategy(chunking_strategy)
        with self.store.transaction():
            self.vector_stores.usable(vector_store_id)
            if self.store.get("files", file_id) is None:
                raise NotFoundError(f"No file found with id '{file_id}'.")
            obj = self.attach(vector_store_id, file_id, strategy=strategy, attributes=attributes)
        return obj

    def attach(self, vector_store_id: str, file_id: str, *, strategy: dict, attributes: dict | None) -> dict:
        """Attach (or re-attach a failed or cancelled) file and queue it; inside a transaction,
        the file known to exist and the arguments checked."""
        existing = self.store.get_vector_store_file(vector_store_id, file_id)
        if existing is not None and existing["status"] in ("in_progress", "completed"):
            if attributes is not None and attributes != existing.get("attributes"):
                existing["attributes"] = attributes
                self.store.update_vector_store_file(existing)
            return existing
        file = self.store.get("files", file_id)
        obj = {
            "id": file_id,
            "object": "vector_store.file",
            "usage_bytes": 0,
            "created_at": now_s(self.clock),
            "vector_store_id": vector_store_id,
            "status": "in_progress",
            "last_error": None,
            "chunking_strategy": strategy,
            "attributes": attributes if attributes is not None else (existing or {}).get("attributes") or {},
        }
        if existing is not None:
            self.store.update_vector_store_file(obj)
            self.store.set_ingest_attempts(vector_store_id, file_id, 0)  # attached again: a fresh start
        else:
            self.store.insert_vector_store_file(obj, filename=(file or {}).get("filename"))
        self.enqueue(vector_store_id, file_id)
        return obj

    def check_exist(self, file_ids: list[str], param: str) -> None:
        for file_id in file_ids:
            if self.store.get("files", file_id) is None:
                raise NotFoundError(f"No file found with id '{file_id}'.", param=param)

    def retrieve(self, vector_store_id: str, file_id: str) -> dict:
        self.vector_stores.get(vector_store_id)
        obj = self.store.get_vector_store_file(vector_store_id, file_id)
        if obj is None:
            raise NotFoundError(f"No file found with id '{file_id}' in vector store '{vector_store_id}'.")
        return obj

    def update(self, vector_store_id: str, file_id: str, *, attributes: Any) -> dict:
        if attributes is None:
            raise InvalidRequestError("Missing required parameter: 'attributes'.", param="attributes")
        attributes = flt.attributes(attributes)
        with self.store.transaction():
            obj = self.retrieve(vector_store_id, file_id)
            obj["attributes"] = attributes
            return self.store.update_vector_store_file(obj)

    def list(self, vector_store_id: str, *, filter: Any = None, batch_id: str | None = None, **page: Any) -> Page:
        self.vector_stores.get(vector_store_id)
        if filter is not None and filter not in FILE_STATUSES:
            raise InvalidRequestError(f"Invalid value for 'filter': expected one of {', '.join(FILE_STATUSES)}.",
                                      param="filter")
        query: ListQuery = list_query(page.get("limit"), page.get("order"), page.get("after"), page.get("before"))
        return self.store.list_vector_store_files(vector_store_id, query, status=filter, batch_id=batch_id)

    def delete(self, vector_store_id: str, file_id: str) -> dict:
        with self.store.transaction():
            self.retrieve(vector_store_id, file_id)
            self.remove_chunks(vector_store_id, file_id)
            self.store.delete_vector_store_file(vector_store_id, file_id)
        return deleted(file_id, "vector_store.file.deleted")

    def forget_file(self, file_id: str) -> None:
        """Remove a file (being deleted) from every vector store that holds it."""
        with self.store.transaction():
            for vsf in self.store.find_vector_store_files(file_id=file_id):
                self.remove_chunks(vsf["vector_store_id"], file_id)
                self.store.delete_vector_store_file(vsf["vector_store_id"], file_id)

    def content(self, vector_store_id: str, file_id: str) -> dict:
        """The parsed text of a completed file, as ``{"object": ..., "data": [{"type": "text", "text"}]}``."""
        obj = self.retrieve(vector_store_id, file_id)
        data = []
        if obj["status"] == "completed":
            text = None
            file = self.store.get("files", file_id)
            if file is not None and self.files.path(file_id).is_file():
                try:
                    text = self.parse(self.files.path(file_id), file["filename"])
                except DocumentError:
                    text = None
            if text is None:  # the file itself is gone: put the chunks back together
                text = _join_chunks(self.store.chunk_texts(vector_store_id, file_id))
            data.append({"type": "text", "text": text})
        return {"object": "vector_store.file_content.page", "data": data, "has_more": False, "next_page": None}

    def remove_chunks(self, vector_store_id: str, file_id: str) -> None:
        """Delete a file's chunks and their vectors; inside a transaction."""
        gone = self.store.delete_chunks(vector_store_id, file_id)
        self.indexes.remove(vector_store_id, vector_ids(gone))


def _join_chunks(parts: list[tuple[int, int, str]]) -> str:
    out: list[str] = []
    end = None
    for start, stop, text in parts:
        if end is None or start >= end:
            if end is not None:
                out.append(" ")
            out.append(text)
        else:
            out.append(text[end - start:])
        end = stop if end is None else max(end, stop)
    return "".join(out)
