"""Protocols the services depend on, one module per concern; adapters/ implement them.

Nothing here imports an adapter, so a fake (for a fast unit test) or another backend
is a class with these methods.  ``tests/test_ports.py`` checks that the adapters
conform (every member present, with a compatible signature).

- ``store``: ``ObjectStore`` (objects), ``TokenCountStore``, ``VectorStoreFileStore``,
  ``ChunkStore``, ``EventLogStore``, and their unions ``ThreadStore``, ``FileSearchStore``, ``Store``
- ``model``: ``ChatModel`` (what the run loop calls), ``Generation``, ``Completion``,
  ``ModelSource`` (models by name)
- ``code``: ``CodeRunner`` (the code interpreter), ``CodeOutcome``, ``ProducedFile``
- ``retrieval``: ``Embedder``, ``VectorIndex``, ``DocumentParser``, ``Searcher``
"""

from .code import CodeOutcome, CodeRunner, ProducedFile
from .model import ChatModel, Completion, Generation, ModelSource
from .retrieval import DocumentError, DocumentParser, Embedder, SearchResult, Searcher, VectorIndex
from .store import (ChunkStore, EventLogStore, FileSearchStore, ListQuery, ObjectStore, Page, Store,
                    ThreadStore, TokenCountStore, VectorStoreFileStore)

__all__ = [
    "ChatModel", "ChunkStore", "CodeOutcome", "CodeRunner", "Completion", "DocumentError", "DocumentParser",
    "Embedder", "EventLogStore", "FileSearchStore", "Generation", "ListQuery", "ModelSource", "ObjectStore", "Page",
    "ProducedFile",
    "SearchResult", "Searcher", "Store", "ThreadStore", "TokenCountStore", "VectorIndex", "VectorStoreFileStore",
]
