"""Wires Settings and adapters into the services; the app factory and the
in-process client each own one Runtime."""

from __future__ import annotations

import logging

from .adapters.sqlite_store import SQLiteStore
from .catalog import CATALOG, ModelResolver
from .config import Settings
from .ids import Clock, system_clock
from .services.assistants import AssistantsService
from .services.files import FilesService
from .services.messages import MessagesService
from .services.threads import ThreadsService

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings | None = None, *, clock: Clock = system_clock):
        self.settings = settings or Settings.from_env()
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = SQLiteStore(self.settings.database_path)
        self.models = ModelResolver(self.settings.models_dir, self.settings.default_model)
        self.assistants = AssistantsService(self.store, clock)
        self.messages = MessagesService(self.store, clock)
        self.threads = ThreadsService(self.store, self.messages, clock)
        self.files = FilesService(self.store, self.settings.files_dir, self.settings.max_file_bytes, clock)
        removed = self.files.remove_orphans()
        if removed:
            log.info("removed %d orphaned file blobs", removed)

    def model_objects(self) -> list[dict]:
        """The catalog (present or not) and any other local .gguf, as OpenAI model objects."""
        out = []
        seen = set()
        for entry in CATALOG.values():
            path = self.settings.models_dir / entry.filename
            seen.add(path.name)
            out.append({"id": entry.name, "object": "model", "created": 0, "owned_by": "local",
                        "present": path.is_file()})
        for path in self.models.local_files():
            if path.name not in seen:
                out.append({"id": str(path), "object": "model", "created": int(path.stat().st_mtime),
                            "owned_by": "local", "present": True})
        return out

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
