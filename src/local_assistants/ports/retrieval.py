"""The file-search ports: the embedding model, a vector index, a document parser, and
the search a run's ``file_search`` tool calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable


@runtime_checkable
class Embedder(Protocol):
    """A sentence-embedding model and its tokenizer.

    ``max_tokens`` is how many word pieces one vector reads (special tokens aside): text
    beyond it is cut off by the model, so callers split longer text with ``pieces`` first.
    """

    name: str
    dimension: int
    max_tokens: int

    def token_spans(self, text: str, limit: int | None = None) -> Sequence[tuple[int, int]]:
        """The character span ``(start, end)`` of each word piece of ``text``, in order; with
        ``limit``, tokenizing may stop once more than ``limit`` pieces are found."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def decode(self, token_ids: Sequence[int]) -> str:
        """The text of word-piece ids of this model's tokenizer (special tokens dropped);
        ``ValueError`` for an id outside its vocabulary."""
        ...

    def pieces(self, text: str, *, overlap: int = 32) -> list[str]:
        """``text`` cut at word boundaries into pieces of at most ``max_tokens`` word pieces each
        (consecutive pieces share about ``overlap`` of them), together covering all of it."""
        ...

    def embed(self, texts: Sequence[str]) -> Any:
        """One L2-normalised float32 vector per text: a numpy array of shape ``(len(texts), dimension)``."""
        ...


@runtime_checkable
class VectorIndex(Protocol):
    """Vectors under int64 ids, searched by inner product (cosine on normalised vectors).

    An index is a cache: the store holds the vectors, and an index that disagrees with
    it is rebuilt from them.
    """

    dimension: int

    def __len__(self) -> int: ...
    def add(self, ids: Any, vectors: Any) -> None: ...
    def remove(self, ids: Any) -> int: ...
    def ids(self) -> Any:
        """Every id held, as an int64 numpy array."""
        ...

    def search(self, query: Any, k: int, *, allowed_ids: Any = None) -> list[tuple[int, float]]:
        """The ``k`` best ``(id, score)`` for one query vector, best first; only ``allowed_ids`` when given."""
        ...

    def save(self) -> None:
        """Write the index to its file (atomically)."""
        ...


class DocumentError(Exception):
    """A file that cannot become text: ``code`` is ``unsupported_file`` or ``invalid_file``
    (the codes of a vector-store file's ``last_error``)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@runtime_checkable
class DocumentParser(Protocol):
    def __call__(self, path: Any, filename: str) -> str:
        """The text of the file at ``path`` (named ``filename``); raises ``DocumentError``."""
        ...


@dataclass
class SearchResult:
    """One chunk found by file search, with its fused relevance ``score`` (0..1)."""

    vector_store_id: str
    file_id: str
    filename: str
    score: float
    text: str
    chunk_id: str
    position: int
    attributes: dict[str, Any] = field(default_factory=dict)

    def to_api(self) -> dict:
        """As ``POST /vector_stores/{id}/search`` returns it (``VectorStoreSearchResponse``)."""
        return {
            "file_id": self.file_id,
            "filename": self.filename,
            "score": self.score,
            "attributes": self.attributes,
            "content": [{"type": "text", "text": self.text}],
        }


@runtime_checkable
class Searcher(Protocol):
    """Hybrid search over vector stores (``services.search.SearchService``)."""

    def search(self, vector_store_ids: list[str] | str, query: Any, *, max_num_results: Any = 20,
               score_threshold: Any = 0.0, filters: Any = None, mode: str = "hybrid",
               touch: bool = True) -> list[SearchResult]: ...
