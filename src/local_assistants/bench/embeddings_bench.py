"""``POST /v1/embeddings`` throughput: embeddings per second for 1,000 chunks through the
embeddings service (checks, token counts, batching, base64 encoding: all of a request but
HTTP) against sentence-transformers' own ``encode`` on the same model folder, in the same
process, so on the same torch threads (goal: ratio >= 0.9).

The chunks are the GSM8K test solutions (the retrieval benchmark's data), 50 to 200 word
pieces each (the few longer than the model's window left out); ``python -m local_assistants.bench --only embeddings``.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

from .report import median, table

CHUNKS = 1_000
ROUNDS = 3
GOAL = 0.9


def chunks(n: int = CHUNKS, fits: Callable[[str], bool] = lambda text: True) -> list[str]:
    """``n`` texts to embed: the GSM8K solutions that ``fits`` (the model's window), repeated
    if there are fewer."""
    from .retrieval_bench import load_gsm8k

    answers = [item["answer"] for item in load_gsm8k() if fits(item["answer"])]
    return [answers[i % len(answers)] for i in range(n)]


def rates(texts: Sequence[str], through_service: Callable[[list[str]], object],
          direct: Callable[[list[str]], object], rounds: int = ROUNDS) -> tuple[float, float]:
    """Median embeddings/s of each way, rounds taken in turn (so a slow spell of the machine
    falls on both), after one warm-up call each."""
    texts = list(texts)
    through_service(texts[:32])
    direct(texts[:32])
    service_s, direct_s = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        through_service(texts)
        service_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        direct(texts)
        direct_s.append(time.perf_counter() - start)
    return len(texts) / median(service_s), len(texts) / median(direct_s)


def report(n: int, service_rate: float, direct_rate: float, threads: int | None) -> str:
    ratio = service_rate / direct_rate
    verdict = "met" if ratio >= GOAL else "NOT met"
    return table(f"embeddings: {n} GSM8K chunks, all-MiniLM-L6-v2 on CPU, torch threads {threads} "
                 f"(goal: service >= {GOAL}x direct; {verdict})",
                 ["way", "embeddings/s", "ratio"],
                 [["EmbeddingsService.create (base64)", service_rate, ratio],
                  ["SentenceTransformer.encode (direct)", direct_rate, 1.0]])


def main(n: int = CHUNKS, rounds: int = ROUNDS) -> list[str]:
    import torch
    from sentence_transformers import SentenceTransformer

    from ..adapters.embedder import SentenceTransformerEmbedder
    from ..services.embeddings import EmbeddingsService

    embedder = SentenceTransformerEmbedder()
    service = EmbeddingsService(embedder)
    embedder.model()  # first: it sets the process's torch threads, which the direct model then shares
    direct_model = SentenceTransformer(str(embedder.model_path), device="cpu", local_files_only=True)
    texts = chunks(n, lambda text: embedder.count_tokens(text) <= embedder.max_tokens)
    service_rate, direct_rate = rates(
        texts,
        lambda batch: service.create(input=batch, model=embedder.name, encoding_format="base64"),
        lambda batch: direct_model.encode(batch, normalize_embeddings=True, convert_to_numpy=True,
                                          show_progress_bar=False),
        rounds)
    return [report(n, service_rate, direct_rate, torch.get_num_threads())]
