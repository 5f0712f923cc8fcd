"""FakeChatModel keeps the ChatModel port's promises as the llama adapter does, so that run-loop
tests on it mean something: scripted turns in order, one token per character, the token limit,
``should_stop`` between pieces, and a failure when the script runs out."""

from __future__ import annotations

import pytest

from local_assistants.testing import ANY_JSON_OBJECT, FakeChatModel


def _run(model: FakeChatModel, prompt: str = "hi", **kwargs):
    gen = model.generate(model.tokenize_prompt(prompt), **{"max_tokens": 100, **kwargs})
    return list(gen), gen.completion


def test_turns_are_said_in_order_and_the_prompts_and_options_recorded():
    model = FakeChatModel(["first", lambda prompt: f"saw {prompt}"], piece=2)
    pieces, done = _run(model, "abc", temperature=0.7, grammar="g", stop=["</s>"])
    assert pieces == ["fi", "rs", "t"] and done.text == "first" and done.finish_reason == "stop"
    assert (done.prompt_tokens, done.completion_tokens) == (3, 5)
    assert _run(model, "xyz")[1].text == "saw xyz"
    assert model.prompts == ["abc", "xyz"]
    assert model.calls[0] == dict(max_tokens=100, temperature=0.7, top_p=1.0, grammar="g", stop=["</s>"],
                                  repeat_penalty=None)
    with pytest.raises(LookupError, match="no scripted turn left"):
        _run(model)
    model.say("again")
    assert _run(model)[1].text == "again"


def test_the_token_limit_cuts_the_turn():
    pieces, done = _run(FakeChatModel(["abcdef"], piece=4), max_tokens=3)
    assert pieces == ["abc"] and (done.text, done.completion_tokens, done.finish_reason) == ("abc", 3, "length")
    _, done = _run(FakeChatModel(["abc"]), max_tokens=0)
    assert (done.text, done.finish_reason) == ("", "length")
    _, done = _run(FakeChatModel(["abc"]), max_tokens=3)  # exactly enough
    assert (done.text, done.finish_reason) == ("abc", "stop")


def test_should_stop_is_asked_between_pieces():
    asked = []

    def should_stop():
        asked.append(1)
        return len(asked) >= 2

    pieces, done = _run(FakeChatModel(["abcdef"]), should_stop=should_stop)
    assert pieces == ["a", "b"] and (done.text, done.finish_reason) == ("ab", "cancelled")
    _, done = _run(FakeChatModel(["a"]), should_stop=lambda: True)  # nothing left to stop
    assert done.finish_reason == "stop"


def test_tokens_are_characters_and_the_template_is_chatml():
    model = FakeChatModel(n_ctx=64, sampling={"temperature": 0.3})
    assert model.count_tokens("héllo") == 5 and model.tokenize_prompt("hé") == [104, 233]
    assert model.n_ctx == 64 and model.sampling == {"temperature": 0.3} and model.name == "fake-model"
    prompt = model.format([{"role": "user", "content": "Hi"}])
    assert "<|im_start|>user\nHi<|im_end|>" in prompt and prompt.endswith("<|im_start|>assistant\n")
    assert model.json_object_grammar == ANY_JSON_OBJECT == model.schema_to_grammar({"type": "object"})
    model.load()
    model.close()
    assert model.loaded and model.closed
