"""The saved-state cache: bounded in bytes, least recently used first out, a longer state
superseding its own prefix, the longest saved prefix found."""

from __future__ import annotations

from local_assistants.adapters.kv_states import Saved, StateCache, common_prefix


def test_state_cache_is_bounded_and_prefers_the_longest_prefix():
    cache = StateCache(capacity_bytes=100)
    cache.put(Saved((1, 2, 3), b"x" * 40))
    cache.put(Saved((1, 2, 3, 4, 5), b"y" * 40))  # extends (1,2,3): supersedes it
    assert list(cache.entries) == [(1, 2, 3, 4, 5)]
    cache.put(Saved((7, 8), b"z" * 40))
    cache.put(Saved((9,), b"w" * 40))  # over 100 bytes: the least recently used goes
    assert cache.size <= 100 and (1, 2, 3, 4, 5) not in cache.entries
    saved, n = cache.longest_prefix([7, 8, 9])
    assert saved.tokens == (7, 8) and n == 2
    assert cache.longest_prefix([5]) == (None, 0)


def test_common_prefix():
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([1, 2], [1, 2, 3]) == 2
