"""Per-token logprobs and cached-token counts from the batch engine, on the real small model:
the logprobs agree with llama-cpp-python's own (a separate ``Llama`` with every position's
logits), stay aligned with the completion's tokens, belong to their own sequence when
several decode in one batch, and ``cached_tokens`` says what the engine really held."""

from __future__ import annotations

import threading
import time

import pytest

from llama_reference import GGUF, generate, prompt_tokens, reference_llama
from local_assistants.adapters.llama import LlamaChatModel
from local_assistants.errors import InvalidRequestError
from local_assistants.testing import FakeChatModel

STORY = "Write a short story about a cat called Tom."
OTHER = "List the planets of the solar system, one per line."
TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def model():
    # No repeat penalty: llama-cpp-python's create_completion has none by default, so both
    # choose the same greedy tokens.
    m = LlamaChatModel(GGUF, name="smollm2-135m-instruct", n_ctx=2048, slots=2, repeat_penalty=1.0)
    yield m
    m.close()


@pytest.fixture(scope="module")
def reference(model):
    """llama-cpp-python on the same GGUF, keeping every position's logits for its logprobs."""
    llm = reference_llama(model)
    yield llm
    llm.close()


_tokens, _generate = prompt_tokens, generate


def _text(entry) -> str:
    """A piece as llama-cpp-python shows it (incomplete UTF-8 dropped)."""
    return bytes(entry["bytes"]).decode("utf-8", "ignore")


def _assert_same_logprobs(ours: list[dict], theirs: list[dict], tolerance: float = TOLERANCE):
    """Token by token, as far as both chose the same tokens: the chosen token's logprob and
    the most likely tokens agree (a token at the edge of the top N may trade places with one
    within the tolerance of it)."""
    assert ours and theirs
    for position, (a, b) in enumerate(zip(ours, theirs)):
        if a["bytes"] != b["bytes"]:
            break
        assert a["logprob"] == pytest.approx(b["logprob"], abs=tolerance), position
        top_a = {bytes(t["bytes"]): t["logprob"] for t in a["top_logprobs"]}
        top_b = {bytes(t["bytes"]): t["logprob"] for t in b["top_logprobs"]}
        edge = min(top_b.values(), default=0.0)
        for piece, logprob in top_a.items():
            if piece in top_b:
                assert logprob == pytest.approx(top_b[piece], abs=tolerance), (position, piece)
            else:
                assert logprob == pytest.approx(edge, abs=tolerance), (position, piece, top_b)
    assert ours[0]["bytes"] == theirs[0]["bytes"]


def test_logprobs_agree_with_llama_cpp_pythons_own(model, reference):
    tokens = _tokens(model, STORY)
    n = 24
    text, done = _generate(model, tokens, max_tokens=n, logprobs=5)
    assert done.finish_reason == "length" and done.completion_tokens == n == len(done.logprobs)
    raw = reference.create_completion(tokens, max_tokens=n, temperature=0.0, logprobs=5)["choices"][0]
    assert raw["text"] == text  # the same greedy tokens
    theirs = raw["logprobs"]
    assert len(theirs["tokens"]) == n
    for position, entry in enumerate(done.logprobs):
        assert _text(entry) == theirs["tokens"][position]
        assert abs(entry["logprob"] - theirs["token_logprobs"][position]) < TOLERANCE, position
        top = theirs["top_logprobs"][position]  # the 5 most likely by text, and the chosen one
        ours = {_text(t): t["logprob"] for t in entry["top_logprobs"]}
        assert len(entry["top_logprobs"]) == 5
        assert set(ours) <= set(top), (position, ours, top)
        for piece, logprob in ours.items():
            assert abs(logprob - top[piece]) < TOLERANCE, (position, piece)
        assert [t["logprob"] for t in entry["top_logprobs"]] == sorted(ours.values(), reverse=True)


def test_every_token_has_its_own_entry_and_no_other(model):
    """At a temperature, the sampled token is often not the most likely: its entry is still
    its own. The entries spell the completion's text, one per completion token."""
    tokens = _tokens(model, STORY)
    text, done = _generate(model, tokens, max_tokens=40, temperature=1.5, logprobs=3)
    assert len(done.logprobs) == done.completion_tokens
    assert b"".join(bytes(e["bytes"]) for e in done.logprobs).decode("utf-8", "replace") == text
    below_top = 0
    for entry in done.logprobs:
        top = entry["top_logprobs"]
        assert len(top) == 3 and entry["logprob"] <= top[0]["logprob"]
        assert entry["token"] == bytes(entry["bytes"]).decode("utf-8", "replace")
        assert all(t["logprob"] <= 0.0 for t in top)
        same = [t for t in top if t["bytes"] == entry["bytes"]]
        if same:
            assert same[0]["logprob"] == entry["logprob"]
        below_top += entry["logprob"] < top[0]["logprob"]
    assert below_top > 0  # the test saw sampled tokens that were not the most likely


def test_the_end_of_the_turn_and_a_stop_string_keep_the_entries_aligned(model):
    tokens = model.tokenize_prompt(model.format([{"role": "user", "content": "Say hi."}]))
    text, done = _generate(model, tokens, max_tokens=200, logprobs=2)
    assert done.finish_reason == "stop" and done.completion_tokens < 200
    assert len(done.logprobs) == done.completion_tokens  # the end-of-turn token is not one
    assert "<|im_end|>" not in "".join(e["token"] for e in done.logprobs)

    text, done = _generate(model, _tokens(model, STORY), max_tokens=100, stop=[" the"], logprobs=2)
    assert done.finish_reason == "stop" and len(done.logprobs) == done.completion_tokens
    spelled = "".join(e["token"] for e in done.logprobs)
    assert spelled.startswith(text) and " the" in spelled[len(text):]


def test_no_logprobs_unless_asked_and_none_for_zero_alternatives(model):
    tokens = _tokens(model, STORY)
    _, done = _generate(model, tokens, max_tokens=4)
    assert done.logprobs is None
    _, done = _generate(model, tokens, max_tokens=4, logprobs=0)
    assert len(done.logprobs) == 4 and all(e["top_logprobs"] == [] for e in done.logprobs)
    _, done = _generate(model, tokens, max_tokens=0, logprobs=3)
    assert done.logprobs == [] and done.completion_tokens == 0
    with pytest.raises(InvalidRequestError):
        _generate(model, tokens, max_tokens=4, logprobs=21)


def test_cached_tokens_count_what_the_engine_held(model):
    model.forget_cached()
    tokens = _tokens(model, "Thread D: what is 15 * 15?")
    before = model.stats["prefix_reused_tokens"]
    answer, cold = _generate(model, tokens, max_tokens=12)
    assert cold.cached_tokens == 0 and model.stats["prefix_reused_tokens"] == before
    _, again = _generate(model, tokens, max_tokens=12)
    assert again.cached_tokens == len(tokens) - 1  # all of it held; the last one evaluated again for its logits
    follow = model.tokenize_prompt(model.format([
        {"role": "user", "content": "Thread D: what is 15 * 15?"}, {"role": "assistant", "content": answer},
        {"role": "user", "content": "And 16 * 16?"}]))
    before = model.stats["prefix_reused_tokens"]
    _, later = _generate(model, follow, max_tokens=4)
    held = model.stats["prefix_reused_tokens"] - before
    assert later.cached_tokens == held >= len(tokens)
    assert later.prompt_tokens == len(follow) > later.cached_tokens


def test_cached_tokens_count_a_restored_state():
    one = LlamaChatModel(GGUF, name="smollm2-135m-instruct", n_ctx=1024, slots=1)
    try:
        a, b = _tokens(one, "Thread E: name a colour."), _tokens(one, "Something else: name a fruit, please.")
        _generate(one, a, max_tokens=4)
        _generate(one, b, max_tokens=4)  # the one slot now holds b; a's state was saved
        restored = one.stats["restored_states"]
        _, done = _generate(one, a, max_tokens=4)
        assert one.stats["restored_states"] == restored + 1
        assert done.cached_tokens == len(a) - 1
    finally:
        one.close()


def test_sequences_decoded_in_one_batch_get_their_own_logprobs(model):
    """Two generations admitted together decode in the same steps: each one's logprobs are
    those it gets alone (a row read at the wrong batch index would be the other's)."""
    questions = [STORY, OTHER]
    alone = [_generate(model, _tokens(model, q), max_tokens=16, logprobs=5)[1] for q in questions]
    model.forget_cached()
    gens = [model.generate(_tokens(model, q), max_tokens=16, temperature=0.0, logprobs=5) for q in questions]
    threads = [threading.Thread(target=lambda g=g: "".join(g)) for g in gens]
    with model.engine.paused():
        for t in threads:
            t.start()
        while len(model.engine.waiting) < 2:
            time.sleep(0.005)
    for t in threads:
        t.join()
    together = [g.completion for g in gens]
    for a, b in zip(alone, together):
        _assert_same_logprobs(b.logprobs, a.logprobs)
    assert together[0].logprobs[0]["bytes"] != together[1].logprobs[0]["bytes"]  # they are told apart


def test_the_fake_model_gives_entries_of_the_same_shape(model):
    _, real = _generate(model, _tokens(model, STORY), max_tokens=3, logprobs=2)
    fake = FakeChatModel(["hé!"])
    gen = fake.generate(fake.tokenize_prompt("hi"), max_tokens=10, logprobs=2)
    "".join(gen)
    entries = gen.completion.logprobs
    assert len(entries) == gen.completion.completion_tokens == 3
    for ours, theirs in zip(entries, real.logprobs):
        assert set(ours) == set(theirs) and len(ours["top_logprobs"]) == len(theirs["top_logprobs"])
        assert set(ours["top_logprobs"][0]) == set(theirs["top_logprobs"][0])
    assert bytes(entries[1]["bytes"]).decode() == "é" and entries[1]["top_logprobs"][0]["token"] == "é"
    fake.say("x")
    again = fake.generate(fake.tokenize_prompt("hi there"), max_tokens=10)
    "".join(again)
    assert again.completion.logprobs is None and again.completion.cached_tokens == 2
