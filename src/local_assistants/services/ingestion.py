"""The ingestion worker: one thread of its own turning vector-store files into chunks.

Attaching a file only writes an ``in_progress`` row and queues it here, so the API never
waits on parsing or embedding.  The worker ingests files in order (parse, chunk, embed,
then one transaction that writes the chunks and completes the file), flushes changed
indexes to disk when its queue runs dry, and at start checks every store's index against
the store (rebuilding what disagrees); files a crash left ``in_progress`` are queued again.
"""

from __future__ import annotations

import logging
import queue
import threading

log = logging.getLogger(__name__)


class IngestionWorker:
    def __init__(self, vector_stores, *, tick_s: float = 1.0):
        self.vector_stores = vector_stores
        self.tick_s = tick_s
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0
        self._count_lock = threading.Lock()

    def enqueue(self, vector_store_id: str, file_id: str) -> None:
        with self._count_lock:
            self._pending += 1
            self._idle.clear()
        self._queue.put((vector_store_id, file_id))

    def start(self) -> None:
        if self._thread is not None:
            return
        for vs_id, file_id in self.vector_stores.pending_files():
            self.enqueue(vs_id, file_id)
        self._thread = threading.Thread(target=self._loop, name="local-assistants-ingestion", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stopping.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        try:
            self.vector_stores.indexes.flush()
        except Exception:
            log.exception("could not save the vector indexes")

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued file is done (for tests and the benchmark)."""
        return self._idle.wait(timeout)

    def _loop(self) -> None:
        try:
            self.vector_stores.check_indexes()
        except Exception:
            log.exception("checking the vector indexes failed")
        while not self._stopping.is_set():
            try:
                item = self._queue.get(timeout=self.tick_s)
            except queue.Empty:
                self._flush()  # deletions change indexes too
                continue
            if item is None:
                break
            try:
                self.vector_stores.ingest(*item, should_stop=self._stopping.is_set)
            except Exception:  # never let the worker die: the next file must still be ingested
                log.exception("ingestion of %s failed", item)
            finally:
                with self._count_lock:
                    self._pending -= 1
                    done = self._pending == 0
            if done:
                self._flush()
                with self._count_lock:
                    if self._pending == 0:
                        self._idle.set()

    def _flush(self) -> None:
        try:
            self.vector_stores.indexes.flush()
        except Exception:
            log.exception("could not save the vector indexes")
