"""What every resource service shares: lookups that 404 and OpenAI-style lists."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidRequestError, NotFoundError
from ..ids import Clock, now_s, system_clock
from ..ports import ListQuery, ObjectStore, Page

MAX_LIST_LIMIT = 100


class ResourceService:
    table: str = ""
    noun: str = ""  # as OpenAI names it in "No <noun> found with id ..."

    def __init__(self, store: ObjectStore, clock: Clock = system_clock):
        self.store = store
        self.clock = clock

    def now(self) -> int:
        return now_s(self.clock)

    def get(self, obj_id: str, **expect: Any) -> dict:
        obj = self.store.get(self.table, obj_id)
        if obj is None or any(obj.get(k) != v for k, v in expect.items()):
            raise NotFoundError(f"No {self.noun} found with id '{obj_id}'.")
        return obj

    def list_page(self, *, limit: Any = 20, order: Any = "desc", after: str | None = None,
                  before: str | None = None, max_limit: int = MAX_LIST_LIMIT, **where: Any) -> Page:
        return self.store.list(self.table, list_query(limit, order, after, before, max_limit, where))


def list_query(limit: Any, order: Any, after: str | None, before: str | None,
               max_limit: int = MAX_LIST_LIMIT, where: dict | None = None) -> ListQuery:
    if limit is None:
        limit = 20
    try:
        limit = int(limit)
    except (TypeError, ValueError):
        raise InvalidRequestError("Invalid 'limit': expected an integer.", param="limit") from None
    if not 1 <= limit <= max_limit:
        raise InvalidRequestError(
            f"Invalid 'limit': integer below minimum value or above maximum value. Expected a value "
            f"from 1 to {max_limit}, but got {limit} instead.",
            param="limit",
        )
    order = order or "desc"
    if order not in ("asc", "desc"):
        raise InvalidRequestError(
            "Invalid value for 'order': expected one of 'asc' or 'desc'.", param="order"
        )
    return ListQuery(limit=limit, order=order, after=after or None, before=before or None,
                     where={k: v for k, v in (where or {}).items() if v is not None})


def deleted(obj_id: str, obj_type: str) -> dict:
    return {"id": obj_id, "object": obj_type, "deleted": True}
