"""The batch engine on the real small model: generations decoded together give the
answers they give alone, join and leave between steps, wait for a free slot in arrival
order, carry their own grammar and sampling, and a long new prompt is prefilled in chunks
while the others go on."""

from __future__ import annotations

import json
import threading
import time

import pytest

from conftest import MODELS_DIR
from local_assistants.adapters.llama import LlamaChatModel
from local_assistants.errors import ModelError

GGUF = MODELS_DIR / "SmolLM2-135M-Instruct.Q4_1.gguf"
QUESTIONS = [f"Write a short story about a cat called {name}." for name in
             ("Tom", "Luna", "Max", "Bella", "Leo", "Nala", "Milo", "Coco")]


@pytest.fixture(scope="module")
def model():
    m = LlamaChatModel(GGUF, name="smollm2-135m-instruct", n_ctx=2048, slots=4, prefill_chunk=16)
    yield m
    m.close()


def _tokens(model, question):
    return model.tokenize_prompt(model.format([{"role": "user", "content": question}]))


def _answer(model, question, max_tokens=32, **options):
    gen = model.generate(_tokens(model, question), max_tokens=max_tokens, temperature=0.0, **options)
    text = "".join(gen)
    return text, gen.completion


def _together(model, questions, **options):
    answers = [None] * len(questions)

    def ask(i):
        answers[i] = _answer(model, questions[i], **options)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(questions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_generations_decoded_together_answer_as_they_do_alone(model):
    alone = [_answer(model, q) for q in QUESTIONS]
    model.forget_cached()
    together = _together(model, QUESTIONS)  # 8 generations, 4 slots: four wait their turn
    # Greedy decoding may part where two tokens are nearly tied (llama.cpp's sums depend on
    # the batch's make-up and threads), even at the first token; no sequence may read
    # another's: a cat named in its story alone is named in its story told together.
    differ = [(a[0], b[0]) for a, b in zip(alone, together) if a[0] != b[0]]
    assert len(differ) <= len(QUESTIONS) // 2, differ
    for question, (a, _), (b, _) in zip(QUESTIONS, alone, together):
        name = question.split()[-1].rstrip(".")
        assert (name in a) <= (name in b), (name, a, b)
    assert model.engine.busy == 0


def test_a_grammar_holds_its_own_sequence_only(model):
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
              "required": ["name", "age"], "additionalProperties": False}
    grammar = model.schema_to_grammar(schema)
    json_alone, _ = _answer(model, "Describe Ada, 36, as JSON.", max_tokens=40, grammar=grammar)
    answers = [None, None, None]

    def ask(i):
        if i == 0:
            answers[i] = _answer(model, "Describe Ada, 36, as JSON.", max_tokens=40, grammar=grammar)
        else:
            answers[i] = _answer(model, QUESTIONS[i])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert json.loads(answers[0][0]) == json.loads(json_alone)
    assert not answers[1][0].lstrip().startswith("{") and not answers[2][0].lstrip().startswith("{")


def test_a_reader_that_stops_leaves_the_batch(model):
    gen = model.generate(_tokens(model, QUESTIONS[0]), max_tokens=500, temperature=0.0)
    pieces = iter(gen)
    next(pieces)
    gen.close()
    text, done = _answer(model, QUESTIONS[1], max_tokens=4)  # the engine went on
    assert done.completion_tokens == 4
    assert model.engine.busy == 0


def test_should_stop_ends_the_sequence_cancelled_and_its_errors_reach_the_reader(model):
    count = []
    gen = model.generate(_tokens(model, QUESTIONS[2]), max_tokens=500, temperature=0.0,
                         should_stop=lambda: len(count) >= 3 or count.append(1))
    "".join(gen)
    assert gen.completion.finish_reason == "cancelled" and gen.completion.completion_tokens == 4

    class Stopping(Exception):
        pass

    def boom():
        raise Stopping()

    gen = model.generate(_tokens(model, QUESTIONS[3]), max_tokens=50, temperature=0.0, should_stop=boom)
    with pytest.raises(Stopping):
        "".join(gen)
    assert model.engine.busy == 0


def test_a_long_new_prompt_is_prefilled_while_the_others_go_on(model):
    long_question = "Summarise this: " + " ".join(f"item {i} is blue;" for i in range(150))
    assert len(_tokens(model, long_question)) > 6 * model.prefill_chunk
    seen: list[str] = []
    started, enough = threading.Event(), threading.Event()

    def stream():
        gen = model.generate(_tokens(model, QUESTIONS[4]), max_tokens=1000, temperature=0.0)
        for piece in gen:
            seen.append(piece)
            started.set()
            if enough.is_set():
                break
        gen.close()

    other = threading.Thread(target=stream)
    other.start()
    started.wait(30)
    before = len(seen)
    _, done = _answer(model, long_question, max_tokens=1)  # its first token needs the whole prompt
    during = len(seen) - before
    enough.set()
    other.join()
    assert done.completion_tokens == 1
    assert during >= 4  # one token per step of the other's prefill, not one wait for all of it


def test_waiting_generations_start_in_arrival_order(model):
    one = LlamaChatModel(GGUF, name="smollm2-135m-instruct", n_ctx=1024, slots=1)
    try:
        order = []
        gens = [one.generate(_tokens(one, q), max_tokens=6, temperature=0.0) for q in QUESTIONS[:4]]
        threads = []
        for i, gen in enumerate(gens):
            t = threading.Thread(target=lambda i=i, g=gen: ("".join(g), order.append(i)))
            t.start()
            threads.append(t)
            threading.Event().wait(0.05)  # arrival order
        for t in threads:
            t.join()
        assert order == [0, 1, 2, 3]
    finally:
        one.close()


def test_limits_and_closing(model):
    with pytest.raises(ModelError, match="context holds"):
        "".join(model.generate(list(range(1, 2100)), max_tokens=5))
    text, done = _answer(model, QUESTIONS[5], max_tokens=0)
    assert text == "" and done.finish_reason == "length"


def test_closing_finishes_the_generations_under_way_and_a_later_one_loads_again():
    closing = LlamaChatModel(GGUF, name="smollm2-135m-instruct", n_ctx=1024, slots=1)
    try:
        gen = closing.generate(_tokens(closing, QUESTIONS[6]), max_tokens=40, temperature=0.0)
        pieces = iter(gen)
        first = next(pieces)
        closer = threading.Thread(target=closing.close)
        closer.start()
        text = first + "".join(pieces)
        closer.join()
        assert gen.completion.completion_tokens == 40 and text == gen.completion.text
        assert closing._engine is None
        again = closing.generate(_tokens(closing, QUESTIONS[6]), max_tokens=40, temperature=0.0)
        assert "".join(again) == text
    finally:
        closing.close()


def test_a_newcomer_gets_a_step_of_its_own_at_once(model, caplog):
    """A generation arriving while others decode does not wait for their step: the step under
    way is cut short and the newcomer's prompt, mostly held already, gets a step of its own.
    The others go on about their own subjects, and llama.cpp's "aborted" messages are not
    warnings or errors."""
    stories, newcomer = QUESTIONS[:3], QUESTIONS[7]
    _answer(model, newcomer, max_tokens=4)  # its prompt now held in a free slot
    caplog.set_level("DEBUG", logger="llama_cpp")
    before = model.stats["steps_cut_short"]
    streaming = [threading.Event() for _ in stories]
    told = [None] * len(stories)

    def tell(i):
        gen = model.generate(_tokens(model, stories[i]), max_tokens=64, temperature=0.0)
        parts = []
        for piece in gen:
            parts.append(piece)
            streaming[i].set()
        told[i] = "".join(parts)

    threads = [threading.Thread(target=tell, args=(i,)) for i in range(len(stories))]
    for t in threads:
        t.start()
    for e in streaming:
        assert e.wait(30)
    arrived = []
    while model.stats["steps_cut_short"] == before and len(arrived) < 10 and any(t.is_alive() for t in threads):
        arrived.append(_answer(model, newcomer, max_tokens=4)[1])
    for t in threads:
        t.join()
    assert model.stats["steps_cut_short"] > before
    assert all(done.completion_tokens == 4 for done in arrived)
    for question, text in zip(stories, told):
        assert question.split()[-1].rstrip(".") in text, text
    assert not [r for r in caplog.records if r.name == "llama_cpp" and r.levelno >= 30]


def test_newcomers_in_a_stream_do_not_starve_the_others(model):
    """One-token generations arriving one after another, each cutting the step under way: the
    decoding sequence still gets its tokens (a cut is allowed only while it has waited less
    than a couple of steps), so its story ends while they keep coming."""
    newcomer = QUESTIONS[7]
    _answer(model, newcomer, max_tokens=1)
    before = model.stats["steps_cut_short"]
    told = []
    story = threading.Thread(target=lambda: told.append(_answer(model, QUESTIONS[6], max_tokens=24)))
    story.start()
    arrived = 0
    while story.is_alive() and arrived < 3000:
        _answer(model, newcomer, max_tokens=1)
        arrived += 1
    story.join()
    assert arrived < 3000 and model.stats["steps_cut_short"] > before
    assert told[0][1].completion_tokens == 24


def test_a_step_cut_short_leaves_no_trace():
    """Three generations admitted together (so every step has the same make-up), decoded once
    as they are and once with steps cut short at random moments: the same text to the
    character. A cut step that left a token in the KV cache, or lost one, would change it."""
    three = LlamaChatModel(GGUF, name="smollm2-135m-instruct", n_ctx=1024, slots=3)
    try:
        def together(cut: bool) -> tuple[list[str], int]:
            three.forget_cached()
            before = three.stats["steps_cut_short"]
            gens = [three.generate(_tokens(three, q), max_tokens=48, temperature=0.0) for q in QUESTIONS[:3]]
            told = [None] * 3

            def read(i):
                told[i] = "".join(gens[i])

            threads = [threading.Thread(target=read, args=(i,)) for i in range(3)]
            with three.engine.paused():
                for t in threads:
                    t.start()
                while len(three.engine.waiting) < 3:
                    time.sleep(0.005)
            while cut and any(t.is_alive() for t in threads) and three.stats["steps_cut_short"] - before < 8:
                three.engine.cut_step()
                time.sleep(0.003)
            for t in threads:
                t.join()
            return told, three.stats["steps_cut_short"] - before

        plain, none = together(cut=False)
        cut, cuts = together(cut=True)
        assert none == 0 and cuts >= 1
        assert cut == plain
    finally:
        three.close()
