"""``POST /v1/embeddings``: OpenAI's embeddings on the file-search embedding model, over the
Embedder port.

Models.  The file-search model answers to its own name (``all-MiniLM-L6-v2``) and to
OpenAI's embedding names (``text-embedding-3-small``, ``text-embedding-3-large``,
``text-embedding-ada-002``); any sentence-transformers folder the operator puts under
``<models_dir>/embeddings/<name>/`` answers to ``<name>``, loaded offline on first use.

Vectors are the embedder's, L2-normalised (``normalize_embeddings=True``, as file search
embeds).  ``dimensions`` keeps the first ``dimensions`` values and normalises them again, as
OpenAI shortens text-embedding-3 vectors: allowed where OpenAI allows it (the text-embedding-3
names) and for folder models whose model card says they were trained for it (Matryoshka
loss); refused otherwise, since a cut vector of a model not trained so loses its meaning.

Limits and errors are OpenAI's: at most 2,048 inputs, none empty, each within the model's
window (``max_tokens`` word pieces: the model never silently cuts an input off), 300,000
tokens a request.  Token counts are the embedding model's own tokenizer's, special tokens
aside.  Inputs given as token ids are decoded with that tokenizer and embedded as text.
"""

from __future__ import annotations

import base64
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..catalog import CATALOG, OPENAI_EMBEDDING_NAMES, is_openai_chat_name
from ..core import validation as v
from ..errors import InvalidRequestError
from ..ports import Embedder

log = logging.getLogger(__name__)

MAX_INPUTS = 2048
MAX_REQUEST_TOKENS = 300_000
MAX_USER_CHARS = 512
ENCODING_FORMATS = ("float", "base64")
INVALID_INPUT = "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."
_FOLDER_MARKERS = ("modules.json", "sentence_bert_config.json")


@dataclass(frozen=True)
class EmbeddingModel:
    """A name ``POST /v1/embeddings`` serves: which folder (None: the file-search model) and
    whether it takes ``dimensions``."""

    id: str
    path: Path | None
    dimensions: bool
    created: int = 0

    def to_api(self) -> dict:
        return {"id": self.id, "object": "model", "created": self.created, "owned_by": "local", "present": True}


def _invalid_input() -> InvalidRequestError:
    return InvalidRequestError(INVALID_INPUT)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


class EmbeddingsService:
    """Embeddings of texts (or token ids) on the named model; see the module's docstring.

    ``default`` is the file-search embedder (shared: one copy of the weights);
    ``folder`` holds the operator's sentence-transformers models, opened by ``open_embedder``."""

    def __init__(self, default: Embedder, *, folder: Path | None = None,
                 open_embedder: Callable[[Path], Embedder] | None = None):
        self.default = default
        self.folder = Path(folder) if folder else None
        self.open_embedder = open_embedder
        self._opened: dict[Path, Embedder] = {}
        self._lock = threading.Lock()

    # -- models -----------------------------------------------------------------------------
    def models(self) -> list[EmbeddingModel]:
        """Every name served: the file-search model's own, OpenAI's, then the folder's."""
        out = self._built_in()
        taken = {m.id for m in out}
        if self.folder is not None and self.open_embedder is not None and self.folder.is_dir():
            for path in sorted(self.folder.iterdir()):
                if path.name in taken or path.name.startswith(".") or not path.is_dir():
                    continue
                if any((path / marker).is_file() for marker in _FOLDER_MARKERS):
                    out.append(EmbeddingModel(path.name, path, _matryoshka(path), int(path.stat().st_mtime)))
        return out

    def _built_in(self) -> list[EmbeddingModel]:
        return [EmbeddingModel(self.default.name, None, False),
                *(EmbeddingModel(name, None, takes) for name, takes in OPENAI_EMBEDDING_NAMES.items())]

    def model_objects(self) -> list[dict]:
        """The served names as OpenAI model objects (``GET /v1/models``)."""
        return [m.to_api() for m in self.models()]

    def model(self, name: Any) -> EmbeddingModel:
        """The served model of this name; a 400 (``model_not_found``) for any other."""
        if not isinstance(name, str):
            raise InvalidRequestError("Invalid type for 'model': expected a string.", param="model",
                                      code="invalid_type")
        for m in self._built_in():  # without a look at the folder
            if m.id == name:
                return m
        for m in self.models():
            if m.id == name:
                return m
        if name in CATALOG or name.endswith(".gguf") or is_openai_chat_name(name):
            raise InvalidRequestError("You are not allowed to generate embeddings from this model",
                                      param="model", code="model_not_found")
        raise InvalidRequestError(f"The model '{name[:256]}' does not exist or you do not have access to it.",
                                  param="model", code="model_not_found")

    def embedder(self, model: EmbeddingModel) -> Embedder:
        if model.path is None:
            return self.default
        with self._lock:
            embedder = self._opened.get(model.path)
            if embedder is None:
                log.info("embedding model %s from %s", model.id, model.path)
                embedder = self._opened[model.path] = self.open_embedder(model.path)
        return embedder

    # -- the operation --------------------------------------------------------------------------
    def create(self, *, input: Any, model: Any, encoding_format: Any = None, dimensions: Any = None,
               user: Any = None) -> dict:
        """``CreateEmbeddingResponse`` for a request's fields (checked here, as OpenAI checks them)."""
        chosen = self.model(model)
        encoding_format = v.enum(encoding_format, "encoding_format", ENCODING_FORMATS) or "float"
        dimensions = v.positive_int(dimensions, "dimensions")
        v.text(user, "user", MAX_USER_CHARS)
        embedder = self.embedder(chosen)
        if dimensions is not None:
            if not chosen.dimensions:
                raise InvalidRequestError("This model does not support specifying dimensions.", param="dimensions")
            if dimensions > embedder.dimension:
                raise InvalidRequestError(
                    f"Invalid 'dimensions': {dimensions} is more than the {embedder.dimension} dimensions of "
                    f"model '{chosen.id}'.", param="dimensions")
        texts, counts = self.read_input(embedder, input)
        vectors = self.embed(embedder, texts, counts)
        if dimensions is not None:
            vectors = shorten(vectors, dimensions)
        total = sum(counts)
        return {
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": encode(vec, encoding_format)}
                     for i, vec in enumerate(vectors)],
            "model": chosen.id,
            "usage": {"prompt_tokens": total, "total_tokens": total},
        }

    @staticmethod
    def read_input(embedder: Embedder, value: Any) -> tuple[list[str], list[int]]:
        """The texts to embed and the tokens of each, or OpenAI's refusal: a string, a list of
        strings, a list of token ids or a list of lists of them; at most 2,048, none empty,
        each within the model's window, 300,000 tokens in all."""
        if isinstance(value, str):
            items: list[Any] = [value]
        elif isinstance(value, list) and value and all(_is_int(x) for x in value):
            items = [value]  # one input, as token ids
        elif isinstance(value, list) and value and (all(isinstance(x, str) for x in value)
                                                    or all(isinstance(x, list) for x in value)):
            items = value
        else:
            raise _invalid_input()
        if len(items) > MAX_INPUTS:
            raise _invalid_input()
        texts, counts = [], []
        for item in items:
            if isinstance(item, str):
                if not item:
                    raise _invalid_input()
                text, n = item, embedder.count_tokens(item)
            else:
                if not item or not all(_is_int(x) for x in item):
                    raise _invalid_input()
                try:
                    text = embedder.decode(item)
                except ValueError:
                    raise _invalid_input() from None
                n = len(item)
            if n > embedder.max_tokens:
                raise InvalidRequestError(
                    f"This model's maximum context length is {embedder.max_tokens} tokens, however you requested "
                    f"{n} tokens ({n} in your prompt; 0 for the completion). Please reduce your prompt; or "
                    f"completion length.")
            texts.append(text)
            counts.append(n)
        total = sum(counts)
        if total > MAX_REQUEST_TOKENS:
            raise InvalidRequestError(f"Requested {total} tokens, max {MAX_REQUEST_TOKENS} tokens per request",
                                      code="max_tokens_per_request")
        return texts, counts

    @staticmethod
    def embed(embedder: Embedder, texts: list[str], counts: list[int]):
        """One normalised float32 vector per text, in order.  The embedder batches; texts of
        like length go together (longest first, as sentence-transformers orders one call), so
        a batch pads little whatever order they came in."""
        order = sorted(range(len(texts)), key=lambda i: -counts[i])
        vectors = np.asarray(embedder.embed([texts[i] for i in order]), dtype=np.float32)
        out = np.empty_like(vectors)
        out[order] = vectors
        return out


def shorten(vectors, dimensions: int):
    """The first ``dimensions`` values of each vector, normalised again (OpenAI's shortening)."""
    cut = np.ascontiguousarray(vectors[:, :dimensions], dtype=np.float32)
    norms = np.linalg.norm(cut, axis=1, keepdims=True)
    return cut / np.where(norms > 0, norms, 1.0)


def encode(vector, encoding_format: str) -> list[float] | str:
    """A vector as OpenAI sends it: floats, or base64 of little-endian float32."""
    if encoding_format == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return np.asarray(vector, dtype=np.float32).tolist()


def _matryoshka(path: Path) -> bool:
    """Whether a folder's model card says it was trained to be shortened (Matryoshka loss,
    as sentence-transformers' generated cards name it)."""
    card = path / "README.md"
    try:
        return card.is_file() and "matryoshka" in card.read_text(errors="replace")[:200_000].lower()
    except OSError:
        return False
