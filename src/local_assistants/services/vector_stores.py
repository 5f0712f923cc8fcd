"""Vector stores, their files and file batches, ingestion, and hybrid search.

The API operations write rows and queue files; the ingestion worker (``ingest``) parses,
chunks, embeds and completes them.  A vector store's ``file_counts``, ``usage_bytes``
and ``status`` are computed from its files' rows whenever it is read, so they are
always right; ``expired`` follows from ``expires_at``.

``search`` is what the run engine's ``file_search`` tool calls:

    search(vector_store_ids, query, *, max_num_results=20, score_threshold=0.0,
           filters=None, mode="hybrid", touch=True) -> list[SearchResult]

best first, each with ``file_id``, ``filename``, ``score`` (0..1), ``text`` (the
chunk), ``chunk_id``, ``position``, ``vector_store_id`` and the file's ``attributes``
(``SearchResult.to_api()`` gives the HTTP shape).  Ranking: see ``core/ranking.py``.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..core import filters as flt
from ..core import ranking
from ..core import validation as v
from ..core.chunking import TooManyChunks, chunk_text, chunking_strategy
from ..errors import InvalidRequestError, InvalidStateError, NotFoundError
from ..ids import new_id
from ..ports import DocumentError, DocumentParser, Embedder, ListQuery, Page, SearchResult
from .base import ResourceService, deleted, list_query
from .indexes import PIECE_SLOTS, IndexCache, vector_ids

log = logging.getLogger(__name__)

FILE_STATUSES = ("in_progress", "completed", "failed", "cancelled")
MAX_FILE_IDS = 500
MAX_BATCH_FILES = 2000
MAX_EXPIRES_DAYS = 365
THREAD_STORE_EXPIRY = {"anchor": "last_active_at", "days": 7}
MAX_NUM_RESULTS = 50
DAY_S = 86400
UNSET: Any = object()
EMBED_BATCH = 64
MAX_FILE_TOKENS = 5_000_000
"""Word pieces one file may hold (OpenAI's limit); settings ``max_file_tokens``."""
MAX_FILE_CHUNKS = 20_000
"""Chunks one file may make (5M tokens in auto's 800-token chunks make 12,500)."""
MAX_INGEST_ATTEMPTS = 2
"""Ingestions of one file that may end with the server stopped before it is failed."""
"""Pieces embedded between two checks for a stop request."""
CANDIDATES_MIN = 40
"""Each retriever proposes at least this many chunks (4x max_num_results when more) for fusion."""


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


def _string_list(value: Any, param: str, max_len: int) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
        raise InvalidRequestError(f"Invalid type for '{param}': expected an array of strings.", param=param)
    if len(value) > max_len:
        raise InvalidRequestError(
            f"Invalid '{param}': array too long. Expected an array with maximum length {max_len}, but got an "
            f"array with length {len(value)} instead.", param=param)
    return list(dict.fromkeys(value))


class VectorStoresService(ResourceService):
    table = "vector_stores"
    noun = "vector store"

    def __init__(self, store, files, embedder: Embedder, parse: DocumentParser, indexes: IndexCache, clock=None):
        super().__init__(store, *(c for c in [clock] if c))
        self.files = files
        self.embedder = embedder
        self.parse = parse
        self.indexes = indexes
        self.enqueue = lambda vector_store_id, file_id: None  # set by the runtime: the ingestion worker's
        self.vector_weight = ranking.VECTOR_WEIGHT
        self.postings_budget = ranking.POSTINGS_BUDGET
        self.max_file_tokens = MAX_FILE_TOKENS
        self.max_file_chunks = MAX_FILE_CHUNKS
        self.max_ingest_attempts = MAX_INGEST_ATTEMPTS

    # -- vector stores ---------------------------------------------------------------
    def create(self, *, name: Any = None, file_ids: Any = None, chunking_strategy: Any = None,
               expires_after: Any = None, metadata: Any = None, description: Any = None,
               _max_files: int = MAX_FILE_IDS) -> dict:
        name = v.text(name, "name", v.MAX_NAME)
        v.text(description, "description", v.MAX_DESCRIPTION)
        metadata = v.metadata(metadata)
        expires_after = _expires_after(expires_after)
        file_ids = _string_list(file_ids, "file_ids", _max_files)
        strategy = _strategy(chunking_strategy)
        self._check_files(file_ids, "file_ids")
        now = self.now()
        obj = {
            "id": new_id("vector_store"),
            "object": "vector_store",
            "created_at": now,
            "name": name or "",
            "usage_bytes": 0,
            "file_counts": _counts({}),
            "status": "completed",
            "expires_after": expires_after,
            "expires_at": now + expires_after["days"] * DAY_S if expires_after else None,
            "last_active_at": now,
            "metadata": metadata or {},
        }
        with self.store.transaction():
            self.store.insert(self.table, obj)
            for file_id in file_ids:
                self._attach(obj["id"], file_id, strategy=strategy, attributes=None)
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
        file_counts = _counts(counts)
        if self._expired(obj):
            status = "expired"
        elif file_counts["in_progress"]:
            status = "in_progress"
        else:
            status = "completed"
        return {**obj, "file_counts": file_counts, "usage_bytes": usage, "status": status}

    def _expired(self, obj: dict) -> bool:
        return obj.get("expires_at") is not None and self.now() >= obj["expires_at"]

    def touch(self, vector_store_id: str) -> None:
        """Record activity (searches, new files): pushes ``expires_at`` back."""
        with self.store.transaction():
            obj = self.store.get(self.table, vector_store_id)
            if obj is None or self._expired(obj):
                return
            now = self.now()
            if obj.get("last_active_at") == now:
                return
            obj["last_active_at"] = now
            obj["expires_at"] = _expires_at(obj)
            self.store.update(self.table, obj)

    # -- files -----------------------------------------------------------------------
    def attach_file(self, vector_store_id: str, *, file_id: Any, attributes: Any = None,
                    chunking_strategy: Any = None) -> dict:
        if not isinstance(file_id, str) or not file_id:
            raise InvalidRequestError("Missing required parameter: 'file_id'.", param="file_id")
        attributes = flt.attributes(attributes)
        strategy = _strategy(chunking_strategy)
        with self.store.transaction():
            self._usable(vector_store_id)
            if self.store.get("files", file_id) is None:
                raise NotFoundError(f"No file found with id '{file_id}'.")
            obj = self._attach(vector_store_id, file_id, strategy=strategy, attributes=attributes)
        return obj

    def _attach(self, vector_store_id: str, file_id: str, *, strategy: dict, attributes: dict | None) -> dict:
        """Attach (or re-attach a failed or cancelled) file and queue it; inside a transaction."""
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
            "created_at": self.now(),
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

    def retrieve_file(self, vector_store_id: str, file_id: str) -> dict:
        self.get(vector_store_id)
        obj = self.store.get_vector_store_file(vector_store_id, file_id)
        if obj is None:
            raise NotFoundError(f"No file found with id '{file_id}' in vector store '{vector_store_id}'.")
        return obj

    def update_file(self, vector_store_id: str, file_id: str, *, attributes: Any) -> dict:
        if attributes is None:
            raise InvalidRequestError("Missing required parameter: 'attributes'.", param="attributes")
        attributes = flt.attributes(attributes)
        with self.store.transaction():
            obj = self.retrieve_file(vector_store_id, file_id)
            obj["attributes"] = attributes
            return self.store.update_vector_store_file(obj)

    def list_files(self, vector_store_id: str, *, filter: Any = None, batch_id: str | None = None,
                   **page: Any) -> Page:
        self.get(vector_store_id)
        if filter is not None and filter not in FILE_STATUSES:
            raise InvalidRequestError(f"Invalid value for 'filter': expected one of {', '.join(FILE_STATUSES)}.",
                                      param="filter")
        query: ListQuery = list_query(page.get("limit"), page.get("order"), page.get("after"), page.get("before"))
        return self.store.list_vector_store_files(vector_store_id, query, status=filter, batch_id=batch_id)

    def delete_file(self, vector_store_id: str, file_id: str) -> dict:
        with self.store.transaction():
            self.retrieve_file(vector_store_id, file_id)
            self._remove_chunks(vector_store_id, file_id)
            self.store.delete_vector_store_file(vector_store_id, file_id)
        return deleted(file_id, "vector_store.file.deleted")

    def forget_file(self, file_id: str) -> None:
        """Remove a file (being deleted) from every vector store that holds it."""
        with self.store.transaction():
            for vsf in self.store.find_vector_store_files(file_id=file_id):
                self._remove_chunks(vsf["vector_store_id"], file_id)
                self.store.delete_vector_store_file(vsf["vector_store_id"], file_id)

    def file_content(self, vector_store_id: str, file_id: str) -> dict:
        """The parsed text of a completed file, as ``{"object": ..., "data": [{"type": "text", "text"}]}``."""
        obj = self.retrieve_file(vector_store_id, file_id)
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

    def _remove_chunks(self, vector_store_id: str, file_id: str) -> None:
        gone = self.store.delete_chunks(vector_store_id, file_id)
        self.indexes.remove(vector_store_id, vector_ids(gone))

    # -- file batches ----------------------------------------------------------------
    def create_batch(self, vector_store_id: str, *, file_ids: Any = None, files: Any = None,
                     attributes: Any = None, chunking_strategy: Any = None) -> dict:
        if (file_ids is None) == (files is None):
            raise InvalidRequestError("Exactly one of 'file_ids' or 'files' is required.",
                                      param="file_ids" if file_ids is None else "files")
        entries: list[tuple[str, dict | None, dict]] = []
        if file_ids is not None:
            ids = _string_list(file_ids, "file_ids", MAX_BATCH_FILES)
            attrs = flt.attributes(attributes)
            strategy = _strategy(chunking_strategy)
            entries = [(f, attrs, strategy) for f in ids]
        else:
            if not isinstance(files, list) or len(files) > MAX_BATCH_FILES:
                raise InvalidRequestError(f"Invalid 'files': expected an array of at most {MAX_BATCH_FILES} "
                                          "objects.", param="files")
            for i, entry in enumerate(files):
                p = f"files[{i}]"
                if not isinstance(entry, dict) or not isinstance(entry.get("file_id"), str) or not entry["file_id"]:
                    raise InvalidRequestError(f"Missing required parameter: '{p}.file_id'.", param=f"{p}.file_id")
                v.refuse_unknown(entry, {"file_id", "attributes", "chunking_strategy"}, p)
                entries.append((entry["file_id"], flt.attributes(entry.get("attributes"), f"{p}.attributes"),
                                _strategy(entry.get("chunking_strategy"), f"{p}.chunking_strategy")))
        if not entries:
            given = "file_ids" if file_ids is not None else "files"
            raise InvalidRequestError(f"Invalid '{given}': expected at least one file.", param=given)
        self._check_files([f for f, _, _ in entries], "file_ids" if file_ids is not None else "files")
        batch = {"id": new_id("batch"), "object": "vector_store.files_batch", "created_at": self.now(),
                 "vector_store_id": vector_store_id, "status": "in_progress", "file_counts": _counts({})}
        with self.store.transaction():
            self._usable(vector_store_id)
            self.store.insert("file_batches", batch, vector_store_id=vector_store_id)
            self.store.add_batch_files(batch["id"], vector_store_id, [f for f, _, _ in entries])
            for file_id, attrs, strategy in entries:
                self._attach(vector_store_id, file_id, strategy=strategy, attributes=attrs)
        return self.render_batch(batch)

    def _batch(self, vector_store_id: str, batch_id: str) -> dict:
        self.get(vector_store_id)
        batch = self.store.get("file_batches", batch_id)
        if batch is None or batch["vector_store_id"] != vector_store_id:
            raise NotFoundError(f"No file batch found with id '{batch_id}'.")
        return batch

    def retrieve_batch(self, vector_store_id: str, batch_id: str) -> dict:
        return self.render_batch(self._batch(vector_store_id, batch_id))

    def cancel_batch(self, vector_store_id: str, batch_id: str) -> dict:
        with self.store.transaction():
            batch = self._batch(vector_store_id, batch_id)
            current = self.render_batch(batch)
            if current["status"] != "in_progress":
                raise InvalidStateError(f"Cannot cancel a file batch that is {current['status']}.",
                                        param="batch_id")
            query = ListQuery(limit=MAX_BATCH_FILES, order="asc")
            pending = self.store.list_vector_store_files(vector_store_id, query, status="in_progress",
                                                         batch_id=batch_id).data
            for obj in pending:
                obj["status"] = "cancelled"
                self.store.update_vector_store_file(obj)
            batch["status"] = "cancelled"
            self.store.update("file_batches", batch, vector_store_id=vector_store_id)
        return self.render_batch(batch)

    def list_batch_files(self, vector_store_id: str, batch_id: str, **page: Any) -> Page:
        self._batch(vector_store_id, batch_id)
        return self.list_files(vector_store_id, batch_id=batch_id, **page)

    def render_batch(self, batch: dict) -> dict:
        counts, _ = self.store.vector_store_file_counts(batch["vector_store_id"], batch_id=batch["id"])
        file_counts = _counts(counts)
        if batch["status"] == "cancelled":
            status = "cancelled"
        elif file_counts["in_progress"]:
            status = "in_progress"
        elif file_counts["total"] and file_counts["failed"] == file_counts["total"]:
            status = "failed"
        else:
            status = "completed"
        return {**batch, "file_counts": file_counts, "status": status}

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
               if (obj := self.store.get(self.table, i)) is not None and not self._expired(obj)]
        if ids:
            vs_id = ids[0]
        else:
            vs_id = self.create(expires_after=THREAD_STORE_EXPIRY)["id"]
            ids = [vs_id]
        fs["vector_store_ids"] = ids
        strategy = chunking_strategy(None)
        with self.store.transaction():
            for file_id in file_ids:
                self._attach(vs_id, file_id, strategy=strategy, attributes=None)
        self.touch(vs_id)
        return vs_id

    # -- ingestion (the worker's side) ---------------------------------------------
    def pending_files(self) -> list[tuple[str, str]]:
        """Files left ``in_progress`` (by a crash, or queued before a stop), oldest first."""
        return [(f["vector_store_id"], f["id"]) for f in self.store.find_vector_store_files(status="in_progress")]

    def check_indexes(self) -> None:
        """Load every store's index, rebuilding any that disagrees with the store; drop orphans."""
        known = {obj["id"] for obj in self.store.find(self.table)}
        self.indexes.remove_orphans(known)
        for vs_id in sorted(known):
            self.indexes.get(vs_id)

    def ingest(self, vector_store_id: str, file_id: str, should_stop=lambda: False) -> None:
        """Parse, chunk and embed one queued file, then complete (or fail) it.  ``should_stop``
        is polled between embedding batches: a stop leaves the file ``in_progress`` (it is
        queued again at the next start).

        Each attempt is counted in the store before the file is read, and uncounted when it
        ends in a clean stop: a count above ``max_ingest_attempts`` means ingesting this file
        killed the server that many times, and the file is failed instead of tried again."""
        vsf = self.store.get_vector_store_file(vector_store_id, file_id)
        if vsf is None or vsf["status"] != "in_progress":
            return  # deleted or cancelled while queued
        attempts = self.store.begin_ingest_attempt(vector_store_id, file_id)
        if attempts > self.max_ingest_attempts:
            log.error("file %s in %s stopped the server during each of %d ingestions: failed", file_id,
                      vector_store_id, attempts - 1)
            self._fail(vector_store_id, file_id, "server_error",
                       f"The server stopped while processing this file, {attempts - 1} times: it is not "
                       "processed again. Attach it again to retry.")
            return
        try:
            file = self.store.get("files", file_id)
            if file is None:
                raise DocumentError("invalid_file", "The file was deleted before it could be processed.")
            text = self.parse(self.files.path(file_id), file["filename"])
            static = vsf["chunking_strategy"]["static"]
            spans = self.embedder.token_spans(text, limit=self.max_file_tokens)
            if len(spans) > self.max_file_tokens:
                raise DocumentError("invalid_file", f"The file holds more than {self.max_file_tokens:,} tokens, "
                                                    "the most one file may hold for file search.")
            try:
                chunks = chunk_text(text, spans, max_tokens=static["max_chunk_size_tokens"],
                                    overlap=static["chunk_overlap_tokens"], piece_tokens=self.embedder.max_tokens,
                                    max_chunks=self.max_file_chunks)
            except TooManyChunks:
                raise DocumentError("invalid_file", f"The file would make more than {self.max_file_chunks:,} "
                                                    "chunks with this chunking strategy; use larger chunks or "
                                                    "split the file.") from None
            del spans, text
            if any(len(c.pieces) > PIECE_SLOTS for c in chunks):
                raise RuntimeError("a chunk needs more embedding pieces than its id space holds")
            pieces = [p for c in chunks for p in c.pieces]
            parts = []
            for i in range(0, len(pieces), EMBED_BATCH):
                if should_stop():
                    self.store.set_ingest_attempts(vector_store_id, file_id, attempts - 1)
                    return
                parts.append(self.embedder.embed(pieces[i:i + EMBED_BATCH]))
            vectors = np.concatenate(parts) if parts else np.zeros((0, self.embedder.dimension), np.float32)
        except DocumentError as err:
            self._fail(vector_store_id, file_id, err.code, err.message)
            return
        except Exception as err:
            log.exception("could not ingest %s into %s", file_id, vector_store_id)
            self._fail(vector_store_id, file_id, "server_error", f"The file could not be processed: "
                                                               f"{type(err).__name__}.")
            return
        rows, at, usage = [], 0, 0
        for c in chunks:
            blob = np.ascontiguousarray(vectors[at:at + len(c.pieces)], dtype=np.float32).tobytes()
            at += len(c.pieces)
            usage += len(c.text.encode("utf-8")) + len(blob)
            rows.append((f"{vector_store_id}:{file_id}:{c.position}", vector_store_id, file_id, c.position, c.text,
                         c.tokens, c.start_char, c.end_char, len(c.pieces), blob))
        with self.store.transaction():
            current = self.store.get_vector_store_file(vector_store_id, file_id)
            if current is None or current["status"] != "in_progress":
                return
            self.indexes.get(vector_store_id)  # loaded before the rows change: the new vectors go in once
            self._remove_chunks(vector_store_id, file_id)
            slots = self.store.insert_chunks(rows)
            current.update(status="completed", usage_bytes=usage, last_error=None)
            self.store.update_vector_store_file(current)
            self.indexes.add(vector_store_id, vector_ids(slots), vectors)
        self.touch(vector_store_id)

    def _fail(self, vector_store_id: str, file_id: str, code: str, message: str) -> None:
        with self.store.transaction():
            current = self.store.get_vector_store_file(vector_store_id, file_id)
            if current is None or current["status"] != "in_progress":
                return
            current.update(status="failed", last_error={"code": code, "message": message})
            self.store.update_vector_store_file(current)

    # -- search ----------------------------------------------------------------------
    def search(self, vector_store_ids: list[str] | str, query: Any, *, max_num_results: Any = 20,
               score_threshold: Any = 0.0, filters: Any = None, mode: str = "hybrid",
               touch: bool = True) -> list[SearchResult]:
        """The chunks of the stores' completed files most relevant to ``query`` (a string or
        a list of strings, each searched, a chunk keeping its best score), best first.

        ``mode``: ``hybrid`` (the default); for comparison, ``vector`` (cosine only), ``text``
        (BM25 only) or ``rrf`` (hybrid by reciprocal-rank fusion).
        """
        if isinstance(vector_store_ids, str):
            vector_store_ids = [vector_store_ids]
        queries = _queries(query)
        if isinstance(max_num_results, bool) or not isinstance(max_num_results, int) or not (
                1 <= max_num_results <= MAX_NUM_RESULTS):
            raise InvalidRequestError(f"Invalid 'max_num_results': expected an integer from 1 to {MAX_NUM_RESULTS}.",
                                      param="max_num_results")
        threshold = v.number(score_threshold if score_threshold is not None else 0.0,
                             "ranking_options.score_threshold", 0, 1)
        filters = flt.check(filters)
        if mode not in ("hybrid", "vector", "text", "rrf"):
            raise ValueError(f"unknown search mode {mode!r}")
        stores = list(dict.fromkeys(vector_store_ids))
        allowed: dict[str, dict[str, dict]] = {}
        for vs_id in stores:
            obj = self.get(vs_id)
            if self._expired(obj):
                raise InvalidStateError(f"Vector store {vs_id} has expired.", param="vector_store_id")
            files = self.store.find_vector_store_files(vector_store_id=vs_id, status="completed")
            allowed[vs_id] = {f["id"]: f for f in files if flt.matches(filters, f.get("attributes"))}
        k = max(CANDIDATES_MIN, 4 * max_num_results)
        best: dict[int, float] = {}
        for q in queries:
            for seq, score in self._score(q, stores, allowed, filters is not None, k, mode).items():
                if score > best.get(seq, -1.0):
                    best[seq] = score
        ranked = sorted(((s, seq) for seq, s in best.items() if s >= threshold), key=lambda x: (-x[0], x[1]))
        ranked = ranked[:max_num_results]
        rows = self.store.chunks_by_seq([seq for _, seq in ranked])
        results = []
        for score, seq in ranked:
            row = rows.get(seq)
            if row is None:
                continue
            vs_id, file_id = row["vector_store_id"], row["file_id"]
            vsf = allowed.get(vs_id, {}).get(file_id)
            if vsf is None:
                continue
            results.append(SearchResult(vector_store_id=vs_id, file_id=file_id,
                                        filename=self._filename(vs_id, file_id), score=round(float(score), 6),
                                        text=row["text"], chunk_id=row["id"], position=row["position"],
                                        attributes=vsf.get("attributes") or {}))
        if touch:
            for vs_id in stores:
                self.touch(vs_id)
        return results

    def _lexical(self, query: str, stores: list[str], allowed: dict[str, dict[str, dict]],
                 filtered: bool) -> list[tuple[int, float]]:
        """Every BM25 match of the query's rarest words (at most the postings budget), best first."""
        words = ranking.query_words(query)
        counts = self.store.fts_document_frequencies(words, cap=self.postings_budget + 1)
        match = ranking.match_expression(ranking.select_words(words, counts, self.postings_budget))
        if match is None:
            return []
        searched = [vs_id for vs_id in stores if allowed[vs_id]]
        if filtered:
            found: list[tuple[int, float]] = []
            for vs_id in searched:
                found += self.store.fts_search(match, [vs_id], file_ids=sorted(allowed[vs_id]))
            return sorted(found, key=lambda x: -x[1])
        return self.store.fts_search(match, searched)

    def _score(self, query: str, stores: list[str], allowed: dict[str, dict[str, dict]], filtered: bool,
               k: int, mode: str) -> dict[int, float]:
        found_by_vector: set[int] = set()
        bm25: dict[int, float] = {}
        lexical: dict[int, float] = {}
        # The query's embedding and the vector search run on another thread while SQLite
        # ranks the full-text matches here (both release the GIL): a search costs the
        # longer of the two, not their sum.
        vector_side = None
        if mode != "text":
            selections = {vs_id: (vector_ids(self.store.chunk_slots(vs_id, sorted(allowed[vs_id])))
                                  if filtered else None) for vs_id in stores if allowed[vs_id]}
            for vs_id in selections:  # loaded here: loading takes the store's lock, which a caller may hold
                self.indexes.get(vs_id)
            vector_side = _search_pool().submit(self._vector_search, query, selections, 2 * k)
        matches = self._lexical(query, stores, allowed, filtered) if mode != "vector" else []
        qvec = None
        if vector_side is not None:
            qvec, found_by_vector = vector_side.result()
        # The top k matches are candidates; the others give vector candidates their exact BM25.
        lexical.update(matches)
        bm25.update(matches[:k])
        # Score every candidate on both sides exactly: a chunk one retriever found gets the
        # other's real score, not a zero for having been outside its top k.
        candidates = sorted(found_by_vector | set(bm25))
        rows = self.store.chunks_by_seq(candidates, with_vectors=qvec is not None, with_text=False)
        candidates = [s for s in candidates if s in rows and rows[s]["file_id"] in allowed.get(
            rows[s]["vector_store_id"], {})]
        cosine: dict[int, float] = {}
        if qvec is not None:
            # Every candidate's cosine is its best piece's, from the float32 vectors the store
            # holds: the index (16-bit floats) only proposes candidates.
            if candidates:
                blobs = [rows[seq]["vectors"] for seq in candidates]
                sims = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(-1, qvec.shape[0]) @ qvec
                sizes = np.fromiter((len(b) // (4 * qvec.shape[0]) for b in blobs), dtype=np.int64,
                                    count=len(blobs))
                best_piece = np.maximum.reduceat(sims, np.cumsum(sizes) - sizes)
                cosine = dict(zip(candidates, best_piece.tolist()))
        for seq in candidates:
            if seq in lexical:
                bm25[seq] = lexical[seq]
        keep = set(candidates)
        cosine = {s: x for s, x in cosine.items() if s in keep}
        bm25 = {s: x for s, x in bm25.items() if s in keep}
        if mode == "vector":
            return {s: min(max(x, 0.0), 1.0) for s, x in cosine.items()}
        if mode == "text":
            return ranking.convex({}, bm25, weight=0.0)
        if mode == "rrf":
            return ranking.rrf(cosine, bm25)
        return ranking.convex(cosine, bm25, weight=self.vector_weight)

    def _vector_search(self, query: str, selections: dict[str, Any], k: int) -> tuple[Any, set[int]]:
        """The query's vector and the chunks of the stores' top ``k`` pieces (``selections``:
        store -> the vector ids allowed, or None for all)."""
        qvec = self.embedder.embed([query])[0]
        found = {vid // PIECE_SLOTS for vs_id, allowed_ids in selections.items()
                 for vid, _ in self.indexes.search(vs_id, qvec, k, allowed_ids=allowed_ids)}
        return qvec, found

    # -- helpers -----------------------------------------------------------------------
    def _filename(self, vector_store_id: str, file_id: str) -> str:
        file = self.store.get("files", file_id)
        if file is not None:
            return file["filename"]
        # The file was deleted from /files after ingestion: the name it had when attached.
        return self.store.vector_store_file_names(vector_store_id, [file_id]).get(file_id) or file_id

    def _usable(self, vector_store_id: str) -> dict:
        obj = self.get(vector_store_id)
        if self._expired(obj):
            raise InvalidStateError(f"Vector store {vector_store_id} has expired.", param="vector_store_id")
        return obj

    def _check_files(self, file_ids: list[str], param: str) -> None:
        for file_id in file_ids:
            if self.store.get("files", file_id) is None:
                raise NotFoundError(f"No file found with id '{file_id}'.", param=param)


_SEARCH_POOL: ThreadPoolExecutor | None = None
_SEARCH_POOL_LOCK = threading.Lock()


def _search_pool() -> ThreadPoolExecutor:
    """Threads for the vector side of searches (one a search running at the same time, up to 4)."""
    global _SEARCH_POOL
    with _SEARCH_POOL_LOCK:
        if _SEARCH_POOL is None:
            _SEARCH_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="vector-search")
        return _SEARCH_POOL


def _strategy(value: Any, param: str = "chunking_strategy") -> dict:
    return chunking_strategy(value, param)


def _counts(counts: dict[str, int]) -> dict[str, int]:
    out = {status: int(counts.get(status, 0)) for status in FILE_STATUSES}
    out["total"] = sum(out.values())
    return out


def _expires_at(obj: dict) -> int | None:
    policy = obj.get("expires_after")
    if not policy:
        return None
    return int(obj.get("last_active_at") or obj["created_at"]) + int(policy["days"]) * DAY_S


def _queries(query: Any) -> list[str]:
    if isinstance(query, str):
        items = [query]
    elif isinstance(query, list) and query and all(isinstance(q, str) for q in query):
        items = query
    else:
        raise InvalidRequestError("Invalid 'query': expected a string or a non-empty array of strings.",
                                  param="query")
    items = [q for q in items if q.strip()]
    if not items:
        raise InvalidRequestError("Invalid 'query': expected a non-empty string.", param="query")
    return list(dict.fromkeys(items))


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
