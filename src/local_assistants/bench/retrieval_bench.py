"""File-search benchmarks, on the real pipeline (parsers, MiniLM embeddings, FAISS,
SQLite FTS5) of a ``Runtime`` over a temporary data folder.

1. Retrieval quality on real data: the 1,319 GSM8K test solutions are attached as one
   file each (through a file batch and the ingestion worker), then each question is a
   query whose right answer is its own solution: hit@1, hit@5 and MRR for vector-only,
   BM25-only and hybrid ranking (and reciprocal-rank fusion, for comparison).
2. Ingest throughput: chunks/s for those small files, and for one long document (every
   solution in one file, chunked 800/400, four embedding pieces a chunk).
3. Query latency at 10k and 100k chunks (goal: p50 <= 10 ms at 100k): chunk texts are
   synthesised from GSM8K sentences, but their vectors are random unit vectors, since
   embedding 100k chunks on 2 cores takes too long for a benchmark; queries are real
   GSM8K questions embedded by the model.  Whole ``search()`` calls and their parts.
4. recall@10 of the FAISS index (16-bit floats) against brute-force exact search.
"""

from __future__ import annotations

import io
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from ..config import Settings
from ..core import ranking
from ..runtime import Runtime
from ..services.indexes import vector_ids
from .report import median, percentile, table

HERE = Path(__file__).resolve().parent
# Shared with the tutor benchmark, which keeps GSM8K (MIT licence, LICENSE beside it) in its data folder.
GSM8K_CANDIDATES = (HERE / "tutor" / "data" / "gsm8k" / "test.jsonl", HERE / "data" / "gsm8k" / "test.jsonl")
SCALES = (10_000, 100_000)
LATENCY_QUERIES = 200


def gsm8k_path() -> Path:
    for path in GSM8K_CANDIDATES:
        if path.is_file():
            return path
    raise FileNotFoundError("GSM8K test.jsonl not found beside the benchmarks")


def load_gsm8k() -> list[dict]:
    with open(gsm8k_path(), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _ranks(rt: Runtime, vs_id: str, questions: list[str], expected: list[str], mode: str) -> list[int | None]:
    ranks = []
    for q, want in zip(questions, expected):
        results = rt.search.search([vs_id], q, max_num_results=10, mode=mode, touch=False)
        ids = [r.file_id for r in results]
        ranks.append(ids.index(want) + 1 if want in ids else None)
    return ranks


def _quality_row(name: str, ranks: list[int | None]) -> list:
    n = len(ranks)
    hit1 = sum(1 for r in ranks if r == 1) / n
    hit5 = sum(1 for r in ranks if r is not None and r <= 5) / n
    mrr = sum(1.0 / r for r in ranks if r is not None) / n
    return [name, n, hit1, hit5, mrr]


def quality(rt: Runtime, items: list[dict]) -> tuple[list[list], list[list]]:
    """Attach every solution as a file, then query with every question."""
    files = [rt.files.create(file=io.BytesIO(item["answer"].encode()), filename=f"gsm8k-{i:04d}.txt",
                             purpose="assistants") for i, item in enumerate(items)]
    vs = rt.vector_stores.create(name="gsm8k solutions")
    t0 = time.perf_counter()
    rt.file_batches.create(vs["id"], file_ids=[f["id"] for f in files])
    rt.ingestion.wait_idle()
    ingest_s = time.perf_counter() - t0
    chunks = len(rt.store.chunk_slots(vs["id"]))
    throughput = [["1,319 solutions, one file each", len(files), chunks, ingest_s, chunks / ingest_s]]
    questions = [item["question"] for item in items]
    expected = [f["id"] for f in files]
    rows = [_quality_row(mode_name, _ranks(rt, vs["id"], questions, expected, mode))
            for mode_name, mode in (("vector only (MiniLM cosine)", "vector"), ("FTS only (BM25)", "text"),
                                    (f"hybrid (convex, vector weight {ranking.VECTOR_WEIGHT})", "hybrid"))]
    rows.append(_quality_row(f"hybrid (RRF, k={ranking.RRF_K}), for comparison",
                             _ranks(rt, vs["id"], questions, expected, "rrf")))
    return rows, throughput


def long_document(rt: Runtime, items: list[dict]) -> list:
    text = "\n\n".join(f"Problem {i}. {item['question']}\n{item['answer']}" for i, item in enumerate(items))
    f = rt.files.create(file=io.BytesIO(text.encode()), filename="gsm8k-all.md", purpose="assistants")
    vs = rt.vector_stores.create(name="one long document")
    t0 = time.perf_counter()
    rt.vector_store_files.create(vs["id"], file_id=f["id"])
    rt.ingestion.wait_idle()
    seconds = time.perf_counter() - t0
    chunks = len(rt.store.chunk_slots(vs["id"]))
    vectors = sum(n for _, n in rt.store.chunk_slots(vs["id"]))
    return [f"one {len(text) // 1000} kB document (auto 800/400, {vectors / chunks:.1f} pieces a chunk)", 1,
            chunks, seconds, chunks / seconds]


def _synthetic_chunks(rt: Runtime, vs_id: str, file_id: str, n: int, sentences: list[str], rng: random.Random,
                      np_rng: np.random.Generator, dim: int, start: int) -> None:
    batch = 5000
    rt.vector_indexes.get(vs_id)  # loaded before rows are written, so each vector is added once
    for lo in range(start, n, batch):
        rows = []
        hi = min(n, lo + batch)
        vecs = np_rng.standard_normal((hi - lo, dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        for i in range(lo, hi):
            text = " ".join(rng.choice(sentences) for _ in range(6))
            rows.append((f"{vs_id}:{file_id}:{i}", vs_id, file_id, i, text, len(text.split()), 0, len(text), 1,
                         vecs[i - lo].tobytes()))
        slots = rt.store.insert_chunks(rows)
        rt.vector_indexes.add(vs_id, vector_ids(slots), vecs)


def latency(rt: Runtime, items: list[dict]) -> tuple[list[list], list[list]]:
    """Search latency over synthetic chunks (texts from GSM8K sentences, random vectors)."""
    rng = random.Random(0)
    np_rng = np.random.default_rng(0)
    dim = rt.embedder.dimension
    sentences = [s.strip() + "." for item in items for s in item["answer"].split("\n")[0].split(".") if s.strip()]
    questions = [item["question"] for item in items]
    rng.shuffle(questions)
    questions = questions[:LATENCY_QUERIES]
    qvecs = rt.embedder.embed(questions)
    embed_ms = []
    for q in questions[:50]:
        t0 = time.perf_counter()
        rt.embedder.embed([q])
        embed_ms.append((time.perf_counter() - t0) * 1000)
    f = rt.files.create(file=io.BytesIO(b"synthetic"), filename="synthetic.txt", purpose="assistants")
    vs = rt.vector_stores.create(name="synthetic")
    vs_id = vs["id"]
    # A completed file row, so that search sees the synthetic chunks as a file's.
    rt.store.insert_vector_store_file({"id": f["id"], "object": "vector_store.file", "usage_bytes": 0,
                                       "created_at": 0, "vector_store_id": vs_id, "status": "completed",
                                       "last_error": None, "chunking_strategy": None, "attributes": {}},
                                      filename="synthetic.txt")
    rows, recall_rows = [], []
    have = 0
    for n in SCALES:
        _synthetic_chunks(rt, vs_id, f["id"], n, sentences, rng, np_rng, dim, have)
        have = n
        index = rt.vector_indexes.get(vs_id)
        full, faiss_ms, fts_ms = [], [], []
        for q in questions[:20]:  # warm-up
            rt.search.search([vs_id], q, touch=False)
        for i, q in enumerate(questions):
            t0 = time.perf_counter()
            rt.search.search([vs_id], q, touch=False)
            full.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            index.search(qvecs[i], 80)
            faiss_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            words = ranking.query_words(q)
            counts = rt.store.fts_document_frequencies(words, cap=ranking.POSTINGS_BUDGET + 1)
            match = ranking.match_expression(ranking.select_words(words, counts))
            if match:
                rt.store.fts_search(match, [vs_id], limit=80)
            fts_ms.append((time.perf_counter() - t0) * 1000)
        known = _KnownVectors(rt.embedder, dict(zip(questions, qvecs)))
        rt.search.embedder = known
        try:
            retrieval_ms = []
            for q in questions:
                t0 = time.perf_counter()
                rt.search.search([vs_id], q, touch=False)
                retrieval_ms.append((time.perf_counter() - t0) * 1000)
        finally:
            rt.search.embedder = known.embedder
        rows.append([n, "search() hybrid, default 20 results, incl. query embedding", median(full),
                     percentile(full, 95)])
        rows.append([n, "search() hybrid, query vector already computed", median(retrieval_ms),
                     percentile(retrieval_ms, 95)])
        rows.append([n, "  query embedding (MiniLM, 1 query)", median(embed_ms), percentile(embed_ms, 95)])
        rows.append([n, "  FAISS top 80 (fp16 flat, 1 thread)", median(faiss_ms), percentile(faiss_ms, 95)])
        rows.append([n, f"  FTS5 BM25 top 80 (rarest words, <= {ranking.POSTINGS_BUDGET} matches)", median(fts_ms),
                     percentile(fts_ms, 95)])
        recall_rows.append([n, len(questions), _recall_at_10(rt, vs_id, index, qvecs)])
    return rows, recall_rows


class _KnownVectors:
    """The embedder, except that the benchmark's queries come from a table: search() without
    the query's embedding (which is measured on its own)."""

    def __init__(self, embedder, vectors: dict[str, np.ndarray]):
        self.embedder = embedder
        self.vectors = vectors
        self.dimension = embedder.dimension

    def embed(self, texts):
        return np.stack([self.vectors[t] for t in texts])


def _recall_at_10(rt: Runtime, vs_id: str, index, qvecs: np.ndarray) -> float:
    """FAISS top 10 against brute force over every vector in the store."""
    ids, blocks = [], []
    for rows in rt.store.iter_chunk_vectors(vs_id):
        ids.append(vector_ids([(s, n) for s, n, _ in rows]))
        blocks.append(np.frombuffer(b"".join(b for _, _, b in rows), dtype=np.float32))
    all_ids = np.concatenate(ids)
    matrix = np.concatenate(blocks).reshape(len(all_ids), -1)
    hits = 0
    for q in qvecs:
        exact = set(all_ids[np.argsort(-(matrix @ q), kind="stable")[:10]].tolist())
        got = {i for i, _ in index.search(q, 10)}
        hits += len(exact & got)
    return hits / (10 * len(qvecs))


def main(work_dir: Path | None = None) -> list[str]:
    items = load_gsm8k()
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        rt = Runtime(Settings(data_dir=Path(tmp) / "data", models_dir=Path(tmp) / "models",
                              sandbox_dir=Path(tmp) / "sandbox"), start_worker=False)
        try:
            t0 = time.perf_counter()
            rt.embedder.embed(["warm up"])
            load_s = time.perf_counter() - t0
            quality_rows, throughput = quality(rt, items)
            throughput.append(long_document(rt, items))
            latency_rows, recall_rows = latency(rt, items)
        finally:
            rt.close()
    return [
        table("file search quality: GSM8K test, 1,319 solutions as files, their questions as queries",
              ["ranking", "queries", "hit@1", "hit@5", "MRR@10"], quality_rows),
        table(f"ingestion through the worker (parse, chunk, embed on CPU, SQLite + FAISS); model load {load_s:.1f} s",
              ["input", "files", "chunks", "seconds", "chunks/s"], throughput),
        table(f"query latency, ms, {LATENCY_QUERIES} GSM8K questions (goal p50 <= 10 ms at 100k): synthetic "
              "chunks (GSM8K sentences) with RANDOM unit vectors, not embedded",
              ["chunks", "what", "p50", "p95"], latency_rows),
        table("recall@10 of the vector index (fp16 scalar quantizer) against brute-force float32 search",
              ["vectors", "queries", "recall@10"], recall_rows),
    ]

