"""Sampled tokens to streamed text: split UTF-8, stop strings held back until they cannot
begin, text after a stop string dropped."""

from __future__ import annotations

from local_assistants.adapters.token_text import TokenText, _find_stop, _stop_prefix_len

PIECES = {1: b"Hello", 2: b" wor", 3: b"ld", 4: b"<|im", 5: b"_end|>", 6: b"\xe2\x82", 7: b"\xac", 8: b"!", 9: b"<|i"}


def _text(stop=("<|im_end|>",)):
    return TokenText(lambda tokens, previous: b"".join(PIECES[t] for t in tokens), [100, 101], stop)


def test_pieces_are_shown_as_they_come():
    t = _text()
    assert [t.feed(x) for x in (1, 2, 3)] == ["Hello", " wor", "ld"]
    assert t.text == "Hello world" and t.tokens == 3 and not t.stopped


def test_a_character_split_across_tokens_is_shown_whole():
    t = _text()
    assert t.feed(6) == "" and t.feed(7) == "€"


def test_a_stop_string_ends_the_text_before_it():
    t = _text()
    t.feed(1)
    assert t.feed(4) == ""  # might begin the stop string: held
    assert t.so_far == "Hello<|im"
    assert t.feed(5) == "" and t.stopped
    assert t.text == "Hello" and t.flush() == ""


def test_held_text_that_is_no_stop_is_shown_after_all():
    t = _text()
    t.feed(9)
    assert t.feed(8) == "<|i!"
    t.feed(9)
    assert t.flush() == "<|i" and t.text == "<|i!<|i"


def test_the_detokenizer_sees_the_four_tokens_before():
    seen = []
    t = TokenText(lambda tokens, previous: seen.append(list(previous)) or b"x", [1, 2, 3, 4, 5], [])
    for token in (6, 7):
        t.feed(token)
    assert seen == [[2, 3, 4, 5], [3, 4, 5, 6]]


def test_stop_string_helpers():
    assert _find_stop("abc<|im_end|>def", ["<|im_end|>"]) == 3
    assert _find_stop("abc", ["<|im_end|>"]) is None
    assert _stop_prefix_len("hello <|im", ["<|im_end|>"]) == 4
    assert _stop_prefix_len("hello", ["<|im_end|>"]) == 0
