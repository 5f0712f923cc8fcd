"""The token-budget window: property tests of the invariants in ``core/window.py``'s docstring.

Items carry texts of ``k`` words and a stored count of ``k + overhead`` tokens; the fake
counter counts words, so the stored counts agree with it and cutting a text works.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from local_assistants.core.window import (
    MIN_USEFUL_TOKENS,
    TRUNCATION_MARKER,
    Strategy,
    Window,
    WindowError,
    WindowItem,
    budget_for,
    build_window,
    render_items,
)

PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def count(text: str) -> int:
    return len(text.split())


MARKER_TOKENS = count(TRUNCATION_MARKER)


def words(item_id: str, n: int) -> str:
    return " ".join(f"{item_id}w{j}" for j in range(n))


def item(item_id: str, role: str, n: int, overhead: int = 0, group: str | None = None) -> WindowItem:
    return WindowItem(id=item_id, role=role, text=words(item_id, n), tokens=n + overhead, group=group)


# -- generating threads -------------------------------------------------------------


@st.composite
def threads(draw, max_items: int = 25):
    """A thread, oldest first, with some adjacent pairs sharing a group id."""
    overhead = draw(st.integers(0, 4))
    n = draw(st.integers(0, max_items))
    roles = draw(st.lists(st.sampled_from(["user", "assistant"]), min_size=n, max_size=n))
    sizes = draw(st.lists(st.integers(1, 300), min_size=n, max_size=n))
    pair_starts = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    groups: list[str | None] = [None] * n
    i = 0
    while i < n - 1:
        if pair_starts[i]:
            groups[i] = groups[i + 1] = f"g{i}"
            i += 2
        else:
            i += 1
    thread = [item(f"m{i:03d}", roles[i], sizes[i], overhead, groups[i]) for i in range(n)]
    return thread, overhead


@st.composite
def cases(draw, max_items: int = 25, kind: str | None = None, with_first: bool | None = None,
          fits: bool = False):
    thread, overhead = draw(threads(max_items))
    if with_first and thread:
        thread[0] = replace(thread[0], role="user")
    total = sum(i.tokens for i in thread)
    fixed = draw(st.integers(0, 400))
    if fits:
        budget = fixed + total + draw(st.integers(0, 50))
    else:
        budget = draw(st.one_of(st.integers(0, 400), st.integers(0, fixed + total + 50)))
    if (kind or draw(st.sampled_from(["auto", "last_messages"]))) == "auto":
        strategy = Strategy()
    else:
        strategy = Strategy(type="last_messages", last_messages=draw(st.integers(1, max_items + 3)))
    first = None
    if thread and thread[0].role == "user" and (with_first if with_first is not None else draw(st.booleans())):
        first = replace(thread[0], first_user=True)
    return dict(thread=thread, overhead=overhead, fixed=fixed, budget=budget, strategy=strategy,
                first=first)


def run(case, newest_first=None) -> Window:
    return build_window(
        fixed_tokens=case["fixed"],
        newest_first=reversed(case["thread"]) if newest_first is None else newest_first,
        budget=case["budget"],
        strategy=case["strategy"],
        first_user=case["first"],
        count=count,
        overhead=case["overhead"],
    )


def attempt(case):
    try:
        return run(case), None
    except WindowError as err:
        return None, err


# -- a small model of what the window may draw from ---------------------------------------


def eligible(case) -> list[WindowItem]:
    """Oldest first: the items the strategy lets the window see (``last_messages``: the last n
    items, minus a group the limit would split)."""
    thread, strategy = case["thread"], case["strategy"]
    if strategy.type != "last_messages":
        return list(thread)
    n = strategy.last_messages
    tail = thread[len(thread) - n:] if n < len(thread) else list(thread)
    if n < len(thread) and tail and tail[0].group is not None and \
            thread[len(thread) - n - 1].group == tail[0].group:
        tail = tail[1:]
    return tail


def group_of(thread: list[WindowItem], target: WindowItem) -> list[WindowItem]:
    if target.group is None:
        return [target]
    return [i for i in thread if i.group == target.group]


def newest_user(items: list[WindowItem]) -> WindowItem | None:
    return next((i for i in reversed(items) if i.role == "user"), None)


# -- invariants -------------------------------------------------------------------------


@PROPS
@given(cases())
def test_never_over_budget_and_tokens_add_up(case):
    window, err = attempt(case)
    if err is not None:
        return
    assert window.budget == case["budget"]
    assert window.tokens <= case["budget"]
    assert window.tokens == case["fixed"] + sum(i.tokens for i in window.items)


@PROPS
@given(cases())
def test_instructions_too_long_exactly_when_fixed_exceeds_budget(case):
    window, err = attempt(case)
    if case["fixed"] > case["budget"]:
        assert err is not None and err.reason == "instructions_too_long"
    else:
        assert err is None or err.reason == "max_prompt_tokens"


@PROPS
@given(cases())
def test_newest_user_item_always_kept_maybe_cut(case):
    assume(case["fixed"] <= case["budget"])
    pool = eligible(case)
    user = newest_user(pool)
    window, err = attempt(case)
    room = case["budget"] - case["fixed"]
    if user is None:
        assert err is None
        assert not window.truncated
        assert all(i.role != "user" for i in window.items)
        return
    group = group_of(pool, user)
    if err is not None:
        assert err.reason == "max_prompt_tokens"
        assert sum(i.tokens for i in group) > room
        # ... and not even the marker plus a useful tail of the text could fit.
        others = sum(i.tokens for i in group if i.id != user.id)
        assert others + case["overhead"] + MARKER_TOKENS + MIN_USEFUL_TOKENS > room
        return
    kept = {i.id: i for i in window.items}
    assert user.id in kept
    cut = kept[user.id]
    if sum(i.tokens for i in group) <= room:
        assert cut == user
        assert not window.truncated
    else:
        assert window.truncated
        assert cut.text.startswith(TRUNCATION_MARKER)
        tail = cut.text[len(TRUNCATION_MARKER):]
        assert tail and user.text.endswith(tail)
        assert count(tail) >= MIN_USEFUL_TOKENS
        assert cut.tokens == count(cut.text) + case["overhead"]
        assert cut.tokens < user.tokens
        # Cut no more than needed: with this counter the group then fills the room exactly.
        others = sum(i.tokens for i in group if i.id != user.id)
        assert cut.tokens + others == room
        assert count(user.text[-(len(tail) + 1):]) > count(tail)  # the longest tail that fits
    # Only that one item may ever be changed.
    originals = {i.id: i for i in case["thread"]}
    for i in window.items:
        if i.id != user.id:
            assert i.text == originals[i.id].text and i.tokens == originals[i.id].tokens


@PROPS
@given(cases())
def test_groups_kept_or_dropped_together(case):
    window, err = attempt(case)
    if err is not None:
        return
    kept = {i.id for i in window.items}
    members: dict[str, set[str]] = {}
    for i in case["thread"]:
        if i.group is not None:
            members.setdefault(i.group, set()).add(i.id)
    for group, ids in members.items():
        assert ids <= kept or not ids & kept, (group, ids, kept)


@PROPS
@given(cases())
def test_order_preserved_and_no_duplicates(case):
    window, err = attempt(case)
    if err is not None:
        return
    position = {i.id: n for n, i in enumerate(case["thread"])}
    ids = [i.id for i in window.items]
    assert all(i in position for i in ids)
    assert [position[i] for i in ids] == sorted(position[i] for i in set(ids))


@PROPS
@given(cases())
def test_deterministic(case):
    first, err1 = attempt(case)
    second, err2 = attempt(case)
    if err1 is not None:
        assert err2 is not None and (err2.reason, str(err2)) == (err1.reason, str(err1))
        return
    assert err2 is None
    # A generator instead of a list iterator gives the same answer too.
    third = run(case, (i for i in reversed(case["thread"])))
    assert first == second == third


@PROPS
@given(cases(kind="auto", with_first=True))
def test_auto_keeps_first_user_when_it_fits_next_to_newest_user_group(case):
    assume(case["first"] is not None)
    window, err = attempt(case)
    if err is not None:
        return
    first = case["first"]
    user = newest_user(case["thread"])
    room = case["budget"] - case["fixed"]
    user_group = {i.id for i in group_of(case["thread"], user)}
    kept_user_group = sum(i.tokens for i in window.items if i.id in user_group)
    if first.id in user_group:
        return
    if first.group is None and kept_user_group + first.tokens <= room:
        assert first.id in {i.id for i in window.items}
    # Only the newest user group may be cut; the first message, when sent, is whole.
    for i in window.items:
        if i.id == first.id:
            assert i.text == first.text


@PROPS
@given(cases())
def test_dropped_items_are_the_middle(case):
    """What is kept is the first user message (auto), the newest user group, and runs of the
    newest items on either side of it; a dropped item never sits between two kept items on the
    same side."""
    window, err = attempt(case)
    if err is not None or not window.items:
        return
    pool = eligible(case)
    user = newest_user(pool)
    kept = {i.id for i in window.items}
    first = case["first"]
    ids = [i.id for i in pool if not (first is not None and case["strategy"].type == "auto"
                                      and i.id == first.id and i.group is None)]
    if user is None:
        older, newer = [], ids
    else:
        group = [i.id for i in group_of(pool, user)]
        if group[0] in ids:
            older, newer = ids[:ids.index(group[0])], ids[ids.index(group[-1]) + 1:]
        else:  # the newest user item is the first user item itself
            older, newer = [], ids[len(group) - 1:]
    # Newer than the newest user item: a run ending at the newest item.
    flags = [i in kept for i in newer]
    assert flags == sorted(flags)
    # Older: a run ending just before the user group, only when all the newer ones fit.
    flags = [i in kept for i in older]
    assert flags == sorted(flags)
    if any(flags):
        assert all(i in kept for i in newer)


@PROPS
@given(cases(kind="last_messages"))
def test_last_messages_only_from_the_last_n(case):
    window, err = attempt(case)
    if err is not None:
        return
    n = case["strategy"].last_messages
    assert len(window.items) <= n
    last_n = {i.id for i in case["thread"][-n:]}
    assert {i.id for i in window.items} <= last_n


@PROPS
@given(cases(fits=True))
def test_everything_sent_when_it_all_fits(case):
    pool = eligible(case)
    window = run(case)
    if newest_user(pool) is None:
        # Without any user item there is nothing to anchor on, yet nothing needs dropping.
        assert [i.id for i in window.items] == [i.id for i in pool]
        return
    assert window.items == pool
    assert not window.truncated


# -- laziness -------------------------------------------------------------------------


class Counting:
    """Counts the items pulled; fails at once past ``limit`` (so an eager read fails fast)."""

    def __init__(self, it, limit: int):
        self.it = iter(it)
        self.pulled = 0
        self.limit = limit

    def __iter__(self):
        return self

    def __next__(self):
        value = next(self.it)
        self.pulled += 1
        assert self.pulled <= self.limit, f"read more than {self.limit} items"
        return value


FILLER_TOKENS = 10
HUGE = 100_000


def huge_thread(prefix: list[WindowItem]):
    """Newest first: ``prefix``, then 100,000 older items made on demand (alternating roles)."""
    yield from prefix
    for n in range(HUGE):
        k = HUGE - n
        yield item(f"old{k:06d}", "user" if n % 2 else "assistant", FILLER_TOKENS)


@PROPS
@given(
    threads(max_items=8),
    st.integers(0, 400),
    st.booleans(),
    st.one_of(st.none(), st.integers(1, 50)),
)
def test_input_is_read_lazily(prefix_case, room, with_first, last_n):
    prefix, _ = prefix_case
    prefix = [replace(i, id=f"new{n}") for n, i in enumerate(reversed(prefix))]  # newest first
    # The newest user item is among the prefix or the first two filler items; beyond it at most
    # room // FILLER_TOKENS filler items fit, then one more is read to see it does not (and one to
    # close its group).
    bound = len(prefix) + 2 + room // FILLER_TOKENS + 2
    source = Counting(huge_thread(prefix), limit=bound)
    first = replace(item("old000001", "user", FILLER_TOKENS), first_user=True) if with_first else None
    strategy = Strategy(type="last_messages", last_messages=last_n) if last_n else Strategy()
    try:
        window = build_window(fixed_tokens=5, newest_first=source, budget=5 + room, strategy=strategy,
                              first_user=first, count=count)
    except WindowError:
        window = None
    assert source.pulled <= bound
    if window is not None:
        assert len(window.items) <= len(prefix) + 2 + room // FILLER_TOKENS + 1


def test_huge_thread_small_budget_reads_few_items():
    source = Counting(huge_thread([item("q", "user", 20)]), limit=HUGE)
    first = replace(item("old000001", "user", FILLER_TOKENS), first_user=True)
    window = build_window(fixed_tokens=50, newest_first=source, budget=200, first_user=first, count=count)
    assert source.pulled < 20
    assert window.items[0].id == "old000001" and window.items[-1].id == "q"
    assert window.tokens <= 200


# -- examples -------------------------------------------------------------------------


def test_drops_from_the_middle_keeping_first_user_and_newest():
    thread = [item(f"m{i}", "user" if i % 2 == 0 else "assistant", 10) for i in range(10)]
    first = replace(thread[0], first_user=True)
    window = build_window(fixed_tokens=20, newest_first=reversed(thread), budget=20 + 45,
                          first_user=first, count=count)
    assert [i.id for i in window.items] == ["m0", "m7", "m8", "m9"]
    assert window.tokens == 60 and not window.truncated
    assert window.items[0].first_user


def test_without_first_user_keeps_only_the_newest():
    thread = [item(f"m{i}", "user" if i % 2 == 0 else "assistant", 10) for i in range(10)]
    window = build_window(fixed_tokens=0, newest_first=reversed(thread), budget=45, count=count)
    assert [i.id for i in window.items] == ["m6", "m7", "m8", "m9"]


def test_walk_stops_at_the_first_item_that_does_not_fit():
    thread = [item("m0", "user", 5), item("m1", "assistant", 100), item("m2", "user", 5),
              item("m3", "assistant", 5), item("m4", "user", 5)]
    window = build_window(fixed_tokens=0, newest_first=reversed(thread), budget=40, count=count)
    # m1 does not fit: the walk stops there, even though m0 alone would fit.
    assert [i.id for i in window.items] == ["m2", "m3", "m4"]


def test_older_items_are_not_kept_past_a_dropped_newer_one():
    thread = [item("m0", "user", 5), item("m1", "user", 5), item("m2", "assistant", 100)]
    window = build_window(fixed_tokens=0, newest_first=reversed(thread), budget=20, count=count)
    # m2 (after the newest user message) does not fit; m0 would, but is older than the gap.
    assert [i.id for i in window.items] == ["m1"]


def test_tool_work_after_the_newest_user_message_is_kept_newest_first():
    thread = [item("m0", "user", 10), item("c1", "assistant", 10, group="t1"),
              item("o1", "tool", 10, group="t1"), item("c2", "assistant", 10, group="t2"),
              item("o2", "tool", 10, group="t2")]
    window = build_window(fixed_tokens=0, newest_first=reversed(thread), budget=35, count=count)
    # The user message, then only the newest whole tool group (the older one would split).
    assert [i.id for i in window.items] == ["m0", "c2", "o2"]


def test_group_is_never_split_by_the_budget():
    thread = [item("m0", "user", 10), item("c1", "assistant", 10, group="t1"),
              item("o1", "tool", 10, group="t1"), item("m3", "user", 10)]
    window = build_window(fixed_tokens=0, newest_first=reversed(thread), budget=25, count=count)
    assert [i.id for i in window.items] == ["m3"]


def test_newest_user_message_cut_to_fit():
    big = item("u", "user", 500)
    window = build_window(fixed_tokens=10, newest_first=[big], budget=110, count=count)
    (cut,) = window.items
    assert window.truncated
    assert cut.text.startswith(TRUNCATION_MARKER)
    assert big.text.endswith(cut.text[len(TRUNCATION_MARKER):])
    assert cut.text.endswith("uw499")
    assert cut.tokens == 100 and window.tokens == 110  # the cut fills the room exactly


def test_cut_keeps_its_group_partner():
    thread = [item("c", "assistant", 30, group="g"), item("u", "user", 500, group="g")]
    window = build_window(fixed_tokens=0, newest_first=reversed(thread), budget=100, count=count)
    assert [i.id for i in window.items] == ["c", "u"]
    assert window.truncated and window.tokens <= 100


def test_newest_message_that_cannot_fit_raises_max_prompt_tokens():
    big = item("u", "user", 500)
    with pytest.raises(WindowError) as info:
        build_window(fixed_tokens=10, newest_first=[big], budget=10 + MARKER_TOKENS + MIN_USEFUL_TOKENS - 1,
                     count=count)
    assert info.value.reason == "max_prompt_tokens"
    window = build_window(fixed_tokens=10, newest_first=[big], budget=10 + MARKER_TOKENS + MIN_USEFUL_TOKENS,
                          count=count)
    assert window.truncated and count(window.items[0].text) == MARKER_TOKENS + MIN_USEFUL_TOKENS


def test_without_a_counter_nothing_can_be_cut():
    with pytest.raises(WindowError) as info:
        build_window(fixed_tokens=0, newest_first=[item("u", "user", 50)], budget=40)
    assert info.value.reason == "max_prompt_tokens"


def test_instructions_too_long():
    with pytest.raises(WindowError) as info:
        build_window(fixed_tokens=101, newest_first=[item("u", "user", 1)], budget=100, count=count)
    assert info.value.reason == "instructions_too_long"
    # Exactly at the budget is fine (nothing else fits, and the cut needs room).
    with pytest.raises(WindowError) as info:
        build_window(fixed_tokens=100, newest_first=[item("u", "user", 1)], budget=100, count=count)
    assert info.value.reason == "max_prompt_tokens"
    assert build_window(fixed_tokens=100, newest_first=[], budget=100).items == []


def test_last_messages_counts_items_and_never_splits_a_group():
    thread = [item("m0", "user", 5), item("c1", "assistant", 5, group="t"),
              item("o1", "tool", 5, group="t"), item("m3", "user", 5), item("m4", "assistant", 5)]
    strategy = Strategy(type="last_messages", last_messages=3)
    window = build_window(fixed_tokens=0, newest_first=reversed(thread), budget=1000,
                          strategy=strategy, first_user=replace(thread[0], first_user=True), count=count)
    # The 3rd newest item belongs to a group whose partner is 4th: the whole group is left out,
    # and last_messages never adds the first user message.
    assert [i.id for i in window.items] == ["m3", "m4"]
    strategy = Strategy(type="last_messages", last_messages=4)
    window = build_window(fixed_tokens=0, newest_first=reversed(thread), budget=1000,
                          strategy=strategy, count=count)
    assert [i.id for i in window.items] == ["c1", "o1", "m3", "m4"]



def test_an_earlier_runs_tool_work_is_history_not_messages_nor_the_newest_input():
    # A run with no new user message after an earlier run that called a tool: the earlier
    # call's output (a "user" item for the window) is not the newest input, and
    # last_messages counts only the messages around it.
    thread = [item("m0", "user", 5), replace(item("c1", "assistant", 5, group="t"), replayed=True),
              replace(item("o1", "user", 5, group="t"), replayed=True), item("m3", "assistant", 5)]
    window = build_window(fixed_tokens=0, newest_first=reversed(thread), budget=1000,
                          first_user=replace(thread[0], first_user=True), count=count)
    assert [i.id for i in window.items] == ["m0", "c1", "o1", "m3"]
    window = build_window(fixed_tokens=0, newest_first=reversed(thread), budget=12, count=count)
    # The newest real user message is the one always sent; the tool group does not fit.
    assert [i.id for i in window.items] == ["m0", "m3"]
    strategy = Strategy(type="last_messages", last_messages=2)
    window = build_window(fixed_tokens=0, newest_first=reversed(thread), budget=1000, strategy=strategy,
                          count=count)
    assert [i.id for i in window.items] == ["m0", "c1", "o1", "m3"]
    strategy = Strategy(type="last_messages", last_messages=1)
    window = build_window(fixed_tokens=0, newest_first=reversed(thread), budget=1000, strategy=strategy,
                          count=count)
    assert [i.id for i in window.items] == ["m3"]

def test_first_user_is_the_newest_user_message():
    thread = [item("m0", "user", 10), item("m1", "assistant", 10)]
    window = build_window(fixed_tokens=0, newest_first=reversed(thread), budget=100,
                          first_user=replace(thread[0], first_user=True), count=count)
    assert [i.id for i in window.items] == ["m0", "m1"]


def test_empty_thread():
    window = build_window(fixed_tokens=7, newest_first=iter(()), budget=10)
    assert window == Window(items=[], tokens=7, budget=10, truncated=False)


def test_strategy_from_request():
    assert Strategy.from_request(None) == Strategy()
    assert Strategy.from_request({}) == Strategy()
    assert Strategy.from_request({"type": "auto", "last_messages": None}) == Strategy()
    assert Strategy.from_request({"type": "last_messages", "last_messages": 4}) == \
        Strategy(type="last_messages", last_messages=4)


def test_budget_for():
    assert budget_for(4096, 1024, None) == 3072
    assert budget_for(4096, 1024, 500) == 500
    assert budget_for(4096, 1024, 5000) == 3072


def test_render_items():
    items = [item("a", "user", 2), item("b", "assistant", 1)]
    assert render_items([{"role": "system", "content": "S"}], items) == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "aw0 aw1"},
        {"role": "assistant", "content": "bw0"},
    ]


def test_an_answer_then_a_call_render_as_one_assistant_turn():
    """A message the model wrote before calling a tool, then the call: templates that lay
    out calls show them as one assistant turn (content, then tool_calls)."""
    from local_assistants.core.window import render_items

    said = WindowItem("m1", "assistant", "Let me compute it.", 5)
    call = WindowItem("s1:calls", "assistant", "<tool_call>...", 5, group="s1",
                      chat={"content": "", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {}}}]})
    result = WindowItem("s1:c1", "user", "42", 2, group="s1", chat={"role": "tool"})
    messages = render_items([{"role": "system", "content": "S"}], [said, call, result])
    assert messages == [{"role": "system", "content": "S"},
                        {"role": "assistant", "content": "Let me compute it.", "tool_calls": call.chat["tool_calls"]},
                        {"role": "tool", "content": "42"}]
    # Without chat fields (the fallback protocol) nothing is merged.
    plain = WindowItem("s1:calls", "assistant", "```python\n6*7\n```", 5, group="s1")
    assert len(render_items([], [said, plain])) == 2


# -- truncation disabled (a response's default): nothing may be dropped or cut ----------------


def disabled(case) -> dict:
    return dict(case, strategy=Strategy(type="disabled"))


@PROPS
@given(cases(kind="auto"))
def test_disabled_sends_everything_or_refuses_with_context_length_exceeded(case):
    case = disabled(case)
    total = sum(i.tokens for i in case["thread"])
    window, err = attempt(case)
    if case["fixed"] > case["budget"]:
        assert err is not None and err.reason == "instructions_too_long"
    elif case["fixed"] + total <= case["budget"]:
        assert err is None
        assert window.items == case["thread"] and not window.truncated
        assert window.tokens == case["fixed"] + total
    else:
        assert err is not None and err.reason == "context_length_exceeded"


@PROPS
@given(cases(kind="auto", fits=True))
def test_disabled_is_auto_without_the_first_user_pin_when_it_fits(case):
    assume(case["fixed"] <= case["budget"])
    window = run(disabled(case))
    assert window == run(dict(case, first=None))
    assert not any(i.first_user for i in window.items)  # the first user message is not pinned


def test_disabled_refuses_what_auto_would_drop_from_the_middle():
    thread = [item(f"m{i}", "user" if i % 2 == 0 else "assistant", 10) for i in range(10)]
    first = replace(thread[0], first_user=True)
    kwargs = dict(fixed_tokens=20, newest_first=reversed(thread), first_user=first, count=count)
    assert len(build_window(budget=65, **kwargs).items) == 4  # auto drops the middle
    with pytest.raises(WindowError) as info:
        build_window(budget=65, strategy=Strategy(type="disabled"), **dict(kwargs, newest_first=reversed(thread)))
    assert info.value.reason == "context_length_exceeded"
    window = build_window(budget=120, strategy=Strategy(type="disabled"), **dict(kwargs, newest_first=reversed(thread)))
    assert [i.id for i in window.items] == [i.id for i in thread] and window.tokens == 120


def test_disabled_never_cuts_the_newest_input():
    big = item("u", "user", 500)
    assert build_window(fixed_tokens=10, newest_first=[big], budget=110, count=count).truncated  # auto cuts
    with pytest.raises(WindowError) as info:
        build_window(fixed_tokens=10, newest_first=[big], budget=110, strategy=Strategy(type="disabled"),
                     count=count)
    assert info.value.reason == "context_length_exceeded"
    # an input too big with nothing after it, and tool work after the newest input that does not fit
    thread = [item("u", "user", 10), item("c", "assistant", 50, group="g"), item("o", "tool", 50, group="g")]
    with pytest.raises(WindowError) as info:
        build_window(fixed_tokens=0, newest_first=reversed(thread), budget=100, strategy=Strategy(type="disabled"),
                     count=count)
    assert info.value.reason == "context_length_exceeded"


def test_disabled_with_no_user_item_refuses_what_does_not_fit():
    thread = [item("a0", "assistant", 30), item("a1", "assistant", 30)]
    with pytest.raises(WindowError) as info:
        build_window(fixed_tokens=0, newest_first=reversed(thread), budget=50, strategy=Strategy(type="disabled"))
    assert info.value.reason == "context_length_exceeded"
    window = build_window(fixed_tokens=0, newest_first=reversed(thread), budget=60, strategy=Strategy(type="disabled"))
    assert [i.id for i in window.items] == ["a0", "a1"]


def test_disabled_from_a_request():
    assert Strategy.from_request({"type": "disabled", "last_messages": None}) == Strategy(type="disabled")
