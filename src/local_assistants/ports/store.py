"""The store ports: what services read and write, split by concern.

``ObjectStore`` keeps OpenAI-shaped objects (dicts), one table per kind; the others
are the rows beside them: token counts of messages, vector-store files and batches,
and the chunks file search reads.  A service is typed with the narrowest one it
needs; ``Store`` is all of them (what ``adapters.sqlite_store.SQLiteStore`` is).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol, runtime_checkable


@dataclass
class Page:
    """One page of a list, as OpenAI returns it."""

    data: list[dict]
    has_more: bool

    def to_body(self) -> dict:
        return {
            "object": "list",
            "data": self.data,
            "first_id": self.data[0]["id"] if self.data else None,
            "last_id": self.data[-1]["id"] if self.data else None,
            "has_more": self.has_more,
        }


@dataclass
class ListQuery:
    limit: int = 20
    order: str = "desc"
    after: str | None = None
    before: str | None = None
    where: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ObjectStore(Protocol):
    """Persistence of OpenAI-shaped objects (dicts), one table per kind; ``columns`` are
    the indexed columns beside an object (``thread_id``, ``run_id``, ``status``...)."""

    def insert(self, table: str, obj: dict, **columns: Any) -> dict: ...
    def get(self, table: str, obj_id: str) -> dict | None: ...
    def update(self, table: str, obj: dict, **columns: Any) -> dict: ...
    def update_if(self, table: str, obj: dict, expect: dict[str, Any], **columns: Any) -> bool:
        """Write ``obj`` only if its stored row still has the column values of ``expect``
        (a compare-and-set, e.g. on a run's status); False when it had changed."""
        ...

    def delete(self, table: str, obj_id: str) -> bool: ...
    def delete_where(self, table: str, **where: Any) -> int: ...
    def find(self, table: str, **where: Any) -> list[dict]:
        """Every object matching ``where`` (a list value: any of them), oldest first."""
        ...

    def list(self, table: str, query: ListQuery) -> Page: ...
    def transaction(self) -> AbstractContextManager:
        """One atomic unit; nested calls join the outer transaction."""
        ...


@runtime_checkable
class TokenCountStore(Protocol):
    """Token counts of messages, per tokenizer: a thread's history is counted once."""

    def token_counts(self, message_ids: list[str], tokenizer: str) -> dict[str, int]: ...
    def save_token_counts(self, counts: dict[str, int], tokenizer: str) -> None: ...
    def delete_token_counts(self, *, thread_id: str | None = None, message_id: str | None = None) -> None: ...


@runtime_checkable
class VectorStoreFileStore(Protocol):
    """Vector-store files (keyed by store and file id), their ingestion attempts, and batches."""

    def insert_vector_store_file(self, obj: dict, *, filename: str | None = None) -> dict: ...
    def update_vector_store_file(self, obj: dict) -> dict: ...
    def get_vector_store_file(self, vector_store_id: str, file_id: str) -> dict | None: ...
    def delete_vector_store_file(self, vector_store_id: str, file_id: str) -> bool: ...
    def find_vector_store_files(self, *, vector_store_id: str | None = None, status: str | list | None = None,
                                file_id: str | None = None) -> list[dict]: ...
    def list_vector_store_files(self, vector_store_id: str, query: ListQuery, *, status: str | None = None,
                                batch_id: str | None = None) -> Page: ...
    def vector_store_file_names(self, vector_store_id: str, file_ids: list[str]) -> dict[str, str | None]: ...
    def vector_store_file_counts(self, vector_store_id: str,
                                 batch_id: str | None = None) -> tuple[dict[str, int], int]:
        """Files by status, and the usage bytes of the completed ones, of a store (or one of its batches)."""
        ...

    def begin_ingest_attempt(self, vector_store_id: str, file_id: str) -> int:
        """Count one more ingestion attempt of the file (committed at once); return the count."""
        ...

    def set_ingest_attempts(self, vector_store_id: str, file_id: str, attempts: int) -> None: ...
    def add_batch_files(self, batch_id: str, vector_store_id: str, file_ids: list[str]) -> None: ...
    def delete_vector_store_rows(self, vector_store_id: str) -> None:
        """Every file, batch and chunk of a store (the store's own row aside)."""
        ...


@runtime_checkable
class ChunkStore(Protocol):
    """The chunks of ingested files: text, vectors (under an int ``seq``) and a full-text index."""

    def insert_chunks(self, rows: list[tuple]) -> list[tuple[int, int]]:
        """Insert ``(id, vector_store_id, file_id, position, text, tokens, start_char, end_char,
        n_vectors, vectors)`` rows; return their ``(seq, n_vectors)`` in the given order."""
        ...

    def delete_chunks(self, vector_store_id: str, file_id: str) -> list[tuple[int, int]]: ...
    def chunk_slots(self, vector_store_id: str, file_ids: list[str] | None = None) -> list[tuple[int, int]]: ...
    def iter_chunk_vectors(self, vector_store_id: str, batch: int = 2048) -> Iterator[list[tuple[int, int, bytes]]]: ...
    def chunks_by_seq(self, seqs: list[int], *, with_vectors: bool = False,
                      with_text: bool = True) -> dict[int, dict]: ...
    def chunk_texts(self, vector_store_id: str, file_id: str) -> list[tuple[int, int, str]]: ...
    def fts_document_frequencies(self, words: list[str], cap: int) -> dict[str, int]: ...
    def fts_search(self, match: str, vector_store_ids: list[str], *, file_ids: list[str] | None = None,
                   limit: int | None = None) -> list[tuple[int, float]]: ...
    def locked(self) -> AbstractContextManager:
        """Hold the store's lock without a transaction (an index read from its chunks stays whole)."""
        ...


@runtime_checkable
class EventLogStore(Protocol):
    """Every stream event of a response under its sequence number (resumable streams)."""

    def append_event(self, response_id: str, seq: int, event: str, data: dict, created_at: int) -> None: ...
    def events_after(self, response_id: str, after: int, limit: int = 1000) -> list[tuple[int, str, dict]]: ...
    def last_event_seq(self, response_id: str) -> int:
        """The last stored sequence number of a response, -1 when none."""
        ...

    def delete_events(self, response_id: str | None = None, *, before: int | None = None) -> int: ...


@runtime_checkable
class ThreadStore(ObjectStore, TokenCountStore, Protocol):
    """Objects and the token counts of their messages: threads, messages, a thread's history."""


@runtime_checkable
class FileSearchStore(ObjectStore, VectorStoreFileStore, ChunkStore, Protocol):
    """Objects, vector-store files and chunks: vector stores, their files, ingestion, search."""


@runtime_checkable
class Store(ObjectStore, TokenCountStore, VectorStoreFileStore, ChunkStore, EventLogStore, Protocol):
    """Every store concern at once (the SQLite adapter)."""
