"""The token-budget window: what a run's model sees.

Given the fixed part of the prompt (instructions, tool definitions), the thread's
items newest-first (read lazily, so a 100,000-message thread is never loaded
whole), per-item token counts computed once and stored, and the budget, decide
exactly which items are sent.

Budget = min(n_ctx - reserved_for_answer, max_prompt_tokens).

``auto`` (OpenAI's documented behaviour): keep the fixed part, the first user
message and the newest items; drop from the middle until it fits.
``last_messages`` with n: only the last n items, then fit.

Invariants (property-tested): never over budget; the newest user item is always
kept (cut with a marker when it alone is too big); items of one group (a tool
call and its output) are kept or dropped together; order is preserved; the
result is deterministic.

Retrieved file-search chunks, tool calls and code-interpreter outputs are items
too: what the current run produced comes newest in ``newest_first`` (see
``ThreadHistory.newest_first(run_items=...)``), so it passes through the same
budget, right after the newest user message in priority.  Earlier runs' tool
calls and outputs come back ``replayed`` between those runs' messages, as plain
history.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Iterable, Iterator, Sequence

TRUNCATION_MARKER = "[... earlier part of this message truncated to fit the context ...]\n"
MIN_USEFUL_TOKENS = 8


@dataclass(frozen=True)
class WindowItem:
    """One unit the model may see: a message, or a tool call / tool output."""

    id: str
    role: str
    text: str
    tokens: int
    group: str | None = None
    """Items sharing a group are kept or dropped together (a tool call and its output)."""
    first_user: bool = False
    chat: dict | None = None
    """Fields of the chat message beyond ``role`` and ``text``, for templates that lay out
    tool calls and results themselves: ``{"role": "tool"}`` for a tool result (the window
    still treats it as input, like a user item), ``{"content": "", "tool_calls": [...]}``
    for an assistant's calls (``text`` is then their rendering, for counting)."""
    replayed: bool = False
    """An earlier run's tool call or output, replayed where that run made it: context for
    later turns, never the newest input, and not a message for ``last_messages``."""


@dataclass(frozen=True)
class Strategy:
    type: str = "auto"  # "auto" | "last_messages" | "disabled" (a response: nothing may be dropped)
    last_messages: int | None = None

    @classmethod
    def from_request(cls, value: dict | None) -> "Strategy":
        if not value:
            return cls()
        return cls(type=value.get("type", "auto"), last_messages=value.get("last_messages"))


@dataclass
class Window:
    items: list[WindowItem]
    """Oldest first: exactly what is sent after the fixed part."""
    tokens: int
    """Fixed part plus items, by the stored counts."""
    budget: int
    truncated: bool = False


class WindowError(Exception):
    """Even the minimum cannot fit. ``reason`` is what the run reports."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason  # "max_prompt_tokens" (run incomplete) | "instructions_too_long" (run failed)


def budget_for(n_ctx: int, reserved_for_answer: int, max_prompt_tokens: int | None) -> int:
    budget = n_ctx - reserved_for_answer
    if max_prompt_tokens is not None:
        budget = min(budget, max_prompt_tokens)
    return budget


def build_window(
    *,
    fixed_tokens: int,
    newest_first: Iterable[WindowItem],
    budget: int,
    strategy: Strategy = Strategy(),
    first_user: WindowItem | None = None,
    count: Callable[[str], int] | None = None,
    overhead: int = 0,
) -> Window:
    """Choose the items to send. ``newest_first`` is consumed only as far as needed.

    Priority: the newest user item's group (cut to fit if it alone is too big),
    then the first user message (``auto`` only), then the newest items going back
    until one does not fit, where the walk stops: what is dropped is the middle.
    """
    if fixed_tokens > budget:
        raise WindowError(
            f"The instructions and tool definitions take {fixed_tokens} tokens, more than the "
            f"prompt budget of {budget} tokens.",
            "instructions_too_long",
        )
    room = budget - fixed_tokens
    groups = _groups(newest_first, strategy)

    # Read up to the newest group holding a user item; it is the one group always sent.
    newer: list[list[WindowItem]] = []
    user_group: list[WindowItem] | None = None
    for group in groups:
        if any(i.role == "user" and not i.replayed for i in group):
            user_group = group
            break
        newer.append(group)

    used = 0
    truncated = False
    if user_group is not None:
        size = _size(user_group)
        if size > room and strategy.type == "disabled":
            raise WindowError(f"The newest input takes {size} tokens, more than the prompt budget of {budget} "
                              "tokens, and truncation is disabled.", "context_length_exceeded")
        if size > room:
            user_group, size = _cut_group(user_group, room, count, overhead)
            if user_group is None:
                raise WindowError(
                    f"The newest message cannot fit in the prompt budget of {budget} tokens.",
                    "max_prompt_tokens",
                )
            truncated = True
        used = size

    keep_first = (
        strategy.type == "auto"
        and first_user is not None
        and first_user.group is None  # pinned alone, it would split its group
        and user_group is not None
        and all(i.id != first_user.id for i in user_group)
        and used + first_user.tokens <= room
    )
    reserved = first_user.tokens if keep_first else 0
    first_seen = False

    kept_newer: list[list[WindowItem]] = []
    dropped = truncated
    for group in newer:  # items after the newest user message (this run's tool work)
        if used + reserved + _size(group) > room:
            dropped = True
            break
        kept_newer.append(group)
        used += _size(group)

    kept_older: list[list[WindowItem]] = []
    if user_group is not None and len(kept_newer) == len(newer):
        for group in groups:
            is_first = keep_first and any(i.id == first_user.id for i in group)
            extra = _size(group) - (reserved if is_first else 0)
            if used + reserved + extra > room:
                dropped = True
                break
            kept_older.append(group)
            used += _size(group)
            if is_first:
                reserved = 0
                first_seen = True

    if strategy.type == "disabled" and (dropped or user_group is None and newer and not kept_newer):
        raise WindowError(
            f"The conversation does not fit in the prompt budget of {budget} tokens, and truncation is "
            "disabled.", "context_length_exceeded")
    chronological = [*reversed(kept_older), *([user_group] if user_group else []), *reversed(kept_newer)]
    items = [item for group in chronological for item in group]
    if keep_first and not first_seen:
        items.insert(0, first_user)
        used += first_user.tokens
    return Window(items=items, tokens=fixed_tokens + used, budget=budget, truncated=truncated)


def _size(group: Sequence[WindowItem]) -> int:
    return sum(i.tokens for i in group)


def _groups(newest_first: Iterable[WindowItem], strategy: Strategy) -> Iterator[list[WindowItem]]:
    """Newest-first groups of items; ``last_messages`` stops after n items (replayed tool
    items are not messages and not counted), never inside a group."""
    limit = strategy.last_messages if strategy.type == "last_messages" else None
    taken = 0
    current: list[WindowItem] = []
    for item in newest_first:
        same_group = bool(current) and item.group is not None and item.group == current[0].group
        if limit is not None and taken >= limit:
            if same_group:
                current = []  # the limit falls inside a group: leave the whole group out
            break
        if current and not same_group:
            yield list(reversed(current))
            current = []
        current.append(item)
        taken += 0 if item.replayed else 1
    if current:
        yield list(reversed(current))


def _cut_group(group: list[WindowItem], room: int, count, overhead: int):
    """Keep the end of the group's user item, behind a marker, so the group fits ``room``.

    Returns (group, tokens), or (None, 0) when not even a useful tail fits.
    """
    if count is None:
        return None, 0
    # Cut the newest user item; everything else in the group (even another user item) stays whole.
    user_idx = max(i for i, item in enumerate(group) if item.role == "user")
    others = sum(item.tokens for i, item in enumerate(group) if i != user_idx)
    allowance = room - others - overhead - count(TRUNCATION_MARKER)
    if allowance < MIN_USEFUL_TOKENS:
        return None, 0
    text = _tail_to_fit(group[user_idx].text, allowance, count)
    if text is None:
        return None, 0
    # Counting the joined text can differ by a token or two from the parts: shave until it fits.
    while True:
        cut = replace(group[user_idx], text=TRUNCATION_MARKER + text,
                      tokens=count(TRUNCATION_MARKER + text) + overhead)
        if cut.tokens + others <= room:
            break
        if len(text) <= 1:
            return None, 0
        text = text[max(1, len(text) // 20):]
    out = list(group)
    out[user_idx] = cut
    return out, cut.tokens + others


def _tail_to_fit(text: str, tokens: int, count) -> str | None:
    """The longest tail of ``text`` whose count fits ``tokens`` (the end is what was asked)."""
    if tokens <= 0:
        return None
    lo, hi = 0, len(text)
    # Binary search on the start offset.
    best = None
    while lo <= hi:
        mid = (lo + hi) // 2
        if count(text[mid:]) <= tokens:
            best = mid
            hi = mid - 1
        else:
            lo = mid + 1
    return None if best is None else text[best:]


def render_items(fixed_messages: Sequence[dict], items: Sequence[WindowItem]) -> list[dict]:
    """Chat messages for the template: the fixed part, then the window's items."""
    messages = [*fixed_messages]
    for item in items:
        message = {"role": item.role, "content": item.text, **(item.chat or {})}
        last = messages[-1] if len(messages) > len(fixed_messages) else None
        if (last is not None and last["role"] == "assistant" and not last.get("tool_calls")
                and message["role"] == "assistant" and message.get("tool_calls") and not message["content"]):
            # The model said something, then called a tool: one turn, as templates lay it out.
            last.update(tool_calls=message["tool_calls"])
            continue
        messages.append(message)
    return messages


__all__ = [
    "Strategy",
    "TRUNCATION_MARKER",
    "Window",
    "WindowError",
    "WindowItem",
    "budget_for",
    "build_window",
    "render_items",
]
