"""Settings: the one place environment variables are read.

Every field has an environment override ``LOCAL_ASSISTANTS_<FIELD>`` (upper case),
e.g. ``LOCAL_ASSISTANTS_DATA_DIR=/srv/la``.  Code elsewhere takes a ``Settings``
object and never reads the environment itself, so tests build one with ``tmp_path``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

ENV_PREFIX = "LOCAL_ASSISTANTS_"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    """SQLite database, uploaded files and model state live here."""
    models_dir: Path = Path("models")
    """Where ``models pull`` puts GGUF files and where catalog names are looked up."""
    default_model: str = "smollm2-135m-instruct"
    """Catalog name or .gguf path used for OpenAI model names such as ``gpt-4o``."""
    n_ctx: int = 8192
    n_threads: int = 0
    """0 means half the cores (llama-cpp-python's default; see the decode benchmark)."""
    n_gpu_layers: int = 0
    seed: int = 0
    repeat_penalty: float = 1.1
    """llama.cpp's repetition penalty (llama-cpp-python's and Ollama's default): tiny
    models loop without it (JSON answers valid 16/20 at 1.0, 19/20 at 1.1)."""
    max_file_bytes: int = 512 * 1024 * 1024
    api_key: str = ""
    """When set, requests must carry ``Authorization: Bearer <api_key>``."""
    poll_after_ms: int = 200
    """Sent as ``openai-poll-after-ms`` so the SDK's polling helpers poll briskly."""
    requires_action_expiry_s: int = 600
    kv_cache_bytes: int = 1 << 30
    """Memory bound of the per-thread model-state cache (KV prefix reuse)."""
    default_max_completion_tokens: int = 512
    """Room reserved for the answer when a run sets no max_completion_tokens."""

    # -- code interpreter ---------------------------------------------------------
    sandbox_dir: Path = Path("sandbox")
    """Per-thread working folders of the code interpreter (each is /mnt/data in its kernel)."""
    kernel_python: Path = Path(".venv-kernel/bin/python")
    """The kernels' Python: an environment readable by the sandbox uid (``make install`` makes it)."""
    unsafe_kernel: bool = False
    """Run kernels without the sandbox. Only where bubblewrap cannot run, by explicit choice."""
    kernel_pool_size: int = 1
    max_kernels: int = 4
    kernel_idle_timeout_s: int = 3600
    code_timeout_s: int = 60
    kernel_uid_base: int = 61000

    # -- serving safely: what API callers may make the server do --------------------
    allow_no_api_key: bool = False
    """Serve on a non-loopback address without ``api_key`` (``serve --allow-no-api-key``):
    anyone who can reach the port can then use the API, run code and read files."""
    api_model_paths: bool = False
    """Let API callers name a model by its file path (``model="/srv/m.gguf"``).  Off: only
    catalog names, file names in ``models_dir`` and OpenAI names (the default model)."""
    shutdown_grace_s: float = 8.0
    """On SIGTERM/SIGINT, how long a run in progress may take to finish before it is failed
    as a crash would fail it (``docker stop`` kills after 10 s)."""
    max_file_text_chars: int = 20_000_000
    """Text one file may yield for file search (about OpenAI's 5M tokens)."""
    max_file_tokens: int = 5_000_000
    """Word pieces one file may hold for file search (OpenAI's limit)."""
    max_file_chunks: int = 20_000
    """Chunks one file may make."""
    max_extracted_bytes: int = 128 * 1024 * 1024
    """Bytes a parser may decompress from one file (DOCX XML, PDF streams)."""
    max_compression_ratio: int = 100
    """Decompressed bytes a parser may get per compressed byte, beyond the first MiB."""
    max_ingest_attempts: int = 2
    """Ingestions of one file that may end with the server killed before the file is failed."""

    @property
    def database_path(self) -> Path:
        return self.data_dir / "local_assistants.db"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "Settings":
        environ = os.environ if environ is None else environ
        values: dict = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            values[f.name] = _parse(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        for key in ("data_dir", "models_dir", "sandbox_dir", "kernel_python"):
            if key in values:
                values[key] = Path(values[key])
        return cls(**values)

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)


def _parse(f: dataclasses.Field, raw: str):
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind == "Path":
        return Path(raw)
    return raw


__all__ = ["Settings", "ENV_PREFIX"]
