"""The llama.cpp adapter on the real default model: formatting, decoding, KV prefix reuse."""

from __future__ import annotations

import pytest

from conftest import MODELS_DIR
from local_assistants.adapters.llama import LlamaChatModel
from local_assistants.errors import ModelError

GGUF = MODELS_DIR / "SmolLM2-135M-Instruct.Q4_1.gguf"
SYSTEM = {"role": "system", "content": "You are a helpful math tutor."}


@pytest.fixture(scope="module")
def model():
    m = LlamaChatModel(GGUF, name="smollm2-135m-instruct", n_ctx=4096, slots=2)
    yield m
    m.close()


@pytest.fixture(scope="module")
def one_slot():
    """One sequence: a second thread's turn takes the slot, so the first one's state is
    saved and restored."""
    m = LlamaChatModel(GGUF, name="smollm2-135m-instruct", n_ctx=4096, slots=1)
    yield m
    m.close()


def _ask(model, messages, max_tokens=24):
    tokens = model.tokenize_prompt(model.format(messages))
    gen = model.generate(tokens, max_tokens=max_tokens, temperature=0.0)
    text = "".join(gen)
    return tokens, text, gen.completion


def test_template_comes_from_the_gguf_metadata(model):
    prompt = model.format([SYSTEM, {"role": "user", "content": "Hi"}])
    assert prompt == ("<|im_start|>system\nYou are a helpful math tutor.<|im_end|>\n"
                      "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    assert "<|im_end|>" in model.template.stop


def test_generation_streams_pieces_and_reports_usage(model):
    tokens, text, done = _ask(model, [SYSTEM, {"role": "user", "content": "What is 2 + 2?"}])
    assert text and done.text == text
    assert done.prompt_tokens == len(tokens)
    assert 0 < done.completion_tokens <= 24
    assert "<|im_end|>" not in text


def test_max_tokens_ends_with_length(model):
    _, _, done = _ask(model, [SYSTEM, {"role": "user", "content": "Count from 1 to 100."}], max_tokens=3)
    assert done.finish_reason == "length" and done.completion_tokens == 3


def test_should_stop_cancels_between_tokens(model):
    tokens = model.tokenize_prompt(model.format([SYSTEM, {"role": "user", "content": "Write an essay."}]))
    seen = []
    gen = model.generate(tokens, max_tokens=200, temperature=0.0, should_stop=lambda: len(seen) >= 2)
    for piece in gen:
        seen.append(piece)
    assert gen.completion.finish_reason == "cancelled"
    assert gen.completion.completion_tokens < 200


def test_follow_up_turn_reuses_the_threads_prefix(model):
    history = [SYSTEM, {"role": "user", "content": "I need to solve 3x + 11 = 14."}]
    first_tokens, answer, _ = _ask(model, history)
    before = dict(model.stats)
    follow = history + [{"role": "assistant", "content": answer}, {"role": "user", "content": "And x?"}]
    _ask(model, follow)
    reused = model.stats["prefix_reused_tokens"] - before["prefix_reused_tokens"]
    assert reused >= len(first_tokens) - 1


def test_interleaved_threads_restore_their_saved_state(one_slot):
    model = one_slot
    a = [SYSTEM, {"role": "user", "content": "Thread A: what is 12 * 12?"}]
    b = [SYSTEM, {"role": "user", "content": "Thread B: tell me about triangles and their angles."}]
    a_tokens, a_answer, _ = _ask(model, a)
    _ask(model, b)  # the one slot now holds thread B
    before = dict(model.stats)
    a2 = a + [{"role": "assistant", "content": a_answer}, {"role": "user", "content": "Thanks!"}]
    _ask(model, a2)
    assert model.stats["restored_states"] == before["restored_states"] + 1
    reused = model.stats["prefix_reused_tokens"] - before["prefix_reused_tokens"]
    assert reused >= len(a_tokens) - 1


def test_interleaved_threads_each_keep_a_slot(model):
    a = [SYSTEM, {"role": "user", "content": "Thread A: what is 13 * 13?"}]
    b = [SYSTEM, {"role": "user", "content": "Thread B: tell me about squares and their sides."}]
    a_tokens, a_answer, _ = _ask(model, a)
    _ask(model, b)  # in the other slot: A's stays
    before = dict(model.stats)
    a2 = a + [{"role": "assistant", "content": a_answer}, {"role": "user", "content": "Thanks!"}]
    _ask(model, a2)
    assert model.stats["restored_states"] == before["restored_states"]
    assert model.stats["prefix_reused_tokens"] - before["prefix_reused_tokens"] >= len(a_tokens) - 1


def test_forget_cached_makes_a_cold_start(model):
    a = [SYSTEM, {"role": "user", "content": "Thread C: what is 14 * 14?"}]
    _ask(model, a)
    model.forget_cached()
    before = dict(model.stats)
    _ask(model, a)
    assert model.stats["prefix_reused_tokens"] == before["prefix_reused_tokens"]
    assert not model.states.entries


def test_restored_state_gives_the_same_answer_as_a_cold_start(one_slot):
    model = one_slot
    a = [SYSTEM, {"role": "user", "content": "Name three prime numbers."}]
    b = [SYSTEM, {"role": "user", "content": "Something else entirely: colours of the rainbow."}]
    _ask(model, a)
    _ask(model, b)
    follow = a + [{"role": "assistant", "content": "2, 3 and 5."}, {"role": "user", "content": "Two more?"}]
    _, warm, _ = _ask(model, follow)  # restores A's saved state
    cold_model = LlamaChatModel(GGUF, name="cold", n_ctx=4096)
    try:
        _, cold, _ = _ask(cold_model, follow)
    finally:
        cold_model.close()
    assert warm == cold


def test_a_broken_gguf_is_a_model_error_not_a_crash(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(ModelError):
        LlamaChatModel(bad, name="broken").load()
    with pytest.raises(ModelError):
        LlamaChatModel(tmp_path / "missing.gguf", name="missing").load()
