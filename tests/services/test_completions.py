"""CompletionsService (legacy /v1/completions) on the fake chat model: its tokenizer is one
token per character (a prompt's tokens are its code points), it is sure of every token it
says and of every prompt token after the first, so prompts, echo, the legacy logprobs object
and usage can be checked exactly (tests/api/test_chat_completions.py has the real model)."""

from __future__ import annotations

import pytest
from openai.types import Completion

from local_assistants.errors import InvalidRequestError, UnknownParameterError
from local_assistants.services.completions import DEFAULT_MAX_TOKENS, MAX_PROMPTS, CompletionsService, n_vocab
from local_assistants.testing import FakeChatModel


class Models:
    def __init__(self, model):
        self.model = model

    def get(self, name):
        return self.model


class VocabModel(FakeChatModel):
    """A fake that tells its vocabulary size, as the llama adapter does."""

    def n_vocab(self) -> int:
        return 256


class FimModel(FakeChatModel):
    """A fake whose vocabulary holds StarCoder's fill-in-the-middle tokens, one token each."""

    SPECIAL = {"<fim_prefix>": 0xE000, "<fim_suffix>": 0xE001, "<fim_middle>": 0xE002}

    def tokenize_prompt(self, prompt: str) -> list[int]:
        out, i = [], 0
        while i < len(prompt):
            for token, tid in self.SPECIAL.items():
                if prompt.startswith(token, i):
                    out.append(tid)
                    i += len(token)
                    break
            else:
                out.append(ord(prompt[i]))
                i += 1
        return out


def service(model) -> CompletionsService:
    return CompletionsService(Models(model), check_model=lambda name: None)


@pytest.fixture
def fake():
    return FakeChatModel(piece=2)


@pytest.fixture
def svc(fake):
    return service(fake)


def complete(svc, **fields):
    out = svc.create(svc.prepare({"model": "m", **fields}))
    if not (fields.get("echo") and fields.get("logprobs") is not None):
        # The SDK types token_logprobs as floats; OpenAI (and this service) send null for the first
        # echoed token, which the SDK reads unvalidated (``construct``): only the other shapes are checked.
        Completion.model_validate(out)
    return out


def prompt_of(fake, i=-1) -> str:
    return fake.prompts[i]


def echo_prompt(prompt: str) -> str:
    """A scripted turn that says which prompt it was given."""
    return f"[{prompt}]"


# -- prompts ------------------------------------------------------------------------------------
def test_a_string_prompt_is_its_tokens(svc, fake):
    fake.say(" world")
    out = complete(svc, prompt="Hello")
    assert prompt_of(fake) == "Hello" and out["choices"][0]["text"] == " world"
    assert out["object"] == "text_completion" and out["id"].startswith("cmpl-")
    assert out["usage"] == {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}
    assert fake.calls[0]["max_tokens"] == DEFAULT_MAX_TOKENS and fake.calls[0]["repeat_penalty"] == 1.0


@pytest.mark.parametrize("prompt, expected", [
    (["ab", "cde"], ["ab", "cde"]),
    ([72, 105], ["Hi"]),
    ([[72, 105], [79, 107, 33]], ["Hi", "Ok!"]),
])
def test_every_prompt_form_gives_one_choice_per_prompt_in_order(svc, fake, prompt, expected):
    fake.say(*[echo_prompt] * len(expected))
    out = complete(svc, prompt=prompt)
    assert [c["index"] for c in out["choices"]] == list(range(len(expected)))
    assert [c["text"] for c in out["choices"]] == [f"[{p}]" for p in expected]
    assert out["usage"]["prompt_tokens"] == sum(len(p) for p in expected)


@pytest.mark.parametrize("prompt, param", [
    (None, "prompt"), ([], "prompt"), (3, "prompt"), ([[]], "prompt[0]"), ([True, 1], "prompt[0]"),
    ([["a"]], "prompt[0]"), ([1, "a"], "prompt[0]"), (["x"] * (MAX_PROMPTS + 1), "prompt"),
])
def test_a_bad_prompt_is_refused(svc, fake, prompt, param):
    with pytest.raises(InvalidRequestError) as err:
        svc.prepare({"model": "m", "prompt": prompt})
    assert err.value.param == param and fake.calls == []


def test_token_ids_outside_the_vocabulary_are_refused_when_the_model_tells_its_size():
    model = VocabModel([echo_prompt])
    svc = service(model)
    assert n_vocab(model) == 256
    for prompt, param in (([72, 256], "prompt[0]"), ([[1], [-1]], "prompt[1]")):
        with pytest.raises(InvalidRequestError) as err:
            svc.prepare({"model": "m", "prompt": prompt})
        assert err.value.param == param and "255" in str(err.value)
    assert complete(svc, prompt=[0, 72, 255])["choices"][0]["text"] == "[\x00H\xff]"


def test_the_vocabulary_size_is_read_where_a_model_tells_it():
    assert n_vocab(FakeChatModel()) is None  # the plain fake does not tell: token ids go unchecked
    sized = FakeChatModel()
    sized.n_vocab = 100
    assert n_vocab(sized) == 100
    held = FakeChatModel()
    held.llm = type("Llama", (), {"n_vocab": lambda self: 151936})()
    assert n_vocab(held) == 151936
    with pytest.raises(InvalidRequestError):
        service(sized).prepare({"model": "m", "prompt": [100]})


# -- n, best_of and indexes -------------------------------------------------------------------------
def test_choice_indexes_are_prompt_times_n_plus_i(svc, fake):
    fake.say(*[echo_prompt] * 6)
    out = complete(svc, prompt=["a", "b", "c"], n=2, seed=5)
    assert [c["index"] for c in out["choices"]] == [0, 1, 2, 3, 4, 5]
    assert [c["text"] for c in out["choices"]] == ["[a]", "[a]", "[b]", "[b]", "[c]", "[c]"]
    assert sorted(c["seed"] for c in fake.calls) == [5, 5, 5, 6, 6, 6]  # choice i: seed + i, for every prompt
    assert out["usage"]["prompt_tokens"] == 3 and out["usage"]["completion_tokens"] == 6 * 3


@pytest.mark.parametrize("fields, param", [
    ({"best_of": 2}, "best_of"), ({"n": 2, "best_of": 3}, "best_of"), ({"n": 129}, "n"), ({"n": 0}, "n"),
    ({"max_tokens": -1}, "max_tokens"), ({"max_tokens": 1.5}, "max_tokens"), ({"max_tokens": True}, "max_tokens"),
    ({"logprobs": 6}, "logprobs"), ({"logprobs": -1}, "logprobs"), ({"logprobs": True}, "logprobs"),
    ({"echo": "yes"}, "echo"), ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"stream_options": {"include_usage": True}}, "stream_options"), ({"stream": 1}, "stream"),
    ({"temperature": 3}, "temperature"), ({"top_p": 2}, "top_p"), ({"seed": "7"}, "seed"),
    ({"frequency_penalty": -3}, "frequency_penalty"), ({"logit_bias": {"x": 1}}, "logit_bias"),
    ({"user": 5}, "user"), ({"model": None}, "model"),
])
def test_a_bad_option_is_refused_with_openai_s_param(svc, fake, fields, param):
    with pytest.raises(InvalidRequestError) as err:
        svc.prepare({"model": "m", "prompt": "hi", **fields})
    assert err.value.param == param and fake.calls == []


def test_an_unknown_field_is_refused(svc):
    with pytest.raises(UnknownParameterError) as err:
        svc.prepare({"model": "m", "prompt": "hi", "messages": []})
    assert err.value.param == "messages"


def test_stream_options_must_be_an_object(svc):
    with pytest.raises(InvalidRequestError) as err:
        svc.prepare({"model": "m", "prompt": "hi", "stream": True, "stream_options": ["include_usage"]})
    assert err.value.param == "stream_options"


def test_best_of_equal_to_n_is_taken(svc, fake):
    fake.say("a", "b", "c")
    assert len(complete(svc, prompt="x", n=3, best_of=3)["choices"]) == 3


def test_a_prompt_and_its_completion_must_fit_the_context():
    svc = service(FakeChatModel(n_ctx=32))
    with pytest.raises(InvalidRequestError) as err:
        svc.prepare({"model": "m", "prompt": ["short", "x" * 20], "max_tokens": 16})
    assert err.value.code == "context_length_exceeded" and err.value.param == "prompt"


def test_sampling_options_reach_the_model(svc, fake):
    fake.say("ok")
    complete(svc, prompt="hi", temperature=0.0, top_p=0.5, seed=3, presence_penalty=1.0, logit_bias={"65": -100},
             stop=["\n"], max_tokens=8)
    (call,) = fake.calls
    assert call["temperature"] == 0.0 and call["top_p"] == 0.5 and call["seed"] == 3 and call["max_tokens"] == 8
    assert call["presence_penalty"] == 1.0 and call["logit_bias"] == {65: -100.0} and call["stop"] == ["\n"]
    assert "logprobs" not in call and "prompt_logprobs" not in call  # not asked for, not computed


# -- echo and logprobs --------------------------------------------------------------------------------
def check_offsets(choice):
    lp = choice["logprobs"]
    assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == len(lp["text_offset"])
    assert "".join(lp["tokens"]) == choice["text"]
    for token, at in zip(lp["tokens"], lp["text_offset"]):
        assert choice["text"][at:at + len(token)] == token


def test_echo_with_max_tokens_0_scores_the_prompt_without_generating(svc, fake):
    fake.say("never said")
    out = complete(svc, prompt="Hello", echo=True, logprobs=2, max_tokens=0)
    (choice,) = out["choices"]
    assert choice["text"] == "Hello" and out["usage"]["completion_tokens"] == 0
    lp = choice["logprobs"]
    assert lp["tokens"] == list("Hello") and lp["text_offset"] == [0, 1, 2, 3, 4]
    assert lp["token_logprobs"] == [None, 0.0, 0.0, 0.0, 0.0]  # the first token has nothing before it
    assert lp["top_logprobs"][0] is None and lp["top_logprobs"][1] == {"e": 0.0, "a": -100.0}
    check_offsets(choice)
    assert fake.calls[0]["prompt_logprobs"] == 2 and fake.calls[0]["max_tokens"] == 0


def test_echo_with_logprobs_covers_the_prompt_then_the_completion(svc, fake):
    fake.say(" world")
    (choice,) = complete(svc, prompt="Hi", echo=True, logprobs=1, max_tokens=10)["choices"]
    assert choice["text"] == "Hi world"
    lp = choice["logprobs"]
    assert lp["tokens"] == list("Hi world") and lp["text_offset"] == list(range(8))
    assert lp["token_logprobs"] == [None] + [0.0] * 7
    assert all(top == {t: 0.0} for t, top in zip(lp["tokens"][1:], lp["top_logprobs"][1:]))
    check_offsets(choice)


def test_logprobs_without_echo_cover_the_completion_only(svc, fake):
    fake.say("abc")
    (choice,) = complete(svc, prompt="Hi", logprobs=0)["choices"]
    assert choice["text"] == "abc" and choice["logprobs"]["tokens"] == ["a", "b", "c"]
    assert choice["logprobs"]["top_logprobs"] == [{}, {}, {}]  # logprobs 0: the chosen token's alone
    check_offsets(choice)
    assert "prompt_logprobs" not in fake.calls[0]


def test_echo_without_logprobs_gives_the_text_alone(svc, fake):
    fake.say("!")
    (choice,) = complete(svc, prompt="Hi", echo=True)["choices"]
    assert choice["text"] == "Hi!" and choice["logprobs"] is None


def test_echoed_token_prompts_and_several_prompts(svc, fake):
    fake.say(*[echo_prompt] * 4)
    out = complete(svc, prompt=[[72, 105], [79, 107]], echo=True, logprobs=0, n=2, max_tokens=10)
    texts = {c["index"]: c["text"] for c in out["choices"]}
    assert texts == {0: "Hi[Hi]", 1: "Hi[Hi]", 2: "Ok[Ok]", 3: "Ok[Ok]"}
    for choice in out["choices"]:
        check_offsets(choice)


def test_the_token_limit_ends_a_choice_with_length(svc, fake):
    fake.say("a long answer")
    (choice,) = complete(svc, prompt="Hi", max_tokens=3)["choices"]
    assert choice["text"] == "a l" and choice["finish_reason"] == "length"


# -- suffix -----------------------------------------------------------------------------------------------
def test_suffix_is_refused_for_a_model_without_fill_in_the_middle_tokens(svc, fake):
    with pytest.raises(InvalidRequestError) as err:
        svc.prepare({"model": "m", "prompt": "def f(", "suffix": "    return x"})
    assert err.value.param == "suffix" and fake.calls == []


def test_suffix_is_filled_in_the_middle_where_the_model_has_the_tokens():
    model = FimModel(["x):\n"])
    svc = service(model)
    (choice,) = complete(svc, prompt="def f(", suffix="    return x")["choices"]
    assert choice["text"] == "x):\n"
    assert model.prompts[0] == "\ue000def f(\ue001    return x\ue002"
    with pytest.raises(InvalidRequestError) as err:
        svc.prepare({"model": "m", "prompt": [1, 2], "suffix": "x"})
    assert err.value.param == "suffix"
    with pytest.raises(InvalidRequestError) as err:
        svc.prepare({"model": "m", "prompt": "a", "suffix": 3})
    assert err.value.param == "suffix"


# -- stream --------------------------------------------------------------------------------------------
def test_a_stream_sends_pieces_then_a_finish_per_choice_then_usage_if_asked(svc, fake):
    fake.say("Hello")
    req = svc.prepare({"model": "m", "prompt": "Hi", "stream": True, "logprobs": 0})
    chunks = list(svc.stream(req))
    assert all(c["object"] == "text_completion" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert [c["choices"][0]["text"] for c in chunks] == ["He", "ll", "o", ""]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, None, "stop"]
    assert chunks[-1]["choices"][0]["logprobs"]["tokens"] == list("Hello")
    assert all("usage" not in c for c in chunks)

    fake.say("a", "b")
    req = svc.prepare({"model": "m", "prompt": ["x", "yz"], "stream": True,
                       "stream_options": {"include_usage": True}})
    chunks = list(svc.stream(req))
    *rest, last = chunks
    assert last["choices"] == [] and last["usage"] == {"prompt_tokens": 3, "completion_tokens": 2,
                                                       "total_tokens": 5}
    assert sorted(c["choices"][0]["index"] for c in rest if c["choices"][0]["finish_reason"]) == [0, 1]
