"""Runs of a model that calls tools in its own protocol (Qwen2.5's template), through the
official SDK and the real server, with scripted turns: the call framings such a model
writes, its results as tool messages, and code written in an answer being run.

The model is the small test model (its tokenizer), prompted through Qwen2.5-Coder's own
chat template (from its GGUF metadata, kept in tests/data/models), so these tests need no
large model; the real Qwen model is exercised in tests/quality.
"""

from __future__ import annotations

import pytest

from tests.conftest import Scripted, sdk_client, serve_scripted
from tests.core.test_golden_prompts import template_of

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class NativeScripted(Scripted):
    """Scripted turns; the prompt is laid out by Qwen2.5-Coder's template."""

    def __init__(self, inner):
        super().__init__(inner)
        self.prompts: list[str] = []

    @property
    def template(self):
        return template_of("qwen2.5-coder-1.5b-instruct")

    def format(self, messages, tools=None):
        text = self.template.render(messages, add_generation_prompt=True, tools=tools)
        self.prompts.append(text)
        return text


@pytest.fixture(scope="module")
def la(tmp_path_factory):
    with serve_scripted(tmp_path_factory.mktemp("native"), NativeScripted) as server:
        yield server


@pytest.fixture(scope="module")
def client(la):
    c = sdk_client(la.base_url)
    yield c
    c.close()


@pytest.fixture(scope="module")
def tutor(client):
    return client.beta.assistants.create(model="gpt-4o", instructions="You are a math tutor.",
                                         tools=[{"type": "code_interpreter"}])


def script(la, *texts):
    la.scripted.script[:] = list(texts)
    la.scripted.prompts.clear()


def steps_of(client, thread_id, run_id):
    return client.beta.threads.runs.steps.list(run_id, thread_id=thread_id, order="asc").data


@pytest.mark.parametrize("call", [
    '<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "print(6 * 7)"}}\n</tool_call>',
    '```json\n{"name": "code_interpreter", "arguments": {"code": "print(6 * 7)"}}\n```',
    '{"name": "code_interpreter", "arguments": {"code": "print(6 * 7)"}}',
    "```python\nprint(6 * 7)\n```",
])
def test_each_framing_of_a_code_call_runs_and_comes_back_as_a_tool_message(la, client, tutor, call):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "What is 6 * 7?"}])
    script(la, call, "It is 42.")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=tutor.id)
    assert run.status == "completed", run.last_error
    steps = steps_of(client, thread.id, run.id)
    assert [s.type for s in steps] == ["tool_calls", "message_creation"]
    code = steps[0].step_details.tool_calls[0].code_interpreter
    assert code.input == "print(6 * 7)" and code.outputs[0].logs == "42"
    # The answer turn saw its call and the output in Qwen's own layout.
    second = la.scripted.prompts[-1]
    assert ('<|im_start|>assistant\n<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "print(6 * 7)"}}'
            '\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n42\n</tool_response><|im_end|>') in second
    assert "```python" not in second


def test_code_written_in_an_answer_is_run_and_the_model_goes_on(la, client, tutor):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Solve 3x + 11 = 14."}])
    script(la, "Here's a Python solution:\n```python\nx = (14 - 11) / 3\nprint(x)\n```\nIt prints the answer.",
           "The code printed 1.0, so x = 1.")
    deltas: list[str] = []
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=tutor.id) as stream:
        for event in stream:
            if event.event == "thread.message.delta":
                deltas += [p.text.value for p in event.data.delta.content if p.type == "text"]
    run = stream.get_final_run()
    assert run.status == "completed", run.last_error
    steps = steps_of(client, thread.id, run.id)
    assert [s.type for s in steps] == ["message_creation", "tool_calls", "message_creation"]
    first = client.beta.threads.messages.retrieve(steps[0].step_details.message_creation.message_id,
                                                  thread_id=thread.id)
    assert first.content[0].text.value == "Here's a Python solution:"
    code = steps[1].step_details.tool_calls[0].code_interpreter
    assert code.input == "x = (14 - 11) / 3\nprint(x)" and code.outputs[0].logs == "1.0"
    assert "```" not in "".join(deltas), "no piece of the code block was streamed as answer text"
    last = client.beta.threads.messages.retrieve(steps[2].step_details.message_creation.message_id,
                                                 thread_id=thread.id)
    assert last.content[0].text.value == "The code printed 1.0, so x = 1."


def test_only_the_first_code_of_a_run_is_taken_from_an_answer(la, client, tutor):
    """Once code has run, a code block in the answer is an explanation, shown as written."""
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "What is 6 * 7?"}])
    answer = "It is 42, as this shows:\n```python\nprint(6 * 7)\n```"
    script(la, "```python\nprint(6 * 7)\n```", answer)
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=tutor.id)
    assert run.status == "completed"
    assert [s.type for s in steps_of(client, thread.id, run.id)] == ["tool_calls", "message_creation"]
    message = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data[0]
    assert message.content[0].text.value == answer


def test_a_follow_up_run_sees_the_code_earlier_runs_ran_where_they_ran_it(la, client, tutor):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "What is 437 * 289?"}])
    script(la, '<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "print(437 * 289)"}}\n</tool_call>',
           "437 * 289 = 126293.")
    first = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=tutor.id)
    assert first.status == "completed", first.last_error
    # A second run whose code sits in its answer: message, code, message.
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="Now add 7 to that result.")
    script(la, "Adding 7:\n```python\nprint(126293 + 7)\n```", "126293 + 7 = 126300.")
    second = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=tutor.id)
    assert second.status == "completed", second.last_error
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="And double it?")
    script(la, "252600.")
    third = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=tutor.id)
    assert third.status == "completed", third.last_error
    prompt = la.scripted.prompts[-1]
    call = ('<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "%s"}}'
            '\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n%s\n</tool_response><|im_end|>\n')
    expected = ["<|im_start|>user\nWhat is 437 * 289?<|im_end|>\n",
                "<|im_start|>assistant\n" + call % ("print(437 * 289)", "126293"),
                "<|im_start|>assistant\n437 * 289 = 126293.<|im_end|>\n",
                "<|im_start|>user\nNow add 7 to that result.<|im_end|>\n",
                "<|im_start|>assistant\nAdding 7:\n" + call % ("print(126293 + 7)", "126300"),
                "<|im_start|>assistant\n126293 + 7 = 126300.<|im_end|>\n",
                "<|im_start|>user\nAnd double it?<|im_end|>\n"]
    at = [prompt.find(part) for part in expected]
    assert -1 not in at, [part for part, i in zip(expected, at) if i < 0]
    assert at == sorted(at), "earlier runs' tool work comes back where it was made"
