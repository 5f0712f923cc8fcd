"""ChatCompletionsService on the fake chat model (scripted turns, one token per character)
and a real SQLite file: the checks a /v1/chat/completions body meets before the model is
asked (with OpenAI's parameter names), the request's messages as the model's template reads
them, n choices, tool calls read back from the model's text, the chunks of a stream, and
stored completions (tests/api/test_chat_completions.py drives the same over HTTP with the
SDK and a real model)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from local_assistants.adapters.sqlite_store import SQLiteStore
from local_assistants.core.toolcalls import ParsedCall, ToolProtocol, call_text
from local_assistants.errors import InvalidRequestError, NotFoundError, UnknownParameterError
from local_assistants.services.chat_completions import (MAX_N, ChatCompletionsService, _chat_messages,
                                                        _logit_bias, _stop, _tool_choice, _usage)
from local_assistants.testing import FakeChatModel

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
USER = [{"role": "user", "content": "hi"}]


class Models:
    """A ModelSource of one model: every name is it; the names asked are recorded."""

    def __init__(self, model):
        self.model = model
        self.asked: list[str] = []

    def get(self, name):
        self.asked.append(name)
        return self.model


def weather_call(city: str) -> str:
    return call_text(ParsedCall("function", "get_weather", json.dumps({"city": city})))


@pytest.fixture
def fake():
    return FakeChatModel(piece=3)


@pytest.fixture
def checked():
    return []


@pytest.fixture
def svc(tmp_path, fake, checked):
    def check_model(name):
        checked.append(name)
        if name == "no-such-model":
            raise NotFoundError(f"The model '{name}' does not exist.", param="model")

    return ChatCompletionsService(SQLiteStore(tmp_path / "db.sqlite"), Models(fake), check_model=check_model,
                                  default_max_tokens=256)


def body(**fields):
    return {"model": "m", "messages": USER, **fields}


def create(svc, **fields):
    return svc.create(svc.prepare(body(**fields)))


def prompt_text(req) -> str:
    return "".join(chr(t) for t in req.prompt)


# -- checks before the model is asked ----------------------------------------------------------
ASSISTANT_CALL = {"role": "assistant", "content": None, "tool_calls": [
    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}


@pytest.mark.parametrize("fields, param", [
    ({"messages": []}, "messages"),
    ({"messages": None}, "messages"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
    ({"messages": [*USER, {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]}, "messages[1]"),
    ({"messages": [*USER, {**ASSISTANT_CALL}, {"role": "tool", "tool_call_id": "call_2", "content": "x"}]},
     "messages[2]"),
    ({"messages": [*USER, ASSISTANT_CALL, {"role": "tool", "content": "x"}]}, "messages[2].tool_call_id"),
    ({"messages": [{"role": "user"}]}, "messages[0].content"),
    ({"messages": ["hi"]}, "messages[0]"),
    ({"n": MAX_N + 1}, "n"),
    ({"n": 0}, "n"),
    ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
    ({"top_logprobs": 2}, "top_logprobs"),
    ({"logprobs": False, "top_logprobs": 2}, "top_logprobs"),
    ({"logprobs": "yes"}, "logprobs"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"stop": [""]}, "stop"),
    ({"stop": 3}, "stop"),
    ({"stream_options": {"include_usage": True}}, "stream_options"),
    ({"stream": False, "stream_options": {"include_usage": True}}, "stream_options"),
    ({"stream": True, "stream_options": "usage"}, "stream_options"),
    ({"stream": "yes"}, "stream"),
    ({"logit_bias": {"abc": 1}}, "logit_bias"),
    ({"logit_bias": {"50256": 101}}, "logit_bias"),
    ({"logit_bias": {"50256": "high"}}, "logit_bias"),
    ({"logit_bias": {"50256": True}}, "logit_bias"),
    ({"logit_bias": [1]}, "logit_bias"),
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "get_time"}}}, "tool_choice"),
    ({"tool_choice": {"type": "function", "function": {"name": "get_weather"}}}, "tool_choice"),
    ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice"),
    ({"tools": [{"type": "code_interpreter"}]}, "tools[0].type"),
    ({"tools": WEATHER}, "tools"),
    ({"parallel_tool_calls": "no"}, "parallel_tool_calls"),
    ({"max_completion_tokens": 0}, "max_completion_tokens"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"temperature": 2.5}, "temperature"),
    ({"top_p": -0.1}, "top_p"),
    ({"presence_penalty": 3}, "presence_penalty"),
    ({"seed": 1.5}, "seed"),
    ({"store": "yes"}, "store"),
    ({"metadata": {"k": 1}}, "metadata.k"),
    ({"model": None}, "model"),
])
def test_a_bad_body_is_refused_with_openai_s_param_before_the_model_is_asked(svc, fake, fields, param):
    with pytest.raises(InvalidRequestError) as err:
        svc.prepare(body(**fields))
    assert err.value.param == param
    assert fake.calls == [] and fake.prompts == []


def test_the_codes_openai_gives_for_empty_messages_n_and_top_logprobs(svc):
    codes = {}
    for fields in ({"messages": []}, {"n": 129}, {"logprobs": True, "top_logprobs": 21}):
        with pytest.raises(InvalidRequestError) as err:
            svc.prepare(body(**fields))
        codes[err.value.param] = err.value.code
    assert codes == {"messages": "empty_array", "n": "integer_above_max_value",
                     "top_logprobs": "integer_above_max_value"}


def test_an_unknown_field_and_an_unknown_model(svc, checked):
    with pytest.raises(UnknownParameterError) as err:
        svc.prepare(body(functions=[]))
    assert err.value.param == "functions"
    with pytest.raises(NotFoundError):
        svc.prepare(body(model="no-such-model"))
    assert checked == ["no-such-model"]


def test_a_prompt_longer_than_the_context_is_refused(tmp_path):
    small = ChatCompletionsService(SQLiteStore(tmp_path / "db.sqlite"), Models(FakeChatModel(n_ctx=64)),
                                   check_model=lambda name: None, default_max_tokens=16)
    with pytest.raises(InvalidRequestError) as err:
        small.prepare(body(messages=[{"role": "user", "content": "x" * 100}]))
    assert err.value.code == "context_length_exceeded" and err.value.param == "messages"
    with pytest.raises(InvalidRequestError) as err:
        small.prepare(body(max_tokens=60))  # the prompt fits, the prompt and the completion do not
    assert err.value.code == "context_length_exceeded"


def test_helpers_take_what_openai_takes():
    assert _stop(None) == [] and _stop("END") == ["END"] and _stop(["a", "b", "c", "d"]) == ["a", "b", "c", "d"]
    assert _logit_bias(None) is None and _logit_bias({}) is None
    assert _logit_bias({"50256": -100, "7": 2.5}) == {50256: -100.0, 7: 2.5}
    assert _tool_choice(None, []) == "auto"
    assert _tool_choice("required", []) == "required"
    named = {"type": "function", "function": {"name": "get_weather"}}
    assert _tool_choice(named, [WEATHER]) == named


def test_accepted_sampling_reaches_the_model(svc, fake):
    fake.say("ok")
    create(svc, temperature=0.3, top_p=0.5, seed=11, presence_penalty=0.5, frequency_penalty=-0.5,
           logit_bias={"65": 5}, max_completion_tokens=7, stop="END", user="u1")
    (call,) = fake.calls
    assert call["temperature"] == 0.3 and call["top_p"] == 0.5 and call["max_tokens"] == 7
    assert call["seed"] == 11 and call["presence_penalty"] == 0.5 and call["frequency_penalty"] == -0.5
    assert call["logit_bias"] == {65: 5.0} and call["stop"] == ["END"]


def test_max_completion_tokens_wins_over_max_tokens_and_the_default_is_bounded(svc, fake):
    assert svc.prepare(body(max_tokens=9, max_completion_tokens=5)).max_tokens == 5
    assert svc.prepare(body(max_tokens=9)).max_tokens == 9
    assert svc.prepare(body()).max_tokens == 256


# -- the messages as the model reads them ------------------------------------------------------------
def test_system_and_developer_messages_become_one_leading_system_message(svc):
    req = svc.prepare(body(messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in English."}]},
        {"role": "user", "content": [{"type": "text", "text": "Say"}, {"type": "text", "text": "hello."}]},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Again."}]))
    assert prompt_text(req) == ("<|im_start|>system\nBe brief.\n\nAnswer in English.<|im_end|>\n"
                                "<|im_start|>user\nSay\nhello.<|im_end|>\n"
                                "<|im_start|>assistant\nHello!<|im_end|>\n"
                                "<|im_start|>user\nAgain.<|im_end|>\n"
                                "<|im_start|>assistant\n")


def test_a_system_message_after_the_conversation_began_is_a_marked_user_turn(svc):
    plan = svc.prepare(body()).plan
    chat = _chat_messages([*USER, {"role": "developer", "content": "Be brief."}], plan)
    assert chat == [{"role": "user", "content": "hi"}, {"role": "user", "content": "[developer] Be brief."}]


def test_tool_calls_and_results_go_through_the_fallback_protocol(svc):
    req = svc.prepare(body(tools=[WEATHER], messages=[
        {"role": "system", "content": "Be brief."}, *USER, ASSISTANT_CALL,
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]))
    assert not req.plan.protocol.native
    chat = _chat_messages(req.messages, req.plan)
    assert chat == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": weather_call("Paris")},
                    {"role": "user", "content": "<tool_response>\nget_weather: sunny\n</tool_response>"}]
    text = prompt_text(req)
    # the one system message holds the request's and the tools section (the fallback declares them there)
    assert text.startswith("<|im_start|>system\nBe brief.\n\n# Tools") and text.count("<|im_start|>system") == 1
    assert '"name": "get_weather"' in text.split("<|im_end|>")[0]
    assert weather_call("Paris") in text and "get_weather: sunny" in text


def test_tool_calls_and_results_go_through_a_native_template_s_protocol(svc):
    plan = dataclasses.replace(svc.prepare(body(tools=[WEATHER])).plan, protocol=ToolProtocol(native=True))
    chat = _chat_messages([*USER, ASSISTANT_CALL, {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}],
                          plan)
    assert chat[1]["role"] == "assistant" and chat[1]["content"] == ""
    assert chat[1]["tool_calls"] == [{"type": "function", "function": {"name": "get_weather",
                                                                        "arguments": {"city": "Paris"}}}]
    assert chat[2] == {"role": "tool", "content": "sunny"}


def test_the_messages_a_tool_answers_may_be_earlier_than_the_last_assistant_turn(svc):
    messages = [*USER, ASSISTANT_CALL, {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                {"role": "assistant", "content": "It is sunny."}, {"role": "user", "content": "Thanks"}]
    chat = _chat_messages(messages, svc.prepare(body()).plan)
    assert [m["role"] for m in chat] == ["user", "assistant", "user", "assistant", "user"]


# -- create ----------------------------------------------------------------------------------------
def test_n_choices_have_their_indexes_and_the_prompt_is_counted_once(svc, fake):
    fake.say("Hello there", "Bye", "Yes")
    req = svc.prepare(body(n=3))
    out = svc.create(req)
    ChatCompletion.model_validate(out)
    assert out["object"] == "chat.completion" and out["id"].startswith("chatcmpl-") and out["model"] == "m"
    assert [c["index"] for c in out["choices"]] == [0, 1, 2]
    assert sorted(c["message"]["content"] for c in out["choices"]) == ["Bye", "Hello there", "Yes"]
    assert all(c["finish_reason"] == "stop" and c["logprobs"] is None for c in out["choices"])
    usage = out["usage"]
    assert usage["prompt_tokens"] == len(req.prompt)  # once, not three times
    assert usage["completion_tokens"] == len("Hello there") + len("Bye") + len("Yes")
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert "metadata" not in out  # not stored
    # n choices differ: each is the single choice of its own seed
    seeds = sorted(call["seed"] for call in fake.calls)
    assert seeds == [seeds[0], seeds[0] + 1, seeds[0] + 2]


def test_choice_i_is_decoded_with_seed_plus_i(svc, fake):
    fake.say("a", "b")
    create(svc, n=2, seed=40)
    assert sorted(call["seed"] for call in fake.calls) == [40, 41]


def test_the_token_limit_ends_a_choice_with_length(svc, fake):
    fake.say("A long story about a bird.")
    out = create(svc, max_tokens=4)
    assert out["choices"][0]["message"]["content"] == "A lo" and out["choices"][0]["finish_reason"] == "length"
    assert out["usage"]["completion_tokens"] == 4


def test_logprobs_come_per_token_with_their_top_alternatives(svc, fake):
    fake.say("Hi!")
    out = create(svc, logprobs=True, top_logprobs=2)
    ChatCompletion.model_validate(out)
    content = out["choices"][0]["logprobs"]["content"]
    assert [e["token"] for e in content] == ["H", "i", "!"]
    assert all(len(e["top_logprobs"]) == 2 for e in content)
    fake.say("Hi!")
    assert create(svc, logprobs=True)["choices"][0]["logprobs"]["content"][0]["top_logprobs"] == []


def test_a_scripted_call_becomes_tool_calls(svc, fake):
    fake.say(weather_call("Paris") + "\n" + weather_call("Rome"))
    out = create(svc, tools=[WEATHER])
    ChatCompletion.model_validate(out)
    (choice,) = out["choices"]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    calls = choice["message"]["tool_calls"]
    assert [(c["type"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == [
        ("function", "get_weather", {"city": "Paris"}), ("function", "get_weather", {"city": "Rome"})]
    assert len({c["id"] for c in calls}) == 2 and all(c["id"].startswith("call_") for c in calls)
    assert fake.calls[0]["grammar"] is not None  # decoded under the tools' grammar


def test_the_same_call_text_without_tools_is_plain_content(svc, fake):
    fake.say(weather_call("Paris"))
    out = create(svc)
    assert out["choices"][0]["message"]["content"] == weather_call("Paris")
    assert out["choices"][0]["finish_reason"] == "stop" and "tool_calls" not in out["choices"][0]["message"]


def test_tool_choice_none_keeps_the_tools_away_from_the_model(svc, fake):
    fake.say("Sunny, I think.")
    req = svc.prepare(body(tools=[WEATHER], tool_choice="none"))
    assert not req.plan.can_call and "get_weather" not in prompt_text(req)
    assert svc.create(req)["choices"][0]["message"]["content"] == "Sunny, I think."


def test_usage_of_no_choice_is_zero():
    assert _usage([])["total_tokens"] == 0


# -- stream ------------------------------------------------------------------------------------------
def test_a_stream_sends_the_role_then_content_then_the_finish(svc, fake):
    fake.say("Hello there")
    chunks = list(svc.stream(svc.prepare(body(stream=True))))
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    deltas = [c["choices"][0]["delta"].get("content") for c in chunks[1:-1]]
    assert deltas == ["Hel", "lo ", "the", "re"]  # the fake's 3-character pieces
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert all("usage" not in c for c in chunks)  # no include_usage: no usage chunk


def test_a_stream_with_include_usage_ends_with_the_usage_alone(svc, fake):
    fake.say("Hello", "Bye")
    req = svc.prepare(body(stream=True, n=2, stream_options={"include_usage": True}))
    chunks = list(svc.stream(req))
    *rest, last = chunks
    assert last["choices"] == [] and last["usage"]["prompt_tokens"] == len(req.prompt)
    assert last["usage"]["completion_tokens"] == len("Hello") + len("Bye")
    assert [c["choices"][0]["delta"].get("role") for c in rest[:2]] == ["assistant", "assistant"]
    assert sorted(c["choices"][0]["index"] for c in rest[:2]) == [0, 1]
    finishes = [(c["choices"][0]["index"], c["choices"][0]["finish_reason"]) for c in rest
                if c["choices"][0]["finish_reason"]]
    assert sorted(finishes) == [(0, "stop"), (1, "stop")]
    texts = {}
    for c in rest:
        ch = c["choices"][0]
        texts[ch["index"]] = texts.get(ch["index"], "") + (ch["delta"].get("content") or "")
    assert sorted(texts.values()) == ["Bye", "Hello"]
    # every choice's finish comes after all of its content
    for index in (0, 1):
        mine = [c["choices"][0] for c in rest if c["choices"][0]["index"] == index]
        assert mine[-1]["finish_reason"] == "stop" and all(m["finish_reason"] is None for m in mine[:-1])


def test_a_streamed_call_comes_as_tool_call_deltas(svc, fake):
    fake.say(weather_call("Paris"))
    chunks = list(svc.stream(svc.prepare(body(tools=[WEATHER], stream=True))))
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert not any(d.get("content") for d in deltas)
    calls = [d["tool_calls"][0] for d in deltas if d.get("tool_calls")]
    assert calls[0]["id"].startswith("call_") and calls[0]["function"]["name"] == "get_weather"
    assert json.loads("".join(c["function"]["arguments"] for c in calls)) == {"city": "Paris"}
    assert {c["index"] for c in calls} == {0}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_a_streamed_answer_short_enough_to_be_undecided_is_still_sent(svc, fake):
    fake.say("")  # nothing at all: the role, then the finish
    chunks = list(svc.stream(svc.prepare(body(tools=[WEATHER], stream=True))))
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, "stop"]


def test_a_streamed_finish_carries_the_choice_s_logprobs(svc, fake):
    fake.say("Hi")
    chunks = list(svc.stream(svc.prepare(body(stream=True, logprobs=True, top_logprobs=1))))
    finish = chunks[-1]["choices"][0]
    assert [e["token"] for e in finish["logprobs"]["content"]] == ["H", "i"]


# -- stored completions -----------------------------------------------------------------------------
def test_store_keeps_the_completion_and_the_request_messages(svc, fake):
    fake.say("Hello")
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    out = create(svc, messages=messages, store=True, metadata={"topic": "greeting"})
    assert out["metadata"] == {"topic": "greeting"}
    assert svc.retrieve(out["id"]) == out
    page = svc.messages(out["id"])
    assert [m["id"] for m in page["data"]] == [f"{out['id']}-0", f"{out['id']}-1"]
    assert [(m["role"], m["content"]) for m in page["data"]] == [("system", "Be brief."), ("user", "hi")]
    assert page["has_more"] is False and page["first_id"] == f"{out['id']}-0"
    desc = svc.messages(out["id"], order="desc", limit=1)
    assert [m["id"] for m in desc["data"]] == [f"{out['id']}-1"] and desc["has_more"] is True
    after = svc.messages(out["id"], after=f"{out['id']}-0")
    assert [m["id"] for m in after["data"]] == [f"{out['id']}-1"]


def test_a_tool_message_is_stored_with_its_call_id(svc, fake):
    fake.say("It is sunny.")
    out = create(svc, store=True, tools=[WEATHER],
                 messages=[*USER, ASSISTANT_CALL, {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}])
    stored = svc.messages(out["id"])["data"]
    assert stored[1]["tool_calls"] == ASSISTANT_CALL["tool_calls"]
    assert stored[2]["tool_call_id"] == "call_1" and stored[2]["content"] == "sunny"


def test_an_unstored_completion_is_not_found(svc, fake):
    fake.say("Hello")
    out = create(svc)
    with pytest.raises(NotFoundError):
        svc.retrieve(out["id"])
    assert svc.list()["data"] == []


def test_a_stored_stream_is_the_completion_its_chunks_made(svc, fake):
    fake.say("Hello")
    chunks = list(svc.stream(svc.prepare(body(stream=True, store=True))))
    stored = svc.retrieve(chunks[0]["id"])
    assert stored["choices"][0]["message"]["content"] == "Hello" and stored["created"] == chunks[0]["created"]


def test_list_filters_by_metadata_and_model_and_pages(svc, fake):
    ids = []
    for i, (model, topic) in enumerate([("a", "x"), ("b", "x"), ("a", "y"), ("a", "x")]):
        fake.say(f"answer {i}")
        ids.append(create(svc, model=model, store=True, metadata={"topic": topic})["id"])
    assert [c["id"] for c in svc.list()["data"]] == ids  # oldest first
    assert [c["id"] for c in svc.list(order="desc")["data"]] == ids[::-1]
    assert [c["id"] for c in svc.list(metadata={"topic": "x"})["data"]] == [ids[0], ids[1], ids[3]]
    assert [c["id"] for c in svc.list(model="a")["data"]] == [ids[0], ids[2], ids[3]]
    assert [c["id"] for c in svc.list(model="a", metadata={"topic": "x"})["data"]] == [ids[0], ids[3]]
    assert svc.list(metadata={"topic": "z"})["data"] == []
    first = svc.list(limit=2)
    assert [c["id"] for c in first["data"]] == ids[:2] and first["has_more"] is True
    assert first["first_id"] == ids[0] and first["last_id"] == ids[1]
    second = svc.list(limit=2, after=first["last_id"])
    assert [c["id"] for c in second["data"]] == ids[2:] and second["has_more"] is False
    assert [c["id"] for c in svc.list(order="desc", after=ids[2])["data"]] == ids[:2][::-1]
    with pytest.raises(InvalidRequestError):  # as every list here answers an unknown cursor
        svc.list(after="chatcmpl-nope")
    with pytest.raises(InvalidRequestError) as err:
        svc.list(limit=0)
    assert err.value.param == "limit"


def test_update_needs_metadata_and_replaces_it(svc, fake):
    fake.say("Hello")
    cid = create(svc, store=True, metadata={"a": "1"})["id"]
    with pytest.raises(InvalidRequestError) as err:
        svc.update(cid)
    assert err.value.param == "metadata"
    with pytest.raises(InvalidRequestError):
        svc.update(cid, metadata="a=2")
    assert svc.update(cid, metadata={"b": "2"})["metadata"] == {"b": "2"}
    assert svc.retrieve(cid)["metadata"] == {"b": "2"}
    assert [c["id"] for c in svc.list(metadata={"b": "2"})["data"]] == [cid]
    with pytest.raises(NotFoundError):
        svc.update("chatcmpl-nope", metadata={})


def test_delete_then_retrieve_is_not_found(svc, fake):
    fake.say("Hello")
    cid = create(svc, store=True)["id"]
    assert svc.delete(cid) == {"id": cid, "object": "chat.completion.deleted", "deleted": True}
    for look in (svc.retrieve, svc.messages, svc.delete):
        with pytest.raises(NotFoundError):
            look(cid)
    assert svc.list()["data"] == []


def test_a_call_cut_by_the_token_limit_streams_what_create_returns(svc, fake):
    fake.say(weather_call("Paris"), weather_call("Paris"))
    whole = create(svc, tools=[WEATHER], max_tokens=20)["choices"][0]
    chunks = list(svc.stream(svc.prepare(body(tools=[WEATHER], max_tokens=20, stream=True))))
    streamed = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert whole["finish_reason"] == chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert streamed == whole["message"]["content"] == weather_call("Paris")[:20]
