"""Hybrid ranking of file-search candidates: vector similarity fused with BM25.

Pure.  The choice (measured in the retrieval benchmark, GSM8K solutions as documents
and their questions as queries): a convex combination of normalised scores,

    score = VECTOR_WEIGHT * max(cosine, 0) + (1 - VECTOR_WEIGHT) * bm25 / max_bm25

where ``cosine`` is the chunk's best piece against the query (normalised vectors, so
already in 0..1 for anything related) and ``bm25 / max_bm25`` is the chunk's BM25 over
the best BM25 among the query's candidates (0 when it shares no term).  Both parts are
computed exactly for every candidate of either list, so a chunk found by one retriever
is not penalised for having been outside the other's top k.  Scores stay in 0..1 and
keep the meaning of a similarity, which ``score_threshold`` needs; reciprocal-rank
fusion (``rrf``, kept for comparison) ranks as well here but gives rank-only scores a
threshold cannot use.  Convex combination over RRF follows Bruch et al. (2023), "An
Analysis of Fusion Functions for Hybrid Retrieval".
"""

from __future__ import annotations

import re

VECTOR_WEIGHT = 0.7
RRF_K = 60

# Words too common to help BM25 (they match nearly every chunk and slow FTS5 down).
STOPWORDS = frozenset("""
a an and are as at be been but by can could did do does for from had has have he her him his how i if in
into is it its me my of on or our she so than that the their them then there these they this those to
us was we were what when where which who whom why will with would you your s t
""".split())
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_TERMS = 64


def query_words(text: str) -> list[str]:
    """The distinct words of free text, lower case, stopwords dropped unless nothing else is left."""
    words = [w.lower() for w in _WORD.findall(text)]
    kept = [w for w in words if w not in STOPWORDS] or words
    return list(dict.fromkeys(kept))[:MAX_QUERY_TERMS]


def match_expression(words: list[str]) -> str | None:
    """An FTS5 MATCH expression: the words, quoted (so FTS5 operators stay words), joined by OR."""
    return " OR ".join(f'"{w}"' for w in words) if words else None


def fts_query(text: str) -> str | None:
    return match_expression(query_words(text))


POSTINGS_BUDGET = 3_000
"""At most this many (chunk, word) matches are scored by BM25 for one query."""


def select_words(words: list[str], document_frequency: dict[str, int], budget: int = POSTINGS_BUDGET) -> list[str]:
    """The words worth a BM25 search: rarest first, while their matches fit the budget.

    BM25 cost grows with every chunk a word matches, while a word in a large share of the
    chunks adds almost nothing to the ranking (its IDF is near zero); words no chunk holds
    match nothing.  The rarest present word is always kept."""
    present = sorted((document_frequency.get(w, 0), i, w) for i, w in enumerate(words)
                     if document_frequency.get(w, 0) > 0)
    chosen, total = [], 0
    for df, _, w in present:
        if chosen and total + df > budget:
            break
        chosen.append(w)
        total += df
    return chosen


def convex(cosine: dict[int, float], bm25: dict[int, float], weight: float = VECTOR_WEIGHT) -> dict[int, float]:
    """Fused scores (0..1) of every candidate in either map (a missing entry counts as 0)."""
    top = max(bm25.values(), default=0.0)
    out = {}
    for key in cosine.keys() | bm25.keys():
        vec = min(max(cosine.get(key, 0.0), 0.0), 1.0)
        lex = bm25.get(key, 0.0) / top if top > 0 else 0.0
        out[key] = weight * vec + (1.0 - weight) * max(lex, 0.0)
    return out


def rrf(cosine: dict[int, float], bm25: dict[int, float], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal-rank fusion, scaled so that first place in both lists scores 1."""
    out: dict[int, float] = {}
    for scores in (cosine, bm25):
        ranked = sorted((s, -key) for key, s in scores.items() if s > 0)
        for rank, (_, neg_key) in enumerate(reversed(ranked), start=1):
            out[-neg_key] = out.get(-neg_key, 0.0) + 1.0 / (k + rank)
    return {key: s / (2.0 / (k + 1)) for key, s in out.items()}
