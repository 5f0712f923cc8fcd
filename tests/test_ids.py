"""Object ids as OpenAI spells them (a prefix per kind, 24 base-62 characters) and the clock
every ``*_at`` field reads."""

from __future__ import annotations

import re

import pytest

from local_assistants.ids import PREFIXES, new_id, now_s, system_clock


@pytest.mark.parametrize("kind, prefix", [("assistant", "asst_"), ("thread", "thread_"), ("message", "msg_"),
                                          ("run", "run_"), ("step", "step_"), ("file", "file-"),
                                          ("vector_store", "vs_"), ("call", "call_"), ("batch", "vsfb_")])
def test_each_kind_has_openais_prefix_and_24_base62_characters(kind, prefix):
    assert PREFIXES[kind] == prefix
    value = new_id(kind)
    assert re.fullmatch(re.escape(prefix) + r"[A-Za-z0-9]{24}", value), value


def test_ids_do_not_repeat():
    assert len({new_id("run") for _ in range(2000)}) == 2000


def test_an_unknown_kind_is_refused():
    with pytest.raises(KeyError):
        new_id("nothing")


def test_now_is_whole_seconds_of_the_clock_given():
    assert now_s(lambda: 1_700_000_000.99) == 1_700_000_000
    assert isinstance(now_s(), int) and abs(now_s() - system_clock()) <= 1
