"""The file-search services over a real SQLite store and real FAISS indexes, with an
embedder that needs no model: a word's vector is a fixed pseudo-random direction, a text's
the normalised sum of its words' (texts sharing words are similar).  Ingestion runs on the
calling thread (``ingest_all``)."""

from __future__ import annotations

import io
import queue
import re
import zlib
from pathlib import Path

import numpy as np

from local_assistants.adapters.faiss_index import FaissIndex
from local_assistants.adapters.sqlite_store import SQLiteStore
from local_assistants.ports import DocumentError
from local_assistants.services.file_batches import FileBatchesService
from local_assistants.services.files import FilesService
from local_assistants.services.indexes import IndexCache
from local_assistants.services.ingestion import Ingester, IngestionQueue
from local_assistants.services.search import SearchService
from local_assistants.services.vector_store_files import VectorStoreFilesService
from local_assistants.services.vector_stores import VectorStoreRecords, VectorStoresService

NOW = 1_700_000_000
_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r"\w+|[^\w\s]")


class WordEmbedder:
    """The Embedder port: one token per word or punctuation mark."""

    name = "fake-words"
    dimension = 64
    max_tokens = 40

    def __init__(self):
        self.embedded: list[str] = []

    def token_spans(self, text, limit=None):
        spans = []
        for m in _TOKEN.finditer(text):
            spans.append(m.span())
            if limit is not None and len(spans) > limit:
                break
        return spans

    def count_tokens(self, text):
        return len(self.token_spans(text))

    def pieces(self, text, *, overlap=32):
        return [text]

    def embed(self, texts):
        self.embedded += list(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                out[i] += np.random.default_rng(zlib.crc32(word.encode())).standard_normal(self.dimension)
            norm = np.linalg.norm(out[i])
            if norm > 0:
                out[i] /= norm
        return out


def parse(path, filename):
    """The DocumentParser port: text files only."""
    if not filename.endswith(".txt"):
        raise DocumentError("unsupported_file", f"Files of type {Path(filename).suffix} are not supported.")
    return Path(path).read_text()


class Stack:
    def __init__(self, tmp_path: Path, *, parser=parse, **ingester_options):
        clock = lambda: NOW  # noqa: E731
        self.store = SQLiteStore(tmp_path / "db.sqlite")
        self.files = FilesService(self.store, tmp_path / "files", 1 << 20, clock)
        self.embedder = WordEmbedder()
        dim = self.embedder.dimension
        self.indexes = IndexCache(self.store, tmp_path / "vector_index", dim,
                                  open_index=lambda path: FaissIndex.open(dim, path),
                                  new_index=lambda path: FaissIndex(dim, path))
        self.queue = IngestionQueue()
        self.vector_store_files = VectorStoreFilesService(self.store, VectorStoreRecords(self.store, clock),
                                                          self.files, parser, self.indexes,
                                                          enqueue=self.queue.put, clock=clock)
        self.vector_stores = VectorStoresService(self.store, self.indexes, self.vector_store_files, clock)
        self.file_batches = FileBatchesService(self.store, self.vector_stores, self.vector_store_files, clock)
        self.search = SearchService(self.store, self.vector_stores, self.embedder, self.indexes)
        self.ingester = Ingester(self.store, self.files, parser, self.embedder, self.indexes, self.vector_stores,
                                 self.vector_store_files, **ingester_options)

    def upload(self, filename: str, text: str) -> str:
        return self.files.create(file=io.BytesIO(text.encode()), filename=filename, purpose="assistants")["id"]

    def ingest_all(self) -> list[tuple[str, str]]:
        """Ingest every queued file, in order; return them."""
        done = []
        while True:
            try:
                item = self.queue.get(0)
            except queue.Empty:
                return done
            if item is not None:
                self.ingester.ingest(*item)
                done.append(item)
            self.queue.done()
            self.queue.settle()

    def store_with(self, **texts: str) -> tuple[str, dict[str, str]]:
        """A vector store holding ``name.txt`` files of the given texts, ingested: its id and
        the files' ids by name."""
        ids = {name: self.upload(f"{name}.txt", text) for name, text in texts.items()}
        vs = self.vector_stores.create(name="notes", file_ids=list(ids.values()))
        self.ingest_all()
        return vs["id"], ids
