"""The vector indexes of the vector stores: one per store, a cache of what SQLite holds.

Every chunk row holds its vectors; vector ids are ``chunk seq * PIECE_SLOTS + piece``,
so a hit maps back to its chunk with one division.  An index is loaded from its file on
first use and checked against the store: if the file is missing or unreadable, or its
ids are not exactly the store's, it is rebuilt from the chunk rows and saved.  Changes go
to the index in memory inside the store transaction that makes them (so it never lags a
commit) and reach the file on ``flush`` (the ingestion worker flushes when idle and at
stop); a crash in between only costs a rebuild at the next start.

Lock order: the store's lock, then this cache's; a search holds only this cache's lock
and never calls the store meanwhile, so neither side waits on the other in a cycle.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

import numpy as np

from ..ports import ChunkStore, VectorIndex

log = logging.getLogger(__name__)

PIECE_SLOTS = 64
"""Vector ids per chunk: a chunk of 4096 word pieces needs 19 pieces of 254 (with overlap)."""


def vector_ids(slots: list[tuple[int, int]]) -> np.ndarray:
    """The vector ids of chunks given as ``(seq, n_vectors)``."""
    if not slots:
        return np.zeros(0, dtype=np.int64)
    seqs = np.fromiter((s for s, _ in slots), dtype=np.int64, count=len(slots))
    counts = np.fromiter((n for _, n in slots), dtype=np.int64, count=len(slots))
    base = np.repeat(seqs * PIECE_SLOTS, counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return base + (np.arange(int(counts.sum()), dtype=np.int64) - starts)


class IndexCache:
    """``open_index(path)`` returns the saved index or None; ``new_index(path)`` an empty one."""

    def __init__(self, store: ChunkStore, root: Path, dimension: int,
                 open_index: Callable[[Path], VectorIndex | None], new_index: Callable[[Path], VectorIndex]):
        self.store = store
        self.root = Path(root)
        self.dimension = dimension
        self._open = open_index
        self._new = new_index
        self._indexes: dict[str, VectorIndex] = {}
        self._dirty: set[str] = set()
        self._lock = threading.RLock()
        self.rebuilds = 0

    def path(self, vector_store_id: str) -> Path:
        return self.root / f"{vector_store_id}.faiss"

    def get(self, vector_store_id: str) -> VectorIndex:
        index = self._indexes.get(vector_store_id)
        if index is not None:
            return index
        with self.store.locked(), self._lock:
            index = self._indexes.get(vector_store_id)
            if index is None:
                index = self._load(vector_store_id)
                self._indexes[vector_store_id] = index
            return index

    def _load(self, vector_store_id: str) -> VectorIndex:
        expected = vector_ids(self.store.chunk_slots(vector_store_id))
        index = self._open(self.path(vector_store_id))
        if index is not None and len(index) == len(expected) and np.array_equal(
                np.sort(index.ids()), np.sort(expected)):
            return index
        if index is None and not len(expected):
            return self._new(self.path(vector_store_id))  # a new store: nothing to rebuild
        log.info("rebuilding the vector index of %s from the store (%s)", vector_store_id,
                 "no index file" if index is None else f"{len(index)} vectors, store has {len(expected)}")
        self.rebuilds += 1
        index = self._new(self.path(vector_store_id))
        for rows in self.store.iter_chunk_vectors(vector_store_id):
            ids = vector_ids([(seq, n) for seq, n, _ in rows])
            vectors = np.frombuffer(b"".join(blob for _, _, blob in rows), dtype=np.float32)
            index.add(ids, vectors.reshape(len(ids), self.dimension))
        if len(expected):
            index.save()
        else:
            self.path(vector_store_id).unlink(missing_ok=True)
        return index

    def add(self, vector_store_id: str, ids, vectors) -> None:
        """Add vectors of rows just written; ``get`` the index before writing them, or a
        first load would read them from the store and they would be added twice."""
        index = self.get(vector_store_id)
        with self._lock:
            index.add(ids, vectors)
            self._dirty.add(vector_store_id)

    def remove(self, vector_store_id: str, ids) -> None:
        if not len(ids):
            return
        index = self.get(vector_store_id)
        with self._lock:
            index.remove(ids)
            self._dirty.add(vector_store_id)

    def search(self, vector_store_id: str, query, k: int, *, allowed_ids=None) -> list[tuple[int, float]]:
        index = self.get(vector_store_id)
        with self._lock:
            return index.search(query, k, allowed_ids=allowed_ids)

    def drop(self, vector_store_id: str) -> None:
        with self._lock:
            self._indexes.pop(vector_store_id, None)
            self._dirty.discard(vector_store_id)
            self.path(vector_store_id).unlink(missing_ok=True)

    def flush(self) -> int:
        """Save the indexes changed since the last flush; return how many."""
        with self._lock:
            dirty = sorted(self._dirty)
            for vs_id in dirty:
                index = self._indexes.get(vs_id)
                if index is None:
                    continue
                if len(index):
                    index.save()
                else:
                    self.path(vs_id).unlink(missing_ok=True)
            self._dirty.clear()
            return len(dirty)

    def forget(self) -> None:
        """Drop every index from memory (they load again, checked, on next use)."""
        with self._lock:
            self._indexes.clear()
            self._dirty.clear()

    def remove_orphans(self, known: set[str]) -> int:
        """Delete index files of stores that no longer exist (and unfinished temporaries)."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for entry in self.root.iterdir():
            if not entry.is_file():
                continue
            if entry.name.startswith(".") or (entry.suffix == ".faiss" and entry.stem not in known):
                entry.unlink(missing_ok=True)
                removed += 1
        return removed
