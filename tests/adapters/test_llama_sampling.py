"""The sampling options chat and legacy completions pass to the llama adapter, on the real small
model: a request's own seed (the same text alone or batched, another seed another text),
frequency and presence penalties, logit bias, prompt logprobs (against llama-cpp-python's
own, and scoring a text with ``max_tokens=0``), and stop strings."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from llama_reference import GGUF, generate, prompt_tokens, reference_llama
from local_assistants.adapters.llama import LlamaChatModel
from local_assistants.errors import InvalidRequestError
from local_assistants.testing import FakeChatModel

STORY = "Write a short story about a cat called Tom."
HELLO = "Write the word 'hello' ten times."
TOLERANCE = 1e-3
SCORED = ("The capital of France is Paris. The capital of Italy is Rome. The capital of Spain is Madrid. "
          "The capital of Germany is Berlin. The capital of Portugal is Lisbon. The capital of Austria is "
          "Vienna. The capital of Poland is Warsaw. The capital of Greece is Athens. The capital of Norway "
          "is Oslo. The capital of Sweden is Stockholm.")


@pytest.fixture(scope="module")
def model():
    # No repeat penalty: llama-cpp-python's create_completion has none by default, and the
    # penalties' own effect is what is measured here.
    m = LlamaChatModel(GGUF, name="smollm2-135m-instruct", n_ctx=2048, slots=3, repeat_penalty=1.0)
    yield m
    m.close()


@pytest.fixture(scope="module")
def reference(model):
    """llama-cpp-python on the same GGUF, keeping every position's logits."""
    llm = reference_llama(model)
    yield llm
    llm.close()


_tokens, _generate = prompt_tokens, generate


def _together(model, calls: list[tuple[list[int], dict]]):
    """Generations admitted in one go, decoding in the same steps; their completions."""
    gens = [model.generate(tokens, **{"temperature": 0.0, **options}) for tokens, options in calls]
    threads = [threading.Thread(target=lambda g=g: "".join(g)) for g in gens]
    with model.engine.paused():
        for t in threads:
            t.start()
        while len(model.engine.waiting) < len(gens):
            time.sleep(0.005)
    for t in threads:
        t.join()
    return [g.completion for g in gens]


def _repeats(completion) -> float:
    """The share of a completion's tokens that are a token it had already written."""
    pieces = [bytes(e["bytes"]) for e in completion.logprobs]
    return (len(pieces) - len(set(pieces))) / len(pieces)


def _text(entry) -> str:
    """A piece as llama-cpp-python shows it (incomplete UTF-8 dropped)."""
    return bytes(entry["bytes"]).decode("utf-8", "ignore")


# -- seed ---------------------------------------------------------------------------------
def test_the_same_seed_gives_the_same_text_alone_and_batched_with_others(model):
    story, planets = _tokens(model, STORY), _tokens(model, "List the planets of the solar system.")
    sampled = dict(max_tokens=40, temperature=1.0, top_p=0.95, seed=1234)
    alone, _ = _generate(model, story, **sampled)
    again, _ = _generate(model, story, **sampled)
    greedy, _ = _generate(model, planets, max_tokens=24, seed=99)
    assert alone == again and len(alone) > 40
    model.forget_cached()
    batched = _together(model, [(planets, dict(max_tokens=24, seed=99)),
                                (story, sampled),
                                (_tokens(model, "Count to twenty."), dict(max_tokens=40, temperature=0.9, seed=5))])
    assert batched[1].text == alone
    assert batched[0].text == greedy  # greedy too
    assert batched[2].completion_tokens == 40


def test_different_seeds_give_different_texts_and_no_seed_is_the_models(model):
    story = _tokens(model, STORY)
    texts = {seed: _generate(model, story, max_tokens=40, temperature=1.0, seed=seed)[0] for seed in (1, 2, 3)}
    assert len(set(texts.values())) == 3, texts
    default, _ = _generate(model, story, max_tokens=40, temperature=1.0)
    assert default == _generate(model, story, max_tokens=40, temperature=1.0, seed=model.seed)[0]
    # Seeds beyond llama.cpp's 32 bits are taken, never as its "random seed" (0xFFFFFFFF).
    big, _ = _generate(model, story, max_tokens=8, temperature=1.0, seed=2**32 - 1)
    assert big == _generate(model, story, max_tokens=8, temperature=1.0, seed=2**32 - 1)[0]


# -- penalties ----------------------------------------------------------------------------
def test_a_frequency_penalty_breaks_a_greedy_repetition(model):
    tokens = _tokens(model, HELLO)
    _, plain = _generate(model, tokens, max_tokens=60, logprobs=0)
    assert plain.completion_tokens == 60 and _repeats(plain) > 0.8  # "Hello, hello, hello, ..."
    _, penalised = _generate(model, tokens, max_tokens=60, logprobs=0, frequency_penalty=2.0)
    assert penalised.text != plain.text
    assert _repeats(penalised) < _repeats(plain) / 2, penalised.text
    _, present = _generate(model, tokens, max_tokens=60, logprobs=0, presence_penalty=2.0)
    assert present.text != plain.text and _repeats(present) < _repeats(plain)


def test_penalties_and_biases_out_of_range_are_refused(model):
    tokens = _tokens(model, HELLO)
    for options in (dict(frequency_penalty=2.5), dict(presence_penalty=-3.0), dict(logit_bias={10: 101}),
                    dict(prompt_logprobs=21), dict(frequency_penalty=float("nan"))):
        with pytest.raises(InvalidRequestError):
            model.generate(tokens, max_tokens=4, **options)
    with pytest.raises(InvalidRequestError):  # a token the vocabulary lacks, found once the model is there
        _generate(model, tokens, max_tokens=4, logit_bias={model.engine.n_vocab: 5})


# -- logit bias ---------------------------------------------------------------------------
def test_logit_bias_bans_the_greedy_first_token_and_forces_another(model):
    tokens = _tokens(model, STORY)
    _, plain = _generate(model, tokens, max_tokens=3, logprobs=1)
    first = model.llm.tokenize(bytes(plain.logprobs[0]["bytes"]), add_bos=False, special=True)
    assert len(first) == 1
    _, banned = _generate(model, tokens, max_tokens=3, logprobs=1, logit_bias={first[0]: -100})
    assert banned.logprobs[0]["bytes"] != plain.logprobs[0]["bytes"]
    # The logprobs stay the raw logits' (before the bias): the banned token is still the most likely.
    assert banned.logprobs[0]["top_logprobs"][0]["bytes"] == plain.logprobs[0]["bytes"]
    zebra = model.llm.tokenize(b" zebra", add_bos=False)
    assert len(zebra) == 1
    forced, done = _generate(model, tokens, max_tokens=3, logit_bias={zebra[0]: 100})
    assert forced == " zebra zebra zebra" and done.finish_reason == "length"
    assert _generate(model, tokens, max_tokens=3)[0] == plain.text  # nothing left behind in the model


# -- prompt logprobs ----------------------------------------------------------------------
def _logsoftmax(row: np.ndarray) -> np.ndarray:
    row = row.astype(np.float64)
    peak = row.max()
    return row - (peak + np.log(np.exp(row - peak).sum()))


def test_prompt_logprobs_agree_with_llama_cpp_pythons_own(model, reference):
    tokens = model.tokenize_prompt(SCORED)
    assert len(tokens) > model.prefill_chunk  # scored over several chunks
    _generate(model, tokens, max_tokens=1)  # a slot now holds this prompt: scoring must not reuse it
    text, done = _generate(model, tokens, max_tokens=1, prompt_logprobs=5, logprobs=5)
    assert done.cached_tokens == 0 and done.prompt_tokens == len(tokens)
    entries = done.prompt_logprobs
    assert len(entries) == len(tokens)
    assert entries[0]["logprob"] is None and entries[0]["top_logprobs"] is None
    assert b"".join(bytes(e["bytes"]) for e in entries).decode() == SCORED

    assert reference.tokenize(SCORED.encode(), add_bos=False) == tokens
    raw = reference.create_completion(SCORED, max_tokens=1, echo=True, logprobs=5, temperature=0.0)
    theirs = raw["choices"][0]["logprobs"]
    assert raw["choices"][0]["text"] == SCORED + text
    assert theirs["tokens"][:len(tokens)] == [_text(e) for e in entries]
    # llama-cpp-python's echo scores token i with the logits *after* it (the row predicting token
    # i + 1; abetlen/llama-cpp-python#1983): its top_logprobs[i - 1] are the alternatives at
    # position i, and token i's own logprob is read from its row i - 1 of logits.
    rows = reference.scores[:len(tokens)]
    for i in range(1, len(tokens)):
        expected = _logsoftmax(rows[i - 1])
        assert entries[i]["logprob"] == pytest.approx(expected[tokens[i]], abs=TOLERANCE), i
        ours = entries[i]["top_logprobs"]
        assert [t["logprob"] for t in ours] == pytest.approx(sorted(expected)[::-1][:5], abs=TOLERANCE), i
        top = theirs["top_logprobs"][i - 1]  # None for the first token, as OpenAI's echo shows it
        for alternative in ours:
            if top is not None and _text(alternative) in top:  # (special tokens show as "" there)
                assert alternative["logprob"] == pytest.approx(top[_text(alternative)], abs=TOLERANCE), i
    # The last prompt token's alternatives are those generating after the tokens before it sees.
    _, before = _generate(model, tokens[:-1], max_tokens=1, logprobs=5)
    seen = before.logprobs[0]["top_logprobs"]
    assert [t["bytes"] for t in seen] == [t["bytes"] for t in entries[-1]["top_logprobs"]]
    assert [t["logprob"] for t in seen] == pytest.approx([t["logprob"] for t in entries[-1]["top_logprobs"]],
                                                         abs=TOLERANCE)
    # And the completion's own logprobs are unchanged by scoring the prompt.
    _, plain = _generate(model, tokens, max_tokens=1, logprobs=5)
    assert plain.logprobs[0]["logprob"] == pytest.approx(done.logprobs[0]["logprob"], abs=TOLERANCE)
    assert plain.prompt_logprobs is None


def test_max_tokens_zero_scores_a_text_without_generating(model):
    tokens = model.tokenize_prompt(SCORED)
    text, done = _generate(model, tokens, max_tokens=0, prompt_logprobs=2, logprobs=2)
    assert text == "" and done.completion_tokens == 0 and done.finish_reason == "length"
    assert done.logprobs == [] and len(done.prompt_logprobs) == len(tokens)
    assert all(len(e["top_logprobs"]) == 2 for e in done.prompt_logprobs[1:])
    _, longer = _generate(model, tokens, max_tokens=2, prompt_logprobs=2)
    assert [e["bytes"] for e in longer.prompt_logprobs] == [e["bytes"] for e in done.prompt_logprobs]
    for a, b in zip(done.prompt_logprobs[1:], longer.prompt_logprobs[1:]):
        assert a["logprob"] == pytest.approx(b["logprob"], abs=TOLERANCE)
    _, bare = _generate(model, tokens, max_tokens=0, prompt_logprobs=0)
    assert all(e["top_logprobs"] == [] for e in bare.prompt_logprobs[1:])
    one, single = _generate(model, tokens[:1], max_tokens=0, prompt_logprobs=3)
    assert one == "" and len(single.prompt_logprobs) == 1 and single.prompt_logprobs[0]["logprob"] is None
    _, nothing = _generate(model, tokens, max_tokens=0)
    assert nothing.prompt_logprobs is None and nothing.completion_tokens == 0
    _, empty = _generate(model, [], max_tokens=0, prompt_logprobs=1)
    assert empty.prompt_logprobs == [] and empty.prompt_tokens == 0


def test_a_prompt_scored_in_a_batch_with_others_gets_its_own_entries(model):
    """Admitted with two other generations, the scored prompt's chunks share steps with their
    prompts and tokens: its entries are still its own, position by position. llama.cpp splits a
    step of several sequences into micro-batches of as many tokens per sequence, so the later
    part of the prompt is computed in micro-batches of another shape than alone, and its sums
    round differently (measured: up to 0.07 apart); a row of another sequence or position would
    be nats apart."""
    tokens = model.tokenize_prompt(SCORED)
    _, alone = _generate(model, tokens, max_tokens=0, prompt_logprobs=3)
    model.forget_cached()
    together = _together(model, [(_tokens(model, STORY), dict(max_tokens=30)),
                                 (tokens, dict(max_tokens=0, prompt_logprobs=3)),
                                 (_tokens(model, HELLO), dict(max_tokens=30, temperature=1.0, seed=3))])
    scored = together[1].prompt_logprobs
    assert [e["bytes"] for e in scored] == [e["bytes"] for e in alone.prompt_logprobs]
    for position, (a, b) in enumerate(zip(scored[1:], alone.prompt_logprobs[1:]), 1):
        assert a["logprob"] == pytest.approx(b["logprob"], abs=0.15), position
        assert len(a["top_logprobs"]) == 3
    assert together[0].completion_tokens == 30 and together[0].prompt_logprobs is None
    assert together[1].completion_tokens == 0 and together[1].text == ""


# -- stop strings -------------------------------------------------------------------------
def test_a_stop_string_ending_the_text_is_cut_and_the_turn_stops(model):
    tokens = _tokens(model, HELLO)
    _, plain = _generate(model, tokens, max_tokens=6, logprobs=0)
    pieces = [_text(e) for e in plain.logprobs]
    assert pieces[:4] == ["Hello", ",", " hello", ","]
    # The stop string is complete with the 4th token, the last one allowed: a stop, not the length.
    text, done = _generate(model, tokens, max_tokens=4, stop=[" hello,"])
    assert text == done.text == "Hello," and done.finish_reason == "stop" and done.completion_tokens == 4
    # One token short of it: the held start of the stop string is shown, the turn ran out of length.
    text, done = _generate(model, tokens, max_tokens=3, stop=[" hello,"])
    assert text == "Hello, hello" and done.finish_reason == "length"


# -- the fake model -----------------------------------------------------------------------
def test_the_fake_model_takes_the_same_options_and_gives_prompt_entries_of_the_same_shape(model):
    _, real = _generate(model, model.tokenize_prompt("Hi there"), max_tokens=0, prompt_logprobs=2)
    fake = FakeChatModel(["ok", "ok"])
    gen = fake.generate(fake.tokenize_prompt("Hi"), max_tokens=0, prompt_logprobs=2, seed=3,
                        frequency_penalty=1.0, presence_penalty=0.5, logit_bias={5: -100})
    "".join(gen)
    entries = gen.completion.prompt_logprobs
    assert len(entries) == 2 and gen.completion.completion_tokens == 0
    assert set(entries[0]) == set(real.prompt_logprobs[0]) and entries[0]["logprob"] is None
    assert entries[0]["top_logprobs"] is None is real.prompt_logprobs[0]["top_logprobs"]
    assert set(entries[1]["top_logprobs"][0]) == set(real.prompt_logprobs[1]["top_logprobs"][0])
    assert len(entries[1]["top_logprobs"]) == len(real.prompt_logprobs[1]["top_logprobs"]) == 2
    assert fake.calls[0]["seed"] == 3 and fake.calls[0]["logit_bias"] == {5: -100}
    assert fake.calls[0]["frequency_penalty"] == 1.0 and fake.calls[0]["presence_penalty"] == 0.5
    with pytest.raises(ValueError):
        fake.generate(fake.tokenize_prompt("Hi"), max_tokens=1, frequency_penalty=3.0)
