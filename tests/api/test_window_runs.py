"""The token-budget window in real runs: the real model, with a wrapper that records
exactly what it was given (the generation itself is the real model's)."""

from __future__ import annotations

import pytest

from conftest import make_settings, sdk_client
from local_assistants import LocalAssistants
from local_assistants.runtime import llama_factory


class Recording:
    """Wraps a real ChatModel and records each formatted conversation and prompt length."""

    def __init__(self, inner):
        self.inner = inner
        self.conversations: list[list[dict]] = []
        self.prompt_lengths: list[int] = []

    def format(self, messages, tools=None):
        self.conversations.append(list(messages))
        return self.inner.format(messages, tools=tools)

    def generate(self, prompt_tokens, **kwargs):
        self.prompt_lengths.append(len(prompt_tokens))
        return self.inner.generate(prompt_tokens, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture
def recorded(tmp_path):
    settings = make_settings(tmp_path)
    models = []

    def factory(resolved):
        model = Recording(llama_factory(settings)(resolved))
        models.append(model)
        return model

    la = LocalAssistants(settings)
    la.start()
    # Swap the factory before any model is loaded: the pool builds models lazily.
    la.runtime.model_pool.factory = factory
    client = sdk_client(la.base_url)
    yield la, client, models
    client.close()
    la.stop()


def _long_thread(la, n: int) -> str:
    rt = la.runtime
    thread = rt.threads.create()
    with rt.store.transaction():
        for i in range(n):
            role = "user" if i % 2 == 0 else "assistant"
            rt.messages.insert(rt.messages.prepare(thread["id"], {"role": role, "content": f"Message {i}: {i} + 1 = {i + 1}."}))
    return thread["id"]


def test_two_thousand_messages_fit_in_max_prompt_tokens(recorded):
    la, client, models = recorded
    thread_id = _long_thread(la, 2000)
    assistant = client.beta.assistants.create(model="gpt-4o", instructions="You are a tutor.")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant.id,
                                                   max_prompt_tokens=500, max_completion_tokens=10)
    assert run.status in ("completed", "incomplete")
    assert run.incomplete_details is None or run.incomplete_details.reason == "max_completion_tokens"
    assert run.usage.prompt_tokens <= 500
    [model] = models
    # usage.prompt_tokens is exactly what the model was given.
    assert model.prompt_lengths[-1] == run.usage.prompt_tokens
    sent = model.conversations[-1]
    assert sent[0] == {"role": "system", "content": "You are a tutor."}
    texts = [m["content"] for m in sent[1:]]
    assert texts[0] == "Message 0: 0 + 1 = 1."  # auto keeps the first user message
    assert texts[-1] == "Message 1999: 1999 + 1 = 2000."  # and the newest
    assert 3 < len(texts) < 100  # and drops the middle


def test_last_messages_sends_exactly_n(recorded):
    la, client, models = recorded
    thread_id = _long_thread(la, 50)
    assistant = client.beta.assistants.create(model="gpt-4o", instructions="You are a tutor.")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant.id, max_completion_tokens=5,
        truncation_strategy={"type": "last_messages", "last_messages": 3})
    assert run.status in ("completed", "incomplete")
    sent = models[-1].conversations[-1]
    assert [m["content"] for m in sent[1:]] == [f"Message {i}: {i} + 1 = {i + 1}." for i in (47, 48, 49)]


def test_a_huge_newest_message_is_cut_with_a_marker(recorded):
    la, client, models = recorded
    assistant = client.beta.assistants.create(model="gpt-4o", instructions="Summarise.")
    words = " ".join(f"word{i}" for i in range(3000))
    thread = client.beta.threads.create(messages=[{"role": "user", "content": words + " THE END"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id,
                                                   max_prompt_tokens=600, max_completion_tokens=5)
    assert run.status in ("completed", "incomplete") and run.usage.prompt_tokens <= 600
    last = models[-1].conversations[-1][-1]["content"]
    assert last.startswith("[... earlier part of this message truncated") and last.endswith("THE END")


def test_instructions_larger_than_the_budget_fail_clearly(recorded):
    _, client, _ = recorded
    assistant = client.beta.assistants.create(model="gpt-4o", instructions="rule " * 2000)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id,
                                                   max_prompt_tokens=500)
    assert run.status == "failed"
    assert run.last_error.code == "invalid_prompt" and "instructions" in run.last_error.message


def test_no_room_left_for_the_newest_message_ends_incomplete(recorded):
    _, client, models = recorded
    probe = client.beta.assistants.create(model="gpt-4o", instructions="x")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "a question " * 50}])
    # Instructions that leave fewer tokens than a useful cut of the message needs.
    client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=probe.id, max_completion_tokens=1)
    count = models[-1].count_tokens
    filler, n = "", 0
    while count(filler) < 480:
        filler += f"rule {n}. "
        n += 1
    assistant = client.beta.assistants.create(model="gpt-4o", instructions=filler)
    client.beta.threads.messages.create(thread.id, role="user", content="another question " * 50)
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id,
                                                   max_prompt_tokens=500)
    assert run.status == "incomplete" and run.incomplete_details.reason == "max_prompt_tokens"
