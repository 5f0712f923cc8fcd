"""Loaded models, shared: a name resolves to a file, a file is loaded once and kept warm."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable

from ..catalog import ModelResolver, ResolvedModel


class ModelPool:
    def __init__(self, resolver: ModelResolver, factory: Callable[[ResolvedModel], object], max_loaded: int = 2):
        self.resolver = resolver
        self.factory = factory
        self.max_loaded = max_loaded
        self._models: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: str):
        resolved = self.resolver.resolve(name)
        with self._lock:
            model = self._models.get(resolved.key)
            if model is None:
                model = self.factory(resolved)
                self._models[resolved.key] = model
                while len(self._models) > self.max_loaded:
                    _, old = self._models.popitem(last=False)
                    getattr(old, "close", lambda: None)()
            self._models.move_to_end(resolved.key)
        getattr(model, "load", lambda: None)()  # outside the pool lock: loading takes a while
        return model

    def close(self) -> None:
        with self._lock:
            for model in self._models.values():
                getattr(model, "close", lambda: None)()
            self._models.clear()
