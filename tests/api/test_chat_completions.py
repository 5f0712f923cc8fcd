"""Chat completions and legacy completions through the official SDK, against the real
server and the real SmolLM2 (mechanics), on the engine runs use."""

from __future__ import annotations

import json

import openai
import pytest
from pydantic import BaseModel, Field

from conftest import say, sdk_client

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.", "strict": True,
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                   "additionalProperties": False}}}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


def call_text(name: str, arguments: dict) -> str:
    from local_assistants.core.toolcalls import ParsedCall
    from local_assistants.core.toolcalls import call_text as written

    return written(ParsedCall("function", name, json.dumps(arguments)))


def test_a_completion_with_every_role_and_content_parts(shared_client):
    r = shared_client.chat.completions.create(model="gpt-4o", max_completion_tokens=12, user="u1", messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in English."}]},
        {"role": "user", "content": [{"type": "text", "text": "Say hello."}]},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Again."}])
    assert r.object == "chat.completion" and r.choices[0].message.role == "assistant"
    assert r.choices[0].finish_reason in ("stop", "length") and r.choices[0].message.content
    assert r.usage.prompt_tokens > 10 and 0 < r.usage.completion_tokens <= 12


def test_max_tokens_ends_with_length_and_stop_strings_cut(shared_client):
    r = shared_client.chat.completions.create(model="gpt-4o", max_tokens=3, temperature=0,
                                              messages=[{"role": "user", "content": "Tell a long story."}])
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 3
    free = shared_client.chat.completions.create(model="gpt-4o", max_tokens=30, temperature=0,
                                                 messages=[{"role": "user", "content": "Tell a long story."}])
    word = free.choices[0].message.content.split()[2]
    cut = shared_client.chat.completions.create(model="gpt-4o", max_tokens=30, temperature=0, stop=[word],
                                                messages=[{"role": "user", "content": "Tell a long story."}])
    assert word not in cut.choices[0].message.content and cut.choices[0].finish_reason == "stop"


def test_streaming_with_usage_and_the_sdk_stream_helper(shared_client):
    chunks = list(shared_client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Count to three."}], max_tokens=16, stream=True,
        stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert chunks[-2].choices[0].finish_reason in ("stop", "length")
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    with shared_client.chat.completions.stream(model="gpt-4o", max_tokens=16, temperature=0,
                                               messages=[{"role": "user", "content": "Count to three."}]) as s:
        kinds = [event.type for event in s]
        snapshot = s.current_completion_snapshot  # get_final_completion raises when the length was reached
    assert "content.delta" in kinds and snapshot.choices[0].message.content and text


def test_the_same_prompt_again_reuses_the_cache(shared_client):
    messages = [{"role": "system", "content": "You are a helpful assistant who knows a lot about birds. " * 8},
                {"role": "user", "content": "Name a bird."}]
    shared_client.chat.completions.create(model="gpt-4o", messages=messages, max_tokens=4, temperature=0)
    again = shared_client.chat.completions.create(model="gpt-4o", messages=messages, max_tokens=4, temperature=0)
    assert again.usage.prompt_tokens_details.cached_tokens > 50


def test_n_choices_and_seeds(shared_client):
    r = shared_client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "A story."}],
                                              max_tokens=24, n=3, seed=7, temperature=1.0)
    assert [c.index for c in r.choices] == [0, 1, 2]
    texts = [c.message.content for c in r.choices]
    assert len(set(texts)) > 1  # choices differ
    for i, text in enumerate(texts):  # choice i is the single choice with seed 7 + i
        alone = shared_client.chat.completions.create(model="gpt-4o", max_tokens=24, seed=7 + i, temperature=1.0,
                                                      messages=[{"role": "user", "content": "A story."}])
        assert alone.choices[0].message.content == text


def test_logprobs(shared_client):
    r = shared_client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}],
                                              max_tokens=8, temperature=0, logprobs=True, top_logprobs=3)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens and all(len(t.top_logprobs) == 3 for t in content)
    assert "".join(t.token for t in content) == r.choices[0].message.content


def test_tool_calls_round_trip_and_tool_choice(scripted_server, scripted_client):
    say(scripted_server, call_text("get_weather", {"city": "Paris"}))
    r = scripted_client.chat.completions.create(model="gpt-4o", messages=ASK, tools=[WEATHER])
    [call] = r.choices[0].message.tool_calls
    assert r.choices[0].finish_reason == "tool_calls" and r.choices[0].message.content is None
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    say(scripted_server, "It is sunny in Paris.")
    answer = scripted_client.chat.completions.create(model="gpt-4o", tools=[WEATHER], messages=[
        *ASK, r.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"}])
    assert answer.choices[0].message.content == "It is sunny in Paris."
    # the real model, forced to call: a well-formed call of the named function
    forced = scripted_client.chat.completions.create(
        model="gpt-4o", messages=ASK, tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "get_weather"}},
        parallel_tool_calls=False)
    assert forced.choices[0].finish_reason == "tool_calls" and len(forced.choices[0].message.tool_calls) == 1
    json.loads(forced.choices[0].message.tool_calls[0].function.arguments)
    none = scripted_client.chat.completions.create(model="gpt-4o", messages=ASK, tools=[WEATHER], tool_choice="none",
                                                   max_tokens=8)
    assert none.choices[0].message.tool_calls is None


def test_streamed_tool_calls(scripted_server, scripted_client):
    say(scripted_server, call_text("get_weather", {"city": "Oslo"}))
    with scripted_client.chat.completions.stream(model="gpt-4o", messages=ASK, tools=[WEATHER]) as s:
        for _ in s:
            pass
        final = s.get_final_completion()
    [call] = final.choices[0].message.tool_calls
    assert final.choices[0].finish_reason == "tool_calls" and json.loads(call.function.arguments) == {"city": "Oslo"}


def test_structured_outputs_and_parse(shared_client):
    class City(BaseModel):  # bounded, so that the tiny model's strings end within the tokens
        name: str = Field(max_length=24)
        population: int

    parsed = shared_client.chat.completions.parse(model="gpt-4o", max_tokens=400, response_format=City,
                                                  messages=[{"role": "user", "content": "A city in France."}])
    assert isinstance(parsed.choices[0].message.parsed, City)
    obj = shared_client.chat.completions.create(model="gpt-4o", max_tokens=400, temperature=0,
                                                response_format={"type": "json_object"},
                                                messages=[{"role": "user", "content": "A JSON object about a dog."}])
    assert isinstance(json.loads(obj.choices[0].message.content), dict)


def test_stored_completions(shared_server):
    client = sdk_client(shared_server.base_url)
    loose = openai.OpenAI(base_url=shared_server.base_url, api_key="x", max_retries=0)  # see /messages below
    r = client.chat.completions.create(model="gpt-4o", max_tokens=8, store=True, metadata={"topic": "birds"},
                                       messages=[{"role": "user", "content": "Name a bird."}])
    client.chat.completions.create(model="gpt-4o", max_tokens=8, store=True, metadata={"topic": "cats"},
                                   messages=[{"role": "user", "content": "Name a cat."}])
    assert [c.id for c in client.chat.completions.list(metadata={"topic": "birds"}).data] == [r.id]
    assert client.chat.completions.retrieve(r.id).choices[0].message.content == r.choices[0].message.content
    assert client.chat.completions.update(r.id, metadata={"topic": "owls"}).metadata == {"topic": "owls"}
    # the SDK types these as assistant messages; they are the request's, roles kept
    [message] = loose.chat.completions.messages.list(r.id).data
    assert message.role == "user" and message.content == "Name a bird."
    assert client.chat.completions.delete(r.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.retrieve(r.id)
    unstored = client.chat.completions.create(model="gpt-4o", max_tokens=4, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.retrieve(unstored.id)


def test_bad_input_gets_openai_errors(shared_client):
    cases = [
        dict(messages=[]),
        dict(messages=[{"role": "tool", "tool_call_id": "call_x", "content": "1"}]),
        dict(messages=ASK, n=129),
        dict(messages=ASK, logprobs=True, top_logprobs=21),
        dict(messages=ASK, stop=["a", "b", "c", "d", "e"]),
        dict(messages=ASK, tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "nope"}}),
    ]
    for case in cases:
        with pytest.raises(openai.BadRequestError):
            shared_client.chat.completions.create(model="gpt-4o", **case)


def loose_client(server) -> openai.OpenAI:
    """OpenAI streams legacy completions with ``finish_reason: null`` until the last chunk, and
    echoes a prompt's first token with a ``null`` logprob; the SDK's types say neither can be
    null, so only a client that does not validate strictly (the SDK's default) reads them."""
    return openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)


def test_legacy_completions(shared_server, shared_client):
    r = shared_client.completions.create(model="gpt-4o", prompt="The capital of France is", max_tokens=5,
                                         temperature=0, logprobs=2)
    assert r.object == "text_completion" and r.choices[0].finish_reason in ("stop", "length")
    lp = r.choices[0].logprobs
    assert len(lp.tokens) == r.usage.completion_tokens and "".join(lp.tokens) == r.choices[0].text
    assert lp.text_offset[0] == 0 and all(len(t) == 2 for t in lp.top_logprobs)
    several = shared_client.completions.create(model="gpt-4o", prompt=["One", "Two"], max_tokens=3, n=2,
                                               temperature=0)
    assert [c.index for c in several.choices] == [0, 1, 2, 3]
    tokens = shared_client.completions.create(model="gpt-4o", prompt=[1, 2, 3], max_tokens=2, temperature=0)
    assert tokens.usage.prompt_tokens == 3
    chunks = list(loose_client(shared_server).completions.create(model="gpt-4o", prompt="Once", max_tokens=6,
                                                                 stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].usage.completion_tokens == 6


def test_echo_scores_the_prompt(shared_server):
    r = loose_client(shared_server).completions.create(model="gpt-4o", prompt="The cat sat on the mat.", max_tokens=0, echo=True,
                                         logprobs=1)
    lp = r.choices[0].logprobs
    assert r.choices[0].text.endswith("The cat sat on the mat.")
    assert lp.token_logprobs[0] is None and all(x is not None and x <= 0 for x in lp.token_logprobs[1:])
    assert "".join(lp.tokens) == r.choices[0].text


def test_suffix_fills_the_middle_or_is_refused(shared_client):
    try:
        r = shared_client.completions.create(model="gpt-4o", prompt="def add(a, b):\n    ", suffix="\n",
                                             max_tokens=8, temperature=0)
        assert r.choices[0].text is not None
    except openai.BadRequestError as err:
        assert "fill-in-the-middle" in err.message
