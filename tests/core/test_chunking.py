"""Chunking: strategies as OpenAI documents them, token windows, word boundaries, pieces."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local_assistants.core import chunking as c
from local_assistants.errors import InvalidRequestError


def spans_of(text: str) -> list[tuple[int, int]]:
    """A stand-in tokenizer: words and punctuation; words longer than 4 letters split in
    4-letter word pieces (so word-internal seams exist, as with ## pieces)."""
    out = []
    for m in re.finditer(r"\w+|[^\w\s]", text):
        s, e = m.span()
        while e - s > 4 and text[s].isalnum():
            out.append((s, s + 4))
            s += 4
        out.append((s, e))
    return out


# -- strategies -----------------------------------------------------------------------------

def test_auto_and_default_are_800_400():
    auto = {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}}
    assert c.chunking_strategy(None) == auto
    assert c.chunking_strategy({"type": "auto"}) == auto


def test_static_is_kept():
    value = {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 50}}
    assert c.chunking_strategy(value) == value
    big = {"type": "static", "static": {"max_chunk_size_tokens": 4096, "chunk_overlap_tokens": 0}}
    assert c.chunking_strategy(big) == big


@pytest.mark.parametrize("value, param", [
    ("auto", "chunking_strategy"),
    ({"type": "dynamic"}, "chunking_strategy.type"),
    ({"type": "static"}, "chunking_strategy.static"),
    ({"type": "static", "static": {"max_chunk_size_tokens": 99, "chunk_overlap_tokens": 0}},
     "chunking_strategy.static.max_chunk_size_tokens"),
    ({"type": "static", "static": {"max_chunk_size_tokens": 4097, "chunk_overlap_tokens": 0}},
     "chunking_strategy.static.max_chunk_size_tokens"),
    ({"type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 101}},
     "chunking_strategy.static.chunk_overlap_tokens"),
    ({"type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": -1}},
     "chunking_strategy.static.chunk_overlap_tokens"),
    ({"type": "static", "static": {"max_chunk_size_tokens": "800", "chunk_overlap_tokens": 400}},
     "chunking_strategy.static.max_chunk_size_tokens"),
    ({"type": "static", "static": {"max_chunk_size_tokens": 800}}, "chunking_strategy.static.chunk_overlap_tokens"),
    ({"type": "auto", "static": {}}, "chunking_strategy.static"),
])
def test_bad_strategies(value, param):
    with pytest.raises(InvalidRequestError) as info:
        c.chunking_strategy(value)
    assert info.value.param == param


# -- windows --------------------------------------------------------------------------------

def test_windows_cover_everything_with_overlap():
    starts = [True] * 1000
    ws = c.windows(starts, 100, 30)
    assert ws[0] == (0, 100)
    assert ws[-1][1] == 1000
    for (a1, b1), (a2, b2) in zip(ws, ws[1:]):
        assert b2 - a2 <= 100
        assert b1 - a2 == 30  # exactly the overlap when every token starts a word
        assert a2 > a1


def test_windows_of_short_and_empty_input():
    assert c.windows([], 100, 10) == []
    assert c.windows([True] * 5, 100, 10) == [(0, 5)]


def test_windows_do_not_cut_words():
    # words of 3 tokens each: starts at 0, 3, 6, ...
    starts = [i % 3 == 0 for i in range(300)]
    for a, b in c.windows(starts, 100, 20):
        assert starts[a]
        assert b == 300 or starts[b]
        assert b - a <= 100


def test_a_word_longer_than_the_window_is_cut_inside():
    starts = [True] + [False] * 499 + [True] * 10
    ws = c.windows(starts, 100, 10)
    assert ws[-1][1] == 510
    assert all(b - a <= 100 for a, b in ws)
    assert all(a2 > a1 for (a1, _), (a2, _) in zip(ws, ws[1:]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=400), st.integers(1, 60), st.integers(0, 59))
def test_windows_properties(raw_starts, size, overlap):
    starts = [True] + raw_starts[1:]
    ws = c.windows(starts, size, overlap)
    assert ws[0][0] == 0 and ws[-1][1] == len(starts)
    for a, b in ws:
        assert 0 < b - a <= size
    for (a1, b1), (a2, b2) in zip(ws, ws[1:]):
        assert a1 < a2 <= b1  # moves on, and leaves no gap
        assert b1 < b2


# -- word starts and chunk_text ---------------------------------------------------------------

def test_word_starts():
    text = "Hello, worldwide peace."
    spans = spans_of(text)
    assert [text[s:e] for s, e in spans] == ["Hell", "o", ",", "worl", "dwid", "e", "peac", "e", "."]
    assert c.word_starts(text, spans) == [True, False, True, True, False, False, True, False, True]


def test_chunk_text_counts_tokens_and_keeps_text():
    words = [f"w{i}" for i in range(1000)]
    text = " ".join(words)
    spans = spans_of(text)
    chunks = c.chunk_text(text, spans, max_tokens=100, overlap=50, piece_tokens=40)
    assert [ch.position for ch in chunks] == list(range(len(chunks)))
    assert all(ch.tokens <= 100 for ch in chunks)
    assert chunks[0].text == " ".join(words[:100])
    assert chunks[1].text.startswith("w50 ")
    assert chunks[-1].text.endswith("w999")
    for ch in chunks:
        assert ch.text == text[ch.start_char:ch.end_char]
        # the pieces cover the chunk, each at most piece_tokens word pieces
        assert ch.pieces[0].startswith(ch.text[:10]) and ch.text.endswith(ch.pieces[-1][-10:])
        assert all(len(spans_of(p)) <= 40 for p in ch.pieces)
        joined = set()
        for p in ch.pieces:
            joined.update(p.split())
        assert joined == set(ch.text.split())


def test_chunk_text_of_empty_text():
    assert c.chunk_text("", [], max_tokens=100, overlap=0, piece_tokens=10) == []
    assert c.chunk_text("   \n ", [], max_tokens=100, overlap=0, piece_tokens=10) == []


def test_pieces_start_and_end_on_whole_words():
    text = " ".join(["internationalization"] * 200)  # 5 pieces a word in the stand-in tokenizer
    spans = spans_of(text)
    (chunk,) = c.chunk_text(text, spans, max_tokens=1000, overlap=0, piece_tokens=48)
    assert len(chunk.pieces) > 1
    for p in chunk.pieces:
        assert set(p.split()) == {"internationalization"}
        assert len(spans_of(p)) <= 48
