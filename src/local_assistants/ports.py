"""Protocols the core and services depend on; adapters/ implement them.

Nothing here imports an adapter, so a fake (for a fast unit test) or another
backend is a class with these methods.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol, Sequence


@dataclass
class Page:
    """One page of a list, as OpenAI returns it."""

    data: list[dict]
    has_more: bool

    def to_body(self) -> dict:
        return {
            "object": "list",
            "data": self.data,
            "first_id": self.data[0]["id"] if self.data else None,
            "last_id": self.data[-1]["id"] if self.data else None,
            "has_more": self.has_more,
        }


@dataclass
class ListQuery:
    limit: int = 20
    order: str = "desc"
    after: str | None = None
    before: str | None = None
    where: dict[str, Any] = field(default_factory=dict)


class Store(Protocol):
    """Persistence of OpenAI-shaped objects (dicts), one table per kind."""

    def insert(self, table: str, obj: dict, **columns: Any) -> dict: ...
    def get(self, table: str, obj_id: str) -> dict | None: ...
    def update(self, table: str, obj: dict, **columns: Any) -> dict: ...
    def delete(self, table: str, obj_id: str) -> bool: ...
    def list(self, table: str, query: ListQuery) -> Page: ...
    def find(self, table: str, **where: Any) -> list[dict]: ...
    def transaction(self) -> AbstractContextManager: ...


@dataclass
class Completion:
    """What a model produced for one prompt."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" | "length" | "cancelled"


class Tokenizer(Protocol):
    def count(self, text: str) -> int: ...


class ChatModel(Protocol):
    """A loaded local model: formats chat messages and streams text pieces.

    ``stream`` yields text pieces as they are decoded and returns a ``Completion``
    (as the generator's return value); ``should_stop`` is polled between tokens.
    """

    name: str
    n_ctx: int

    def count_tokens(self, text: str) -> int: ...
    def stream(
        self,
        messages: Sequence[dict],
        *,
        max_tokens: int,
        temperature: float | None = None,
        top_p: float | None = None,
        grammar: str | None = None,
        cache_key: str | None = None,
        should_stop=None,
    ) -> Iterator[str]: ...
