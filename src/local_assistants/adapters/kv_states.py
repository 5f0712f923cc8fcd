"""Saved KV states of sequences, by the tokens they hold: a thread's conversation taken out
of its slot comes back from here instead of being evaluated again."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence


@dataclass
class Saved:
    tokens: tuple[int, ...]
    state: bytes


class StateCache:
    """LRU of model states keyed by token sequences, bounded in bytes."""

    def __init__(self, capacity_bytes: int):
        self.capacity = capacity_bytes
        self.entries: OrderedDict[tuple[int, ...], Saved] = OrderedDict()
        self.size = 0

    def longest_prefix(self, tokens: Sequence[int]) -> tuple[Saved | None, int]:
        best, best_len = None, 0
        for saved in self.entries.values():
            n = common_prefix(saved.tokens, tokens)
            if n > best_len:
                best, best_len = saved, n
        if best is not None:
            self.entries.move_to_end(best.tokens)
        return best, best_len

    def put(self, saved: Saved) -> None:
        old = self.entries.pop(saved.tokens, None)
        if old is not None:
            self.size -= len(old.state)
        # A state whose tokens extend an older entry's supersedes it.
        for key in [k for k in self.entries if len(k) < len(saved.tokens) and saved.tokens[: len(k)] == k]:
            self.size -= len(self.entries.pop(key).state)
        self.entries[saved.tokens] = saved
        self.size += len(saved.state)
        while self.size > self.capacity and len(self.entries) > 1:
            _, evicted = self.entries.popitem(last=False)
            self.size -= len(evicted.state)


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
