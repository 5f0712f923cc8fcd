"""Settings: the one place environment variables are read.

Every field has an environment override ``LOCAL_ASSISTANTS_<FIELD>`` (upper case),
e.g. ``LOCAL_ASSISTANTS_DATA_DIR=/srv/la``.  Code elsewhere takes a ``Settings``
object and never reads the environment itself, so tests build one with ``tmp_path``.

One home holds everything a runtime keeps, never the caller's working directory
(as ``llm``'s user dir, ``HF_HOME`` and ``~/.ollama`` do)::

    $LOCAL_ASSISTANTS_HOME          default $XDG_DATA_HOME/local-assistants
    |                                       (~/.local/share/local-assistants)
    +-- models/         GGUF files            (models_dir)
    +-- data/           SQLite database, files (data_dir)
    +-- sandbox/        kernels' folders      (sandbox_dir)
    +-- .venv-kernel/   kernels' Python       (kernel_python; ``local-assistants setup``)
    +-- .cache/llama-server/llama-server      (llama_server; ``make llama-server``)
    +-- mcp.json        MCP servers a response may use (mcp_config)

Each of them can point elsewhere; the ones left unset follow the home (also
through ``replace(home=...)``).  All paths are made absolute when the settings are
built, so a later ``chdir`` changes nothing.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from .catalog import DEFAULT_MODEL

ENV_PREFIX = "LOCAL_ASSISTANTS_"
HOME_ENV = ENV_PREFIX + "HOME"
APP_DIR_NAME = "local-assistants"

# Where each path setting lies inside the home when it is not set.
HOME_LAYOUT: dict[str, Path] = {
    "data_dir": Path("data"),
    "models_dir": Path("models"),
    "sandbox_dir": Path("sandbox"),
    "kernel_python": Path(".venv-kernel/bin/python"),
    "llama_server": Path(".cache/llama-server/llama-server"),
    "mcp_config": Path("mcp.json"),
}


def default_home(environ=None) -> Path:
    """``$LOCAL_ASSISTANTS_HOME``, else the XDG data folder: ``$XDG_DATA_HOME/local-assistants``
    (the XDG spec ignores a relative ``XDG_DATA_HOME``), else ``~/.local/share/local-assistants``."""
    environ = os.environ if environ is None else environ
    if environ.get(HOME_ENV):
        return Path(environ[HOME_ENV]).expanduser().absolute()
    xdg = environ.get("XDG_DATA_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / APP_DIR_NAME
    user_home = Path(environ["HOME"]) if environ.get("HOME") else Path.home()
    return user_home / ".local" / "share" / APP_DIR_NAME


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=default_home)
    """One folder for models, data and the kernels' folders (see the module docstring)."""
    data_dir: Path | None = None
    """SQLite database, uploaded files and model state live here (default ``HOME/data``)."""
    models_dir: Path | None = None
    """Where ``models pull`` puts GGUF files and where catalog names are looked up (``HOME/models``)."""
    auto_pull: bool = True
    """A run that needs a catalog model that is not present pulls it first (progress on
    stderr). Off (``LOCAL_ASSISTANTS_AUTO_PULL=0``) on air-gapped machines: such a run
    fails with the command that fetches the model."""
    _defaulted: frozenset = field(default=frozenset(), init=False, repr=False, compare=False)
    """The path settings that were not given and follow the home."""
    default_model: str = DEFAULT_MODEL
    """Catalog name or .gguf path used for OpenAI model names such as ``gpt-4o``."""
    n_ctx: int = 8192
    n_threads: int = 0
    """0 means half the cores (llama-cpp-python's default; see the decode benchmark)."""
    n_threads_batch: int = 0
    """llama.cpp threads for a step of several tokens (a prompt, several runs' tokens
    together); 0: all the cores (2 here: 8 runs at once decoded 199 tokens/s against 115
    with 1). Threads spin at barriers, so other work at the same priority on those cores
    slows these steps sharply (the kernels run at nice 10)."""
    prefill_chunk: int = 64
    """Prompt tokens a decode step takes while other runs decode: a new run's prompt is
    evaluated in chunks of this size, each delaying the others' next token by its compute."""
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
    max_concurrent_runs: int = 0
    """Runs executed at once, each on a thread of its own; a model decodes their turns
    together (one sequence each in its batch). Runs beyond it wait ``queued``, in arrival
    order. 0: twice the cores, at most ``max_kernels``."""

    # -- code interpreter ---------------------------------------------------------
    sandbox_dir: Path | None = None
    """Per-thread working folders of the code interpreter (each is /mnt/data in its kernel);
    default ``HOME/sandbox``, moved by the runtime when the sandbox uid cannot reach it."""
    kernel_python: Path | None = None
    """The kernels' Python: an environment readable by the sandbox uid (``local-assistants
    setup`` makes it; default ``HOME/.venv-kernel/bin/python``)."""
    unsafe_kernel: bool = False
    """Run kernels without the sandbox. Only where bubblewrap cannot run, by explicit choice."""
    kernel_pool_size: int = 1
    max_kernels: int = 4
    kernel_idle_timeout_s: int = 3600
    code_timeout_s: int = 60
    kernel_uid_base: int = 61000

    # -- benchmarks ---------------------------------------------------------------
    llama_server: Path | None = None
    """llama.cpp's own server, the concurrency benchmark's peer (``make llama-server``
    builds it; default ``HOME/.cache/llama-server/llama-server``). The runtime never runs it."""

    # -- MCP tools ------------------------------------------------------------------
    mcp_config: Path | None = None
    """The MCP servers responses may use, by label (JSON; see ``services.mcp_servers``;
    default ``HOME/mcp.json``; no file: no servers)."""

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
    def concurrent_runs(self) -> int:
        """``max_concurrent_runs``, or the machine's size when it is 0."""
        if self.max_concurrent_runs > 0:
            return self.max_concurrent_runs
        return max(1, min(self.max_kernels, 2 * (os.cpu_count() or 1)))

    @property
    def database_path(self) -> Path:
        return self.data_dir / "local_assistants.db"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    def __post_init__(self) -> None:
        home = Path(self.home).expanduser().absolute()
        object.__setattr__(self, "home", home)
        defaulted = set()
        for name, inside in HOME_LAYOUT.items():
            value = getattr(self, name)
            if value is None:
                defaulted.add(name)
                value = home / inside
            object.__setattr__(self, name, Path(value).expanduser().absolute())
        object.__setattr__(self, "_defaulted", frozenset(defaulted))

    def follows_home(self, name: str) -> bool:
        """True when the path setting ``name`` was not given (it is its place in the home)."""
        return name in self._defaulted

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "Settings":
        environ = os.environ if environ is None else environ
        values: dict = {}
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is None or (raw == "" and f.name in ("home", *HOME_LAYOUT)):
                continue  # an empty path is unset, not the current directory
            values[f.name] = _parse(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "home" not in values:
            values["home"] = default_home(environ)
        for key in ("home", *HOME_LAYOUT):
            if key in values:
                values[key] = Path(values[key])
        return cls(**values)

    def replace(self, **changes) -> "Settings":
        """A copy with ``changes``; the path settings that follow the home keep following it
        (a new ``home`` moves them)."""
        for name in self._defaulted:
            changes.setdefault(name, None)
        return dataclasses.replace(self, **changes)


def _parse(f: dataclasses.Field, raw: str):
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
    kind = kind.removesuffix(" | None")
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind == "Path":
        return Path(raw)
    return raw


__all__ = ["APP_DIR_NAME", "ENV_PREFIX", "HOME_ENV", "HOME_LAYOUT", "Settings", "default_home"]
