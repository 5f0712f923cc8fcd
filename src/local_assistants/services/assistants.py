"""Assistants: create, list, retrieve, modify, delete."""

from __future__ import annotations

from typing import Any, Callable

from ..core import validation as v
from ..errors import InvalidRequestError
from ..ids import Clock, new_id, system_clock
from ..ports import ObjectStore
from .base import ResourceService, deleted
from .vector_stores import VectorStoresService

# Fields a request may set, with their checks; shared by create and modify.
_CHECKS = {
    "name": lambda x: v.text(x, "name", v.MAX_NAME),
    "description": lambda x: v.text(x, "description", v.MAX_DESCRIPTION),
    "instructions": lambda x: v.text(x, "instructions", v.MAX_INSTRUCTIONS),
    "tools": v.tools,
    "tool_resources": v.tool_resources,
    "metadata": v.metadata,
    "temperature": lambda x: v.number(x, "temperature", 0, 2),
    "top_p": lambda x: v.number(x, "top_p", 0, 1),
    "response_format": v.response_format,
}


def _model(value: Any) -> str:
    model = v.text(value, "model", 256, required=True)
    if not model.strip():
        raise InvalidRequestError("Invalid value for 'model': expected a model name.", param="model")
    return model


class AssistantsService(ResourceService):
    table = "assistants"
    noun = "assistant"

    def __init__(self, store: ObjectStore, clock: Clock = system_clock, *,
                 vector_stores: VectorStoresService | None = None,
                 check_model: Callable[[str], None] = lambda name: None):
        super().__init__(store, clock)
        self.vector_stores = vector_stores
        """Checks file_search stores, creates inline ones (None: tool_resources kept as given)."""
        self.check_model = check_model
        """Refuses a model name no run could use (the runtime's: paths are the operator's)."""

    def _file_search(self, tool_resources: dict | None) -> dict | None:
        if self.vector_stores is None or not tool_resources:
            return tool_resources
        return self.vector_stores.resolve_tool_resources(tool_resources, for_thread=False)

    def create(self, *, model: Any, **fields: Any) -> dict:
        model = _model(model)
        self.check_model(model)
        checked = {k: check(fields.get(k)) for k, check in _CHECKS.items()}
        assistant = {
            "id": new_id("assistant"),
            "object": "assistant",
            "created_at": self.now(),
            "model": model,
            **{k: checked[k] for k in ("name", "description", "instructions")},
            "tools": checked["tools"],
            "tool_resources": checked["tool_resources"] or {},
            "metadata": checked["metadata"] or {},
            "temperature": checked["temperature"] if checked["temperature"] is not None else 1.0,
            "top_p": checked["top_p"] if checked["top_p"] is not None else 1.0,
            "response_format": checked["response_format"] or "auto",
        }
        with self.store.transaction():
            assistant["tool_resources"] = self._file_search(assistant["tool_resources"]) or {}
            return self.store.insert(self.table, assistant)

    def modify(self, assistant_id: str, **fields: Any) -> dict:
        with self.store.transaction():
            assistant = self.get(assistant_id)
            if fields.get("model") is not None:
                assistant["model"] = _model(fields["model"])
                self.check_model(assistant["model"])
            for key, check in _CHECKS.items():
                if key in fields and fields[key] is not None:
                    assistant[key] = check(fields[key])
                    if key == "tool_resources":
                        assistant[key] = self._file_search(assistant[key])
            return self.store.update(self.table, assistant)

    def delete(self, assistant_id: str) -> dict:
        self.get(assistant_id)
        self.store.delete(self.table, assistant_id)
        return deleted(assistant_id, "assistant.deleted")
