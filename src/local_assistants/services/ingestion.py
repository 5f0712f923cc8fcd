"""Ingestion: vector-store files turned into chunks, on one thread of its own.

Attaching a file only writes an ``in_progress`` row and queues it here, so the API never
waits on parsing or embedding.  The worker ingests files in order (parse, chunk, embed,
then one transaction that writes the chunks and completes the file), flushes changed
indexes to disk when its queue runs dry, and at start checks every store's index against
the store (rebuilding what disagrees); files a crash left ``in_progress`` are queued again.

``Ingester`` does the work on one file; ``IngestionWorker`` is the thread that feeds it.
"""

from __future__ import annotations

import logging
import queue
import threading

import numpy as np

from ..core.chunking import TooManyChunks, chunk_text
from ..ports import DocumentError, DocumentParser, Embedder, FileSearchStore
from .files import FilesService
from .indexes import PIECE_SLOTS, IndexCache, vector_ids
from .vector_store_files import VectorStoreFilesService
from .vector_stores import VectorStoreRecords

log = logging.getLogger(__name__)

EMBED_BATCH = 64
"""Pieces embedded between two checks for a stop request."""
MAX_FILE_TOKENS = 5_000_000
"""Word pieces one file may hold (OpenAI's limit); settings ``max_file_tokens``."""
MAX_FILE_CHUNKS = 20_000
"""Chunks one file may make (5M tokens in auto's 800-token chunks make 12,500)."""
MAX_INGEST_ATTEMPTS = 2
"""Ingestions of one file that may end with the server stopped before it is failed."""


class Ingester:
    """Parses, chunks and embeds queued vector-store files, and completes or fails them."""

    def __init__(self, store: FileSearchStore, files: FilesService, parse: DocumentParser, embedder: Embedder,
                 indexes: IndexCache, vector_stores: VectorStoreRecords, vector_store_files: VectorStoreFilesService, *, max_file_tokens: int = MAX_FILE_TOKENS,
                 max_file_chunks: int = MAX_FILE_CHUNKS, max_ingest_attempts: int = MAX_INGEST_ATTEMPTS):
        self.store = store
        self.files = files
        self.parse = parse
        self.embedder = embedder
        self.indexes = indexes
        self.vector_stores = vector_stores
        self.vector_store_files = vector_store_files
        self.max_file_tokens = max_file_tokens
        self.max_file_chunks = max_file_chunks
        self.max_ingest_attempts = max_ingest_attempts

    def pending_files(self) -> list[tuple[str, str]]:
        """Files left ``in_progress`` (by a crash, or queued before a stop), oldest first."""
        return [(f["vector_store_id"], f["id"]) for f in self.store.find_vector_store_files(status="in_progress")]

    def check_indexes(self) -> None:
        """Load every store's index, rebuilding any that disagrees with the store; drop orphans."""
        known = {obj["id"] for obj in self.store.find("vector_stores")}
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
            self.vector_store_files.remove_chunks(vector_store_id, file_id)
            slots = self.store.insert_chunks(rows)
            current.update(status="completed", usage_bytes=usage, last_error=None)
            self.store.update_vector_store_file(current)
            self.indexes.add(vector_store_id, vector_ids(slots), vectors)
        self.vector_stores.touch(vector_store_id)

    def _fail(self, vector_store_id: str, file_id: str, code: str, message: str) -> None:
        with self.store.transaction():
            current = self.store.get_vector_store_file(vector_store_id, file_id)
            if current is None or current["status"] != "in_progress":
                return
            current.update(status="failed", last_error={"code": code, "message": message})
            self.store.update_vector_store_file(current)


class IngestionQueue:
    """Files waiting to be ingested: attaching a file puts it here (``put``), the
    ingestion worker takes it; ``wait_idle`` blocks until every file put is done."""

    def __init__(self):
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0
        self._count_lock = threading.Lock()

    def put(self, vector_store_id: str, file_id: str) -> None:
        with self._count_lock:
            self._pending += 1
            self._idle.clear()
        self._queue.put((vector_store_id, file_id))

    def wake(self) -> None:
        """Wake the worker waiting in ``get`` (it gets None)."""
        self._queue.put(None)

    def get(self, timeout: float) -> tuple[str, str] | None:
        """The next file, None when woken; ``queue.Empty`` after ``timeout`` seconds."""
        return self._queue.get(timeout=timeout)

    def done(self) -> bool:
        """One file taken is done; True when it was the last one pending."""
        with self._count_lock:
            self._pending -= 1
            return self._pending == 0

    def settle(self) -> None:
        """Idle again, unless files were put meanwhile."""
        with self._count_lock:
            if self._pending == 0:
                self._idle.set()

    def wait_idle(self, timeout: float | None = None) -> bool:
        return self._idle.wait(timeout)


class IngestionWorker:
    def __init__(self, ingester: Ingester, files: IngestionQueue, *, tick_s: float = 1.0):
        self.ingester = ingester
        self.files = files
        self.tick_s = tick_s
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def enqueue(self, vector_store_id: str, file_id: str) -> None:
        self.files.put(vector_store_id, file_id)

    def start(self) -> None:
        if self._thread is not None:
            return
        for vs_id, file_id in self.ingester.pending_files():
            self.enqueue(vs_id, file_id)
        self._thread = threading.Thread(target=self._loop, name="local-assistants-ingestion", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stopping.set()
        self.files.wake()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        try:
            self.ingester.indexes.flush()
        except Exception:
            log.exception("could not save the vector indexes")

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued file is done (for tests and the benchmark)."""
        return self.files.wait_idle(timeout)

    def _loop(self) -> None:
        try:
            self.ingester.check_indexes()
        except Exception:
            log.exception("checking the vector indexes failed")
        while not self._stopping.is_set():
            try:
                item = self.files.get(self.tick_s)
            except queue.Empty:
                self._flush()  # deletions change indexes too
                continue
            if item is None:
                break
            try:
                self.ingester.ingest(*item, should_stop=self._stopping.is_set)
            except Exception:  # never let the worker die: the next file must still be ingested
                log.exception("ingestion of %s failed", item)
            finally:
                done = self.files.done()
            if done:
                self._flush()
                self.files.settle()

    def _flush(self) -> None:
        try:
            self.ingester.indexes.flush()
        except Exception:
            log.exception("could not save the vector indexes")
