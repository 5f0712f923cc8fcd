"""Chunking of parsed documents, counted in the embedding model's word pieces.

Pure: the caller tokenizes (``Embedder.token_spans``) and this module decides where
chunks and embedding pieces begin and end, as ranges of token indices.  Boundaries
are snapped to word boundaries where one is near, so a chunk never splits a word and
a piece re-tokenizes to exactly the word pieces counted here (a word cut in the middle
would re-tokenize differently and could overflow the model's window).

Strategies as OpenAI documents them: ``auto`` is 800 tokens with 400 of overlap;
``static`` takes ``max_chunk_size_tokens`` (100-4096) and ``chunk_overlap_tokens``
(at most half of it).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from ..errors import InvalidRequestError, UnknownParameterError

AUTO_MAX_TOKENS = 800
AUTO_OVERLAP_TOKENS = 400
MIN_CHUNK_TOKENS = 100
MAX_CHUNK_TOKENS = 4096
PIECE_OVERLAP_TOKENS = 32
"""Word pieces consecutive embedding pieces of one chunk share, so a sentence across a
piece boundary is read whole by at least one of them."""

Span = tuple[int, int]


class Spans(Sequence):
    """Token spans ``(start, end)`` held compactly: two arrays of machine integers take 16
    bytes a token, where a list of tuples takes about 120 (a 5M-token file: 80 MB, not 600)."""

    __slots__ = ("starts", "ends")

    def __init__(self, pairs: Iterable[Span] = ()):
        self.starts = array("q")
        self.ends = array("q")
        for start, end in pairs:
            self.starts.append(start)
            self.ends.append(end)

    def extend(self, pairs: Iterable[Span], shift: int = 0) -> None:
        for start, end in pairs:
            self.starts.append(start + shift)
            self.ends.append(end + shift)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return list(zip(self.starts[i], self.ends[i]))
        return self.starts[i], self.ends[i]

    def __iter__(self) -> Iterator[Span]:
        return zip(self.starts, self.ends)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or len(other) != len(self):
            return False
        return all(tuple(a) == tuple(b) for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]


def static_strategy(max_tokens: int = AUTO_MAX_TOKENS, overlap: int = AUTO_OVERLAP_TOKENS) -> dict:
    return {"type": "static", "static": {"max_chunk_size_tokens": max_tokens, "chunk_overlap_tokens": overlap}}


def chunking_strategy(value: Any, param: str = "chunking_strategy") -> dict:
    """Check a request's strategy; return it as the ``static`` object vector-store files carry."""
    if value is None:
        return static_strategy()
    if not isinstance(value, dict):
        raise InvalidRequestError(f"Invalid type for '{param}': expected an object.", param=param)
    kind = value.get("type")
    if kind == "auto":
        unknown = sorted(set(value) - {"type"})
        if unknown:
            raise UnknownParameterError(f"{param}.{unknown[0]}")
        return static_strategy()
    if kind != "static":
        raise InvalidRequestError(f"Invalid value for '{param}.type': expected one of 'auto' or 'static'.",
                                  param=f"{param}.type")
    static = value.get("static")
    if not isinstance(static, dict):
        raise InvalidRequestError(f"Missing required parameter: '{param}.static'.", param=f"{param}.static")
    size = static.get("max_chunk_size_tokens")
    overlap = static.get("chunk_overlap_tokens")
    for name, val in (("max_chunk_size_tokens", size), ("chunk_overlap_tokens", overlap)):
        if val is None:
            raise InvalidRequestError(f"Missing required parameter: '{param}.static.{name}'.",
                                      param=f"{param}.static.{name}")
        if isinstance(val, bool) or not isinstance(val, int):
            raise InvalidRequestError(f"Invalid type for '{param}.static.{name}': expected an integer.",
                                      param=f"{param}.static.{name}")
    if not MIN_CHUNK_TOKENS <= size <= MAX_CHUNK_TOKENS:
        raise InvalidRequestError(
            f"Invalid '{param}.static.max_chunk_size_tokens': expected a value from {MIN_CHUNK_TOKENS} to "
            f"{MAX_CHUNK_TOKENS}, but got {size} instead.", param=f"{param}.static.max_chunk_size_tokens")
    if overlap < 0 or overlap > size // 2:
        raise InvalidRequestError(
            f"Invalid '{param}.static.chunk_overlap_tokens': expected a value from 0 to half of "
            f"max_chunk_size_tokens ({size // 2}), but got {overlap} instead.",
            param=f"{param}.static.chunk_overlap_tokens")
    return static_strategy(size, overlap)


def word_starts(text: str, spans: Sequence[Span]) -> list[bool]:
    """For each token, whether a word begins there (so a cut before it splits no word).

    A token glued to the previous one with a letter or digit on both sides of the seam
    continues a word (a ``##`` word piece); punctuation and spaces start new ones.
    """
    out = []
    prev_end = -1
    for start, end in spans:
        glued = (start == prev_end and start > 0 and text[start - 1].isalnum() and start < len(text)
                 and text[start].isalnum())
        out.append(not glued)
        prev_end = end
    return out


def windows(starts: list[bool], size: int, overlap: int, lo: int = 0, hi: int | None = None) -> list[Span]:
    """Token ranges ``[a, b)`` of at most ``size`` tokens covering ``lo..hi``, consecutive ones
    sharing at least ``overlap`` tokens, cut at word starts when one is within reach."""
    hi = len(starts) if hi is None else hi
    if hi <= lo:
        return []
    if size <= 0:
        raise ValueError("window size must be positive")
    overlap = max(0, min(overlap, size - 1))
    out: list[Span] = []
    start = lo
    prev_end = lo
    while True:
        end = min(start + size, hi)
        if end < hi:
            floor = max(start, prev_end)  # a window must reach past the previous one
            cut = end
            while cut > floor + 1 and not starts[cut]:
                cut -= 1
            if starts[cut] and cut > floor:
                end = cut  # else one word longer than the window: cut inside it
        out.append((start, end))
        prev_end = end
        if end >= hi:
            return out
        nxt = end - overlap
        back = nxt
        while back > start + 1 and not starts[back]:
            back -= 1
        nxt = back if starts[back] and back > start else nxt
        start = max(nxt, start + 1)


@dataclass
class Chunk:
    position: int
    start_token: int
    end_token: int
    start_char: int
    end_char: int
    text: str
    pieces: list[str]

    @property
    def tokens(self) -> int:
        return self.end_token - self.start_token


class TooManyChunks(ValueError):
    """A text would make more chunks than allowed."""


def chunk_text(text: str, spans: Sequence[Span], *, max_tokens: int, overlap: int, piece_tokens: int,
               piece_overlap: int = PIECE_OVERLAP_TOKENS, max_chunks: int | None = None) -> list[Chunk]:
    """Cut ``text`` (tokenized as ``spans``) into chunks, each with the embedding pieces that cover it;
    ``TooManyChunks`` (before any chunk's text is copied) when there would be more than ``max_chunks``."""
    starts = word_starts(text, spans)
    ranges = windows(starts, max_tokens, overlap)
    if max_chunks is not None and len(ranges) > max_chunks:
        raise TooManyChunks(f"{len(ranges)} chunks, more than {max_chunks}")
    chunks = []
    for position, (a, b) in enumerate(ranges):
        pieces = [text[spans[pa][0]:spans[pb - 1][1]]
                  for pa, pb in windows(starts, piece_tokens, piece_overlap, a, b)]
        start_char, end_char = spans[a][0], spans[b - 1][1]
        chunks.append(Chunk(position, a, b, start_char, end_char, text[start_char:end_char], pieces))
    return chunks
