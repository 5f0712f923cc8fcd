"""Hybrid search over vector stores: what ``POST /vector_stores/{id}/search`` and the
run engine's ``file_search`` tool call.

    search(vector_store_ids, query, *, max_num_results=20, score_threshold=0.0,
           filters=None, mode="hybrid", touch=True) -> list[SearchResult]

best first, each with ``file_id``, ``filename``, ``score`` (0..1), ``text`` (the
chunk), ``chunk_id``, ``position``, ``vector_store_id`` and the file's ``attributes``
(``SearchResult.to_api()`` gives the HTTP shape).  Ranking: see ``core/ranking.py``.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..core import filters as flt
from ..core import ranking
from ..core import validation as v
from ..errors import InvalidRequestError
from ..ports import Embedder, FileSearchStore, SearchResult
from .indexes import PIECE_SLOTS, IndexCache, vector_ids
from .vector_stores import VectorStoreRecords

MAX_NUM_RESULTS = 50
CANDIDATES_MIN = 40
"""Each retriever proposes at least this many chunks (4x max_num_results when more) for fusion."""


class SearchService:
    def __init__(self, store: FileSearchStore, vector_stores: VectorStoreRecords, embedder: Embedder,
                 indexes: IndexCache):
        self.store = store
        self.vector_stores = vector_stores
        self.embedder = embedder
        self.indexes = indexes
        self.vector_weight = ranking.VECTOR_WEIGHT
        self.postings_budget = ranking.POSTINGS_BUDGET

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
            self.vector_stores.usable(vs_id)
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
                self.vector_stores.touch(vs_id)
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

    def _filename(self, vector_store_id: str, file_id: str) -> str:
        file = self.store.get("files", file_id)
        if file is not None:
            return file["filename"]
        # The file was deleted from /files after ingestion: the name it had when attached.
        return self.store.vector_store_file_names(vector_store_id, [file_id]).get(file_id) or file_id


_SEARCH_POOL: ThreadPoolExecutor | None = None
_SEARCH_POOL_LOCK = threading.Lock()


def _search_pool() -> ThreadPoolExecutor:
    """Threads for the vector side of searches (one a search running at the same time, up to 4)."""
    global _SEARCH_POOL
    with _SEARCH_POOL_LOCK:
        if _SEARCH_POOL is None:
            _SEARCH_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="vector-search")
        return _SEARCH_POOL


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
