"""The code interpreter through the official SDK: real sandboxed kernels, real files.

Some tests need exact code (a file written, a plot shown); for those the real model
is wrapped so that chosen turns say scripted text, through the real tokenizer and
template, while the kernel, the sandbox, the store and the server are all real.
"""

from __future__ import annotations

import pytest
from openai import AssistantEventHandler

from conftest import make_settings, say, sdk_client
from local_assistants import LocalAssistants

TUTOR = "You are a personal math tutor. Write and run code to answer math questions."


@pytest.fixture(scope="module")
def la(scripted_server):
    return scripted_server


@pytest.fixture(scope="module")
def client(scripted_client):
    return scripted_client


@pytest.fixture(scope="module")
def tutor(client):
    return client.beta.assistants.create(model="gpt-4o", name="Math Tutor", instructions=TUTOR,
                                         tools=[{"type": "code_interpreter"}])


def script(la, client, *texts):
    say(la, *texts)


class Recorder(AssistantEventHandler):
    def __init__(self):
        super().__init__()
        self.names: list[str] = []
        self.code = ""
        self.logs: list[str] = []

    def on_event(self, event) -> None:
        self.names.append(event.event)

    def on_tool_call_delta(self, delta, snapshot) -> None:
        if delta.type == "code_interpreter":
            self.code += delta.code_interpreter.input or ""
            for output in delta.code_interpreter.outputs or []:
                if output.type == "logs":
                    self.logs.append(output.logs)


def test_the_model_writes_code_and_the_kernel_runs_it(la, client, tutor):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "What is 149 * 84?"}])
    handler = Recorder()
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=tutor.id, event_handler=handler,
                                         tool_choice={"type": "code_interpreter"}, max_completion_tokens=300) as s:
        s.until_done()
    run = s.get_final_run()
    assert run.status in ("completed", "incomplete"), run.last_error
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc").data
    assert steps[0].type == "tool_calls" and steps[0].status == "completed"
    call = steps[0].step_details.tool_calls[0]
    assert call.type == "code_interpreter" and call.id.startswith("call_")
    assert call.code_interpreter.input.strip()
    assert call.code_interpreter.outputs[0].type == "logs"
    # What streamed is what was stored.
    assert handler.code == "".join(c.code_interpreter.input for s in steps if s.type == "tool_calls"
                                   for c in s.step_details.tool_calls)
    assert handler.logs[0] == call.code_interpreter.outputs[0].logs
    head = ["thread.run.created", "thread.run.queued", "thread.run.in_progress", "thread.run.step.created",
            "thread.run.step.in_progress", "thread.run.step.delta"]
    assert handler.names[: len(head)] == head
    assert "thread.run.step.completed" in handler.names


def test_last_expression_is_shown_like_a_notebook_and_state_persists(la, client, tutor):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "What is 149 * 84?"}])
    script(la, client, "```python\nx = 149 * 84\nx\n```", "It is 12516.")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=tutor.id)
    assert run.status == "completed"
    step = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc").data[0]
    assert step.step_details.tool_calls[0].code_interpreter.outputs[0].logs == "12516"
    client.beta.threads.messages.create(thread.id, role="user", content="And x + 1?")
    script(la, client, "```python\nx + 1\n```", "12517.")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=tutor.id)
    step = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc").data[0]
    assert step.step_details.tool_calls[0].code_interpreter.outputs[0].logs == "12517"


def test_images_and_written_files_come_back_as_files(la, client, tutor):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Plot squares and save them."}])
    code = ("import matplotlib.pyplot as plt\nxs = list(range(11))\nplt.plot(xs, [x * x for x in xs])\n"
            "plt.show()\nopen('/mnt/data/squares.csv', 'w').write('\\n'.join(f'{x},{x*x}' for x in xs))")
    script(la, client, f"```python\n{code}\n```", "Here is the plot, and the table is in /mnt/data/squares.csv.")
    handler = Recorder()
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=tutor.id, event_handler=handler) as s:
        s.until_done()
    run = s.get_final_run()
    assert run.status == "completed"
    step = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc").data[0]
    outputs = step.step_details.tool_calls[0].code_interpreter.outputs
    image_id = next(o.image.file_id for o in outputs if o.type == "image")
    image = client.files.retrieve(image_id)
    assert image.purpose == "assistants_output"
    assert client.files.content(image_id).read()[:8] == b"\x89PNG\r\n\x1a\n"

    [message] = client.beta.threads.messages.list(thread.id, run_id=run.id).data
    assert [c.type for c in message.content] == ["image_file", "text"]
    assert message.content[0].image_file.file_id == image_id
    text = message.content[1].text
    [annotation] = text.annotations
    assert annotation.type == "file_path"
    assert text.value[annotation.start_index:annotation.end_index] == "sandbox:/mnt/data/squares.csv"
    data = client.files.content(annotation.file_path.file_id).read().decode()
    assert data.splitlines()[3] == "3,9"
    # The streamed snapshot ends as the stored message.
    [final] = s.get_final_messages()
    assert final.content[1].text.value == text.value


def test_files_given_to_the_code_interpreter_are_in_mnt_data(la, client):
    a_file = client.files.create(file=("prices.csv", b"item,price\napple,3\n"), purpose="assistants")
    t_file = client.files.create(file=("notes.txt", b"remember 42"), purpose="assistants")
    m_file = client.files.create(file=("extra.txt", b"from a message"), purpose="assistants")
    assistant = client.beta.assistants.create(model="gpt-4o", instructions=TUTOR, tools=[{"type": "code_interpreter"}],
                                              tool_resources={"code_interpreter": {"file_ids": [a_file.id]}})
    thread = client.beta.threads.create(
        tool_resources={"code_interpreter": {"file_ids": [t_file.id]}},
        messages=[{"role": "user", "content": "What files do I have?",
                   "attachments": [{"file_id": m_file.id, "tools": [{"type": "code_interpreter"}]}]}])
    script(la, client, "```python\nimport os\nsorted(os.listdir('.')), open('notes.txt').read()\n```", "Three files.")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    step = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc").data[0]
    logs = step.step_details.tool_calls[0].code_interpreter.outputs[0].logs
    assert logs == "(['extra.txt', 'notes.txt', 'prices.csv'], 'remember 42')"
    # Input files are not handed back as outputs.
    [message] = client.beta.threads.messages.list(thread.id, run_id=run.id).data
    assert message.content[-1].text.annotations == []


def test_forcing_the_code_tool_needs_the_tool(client):
    import openai

    plain = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    with pytest.raises(openai.BadRequestError) as err:
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=plain.id,
                                        tool_choice={"type": "code_interpreter"})
    assert err.value.param == "tool_choice.type"


def test_without_a_usable_sandbox_the_run_fails_clearly(tmp_path):
    settings = make_settings(tmp_path, kernel_python=tmp_path / "missing" / "python")
    with LocalAssistants(settings) as server:
        c = sdk_client(server.base_url)
        assistant = c.beta.assistants.create(model="gpt-4o", tools=[{"type": "code_interpreter"}])
        thread = c.beta.threads.create(messages=[{"role": "user", "content": "What is 2 + 2?"}])
        run = c.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
        assert run.status == "failed"
        assert "make install" in run.last_error.message
        c.close()


def test_deleting_a_thread_ends_its_kernel_and_deletes_its_disk(la, client, tutor):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Write a file."}])
    script(la, client, "```python\nopen('/mnt/data/kept.txt', 'w').write('x' * 1000)\n```", "Done.")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=tutor.id)
    assert run.status == "completed"
    pool = la.runtime.kernels
    assert thread.id in pool.by_thread
    on_disk = [p for p in (pool.workspaces.disk_image(thread.id), pool.workspaces.plain_folder(thread.id))
               if p.exists()]
    assert on_disk, "the thread has a folder while it lives"
    client.beta.threads.delete(thread.id)
    assert thread.id not in pool.by_thread
    assert not any(p.exists() for p in on_disk)


def test_a_fallback_model_keeps_code_written_in_its_answer_as_text(la, client, tutor):
    """Only models with their own tool protocol have answer code run (they write code to run
    that way); for the others a code block inside an answer is part of the answer."""
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Show me how to print 2."}])
    answer = "Like this:\n```python\nprint(2)\n```"
    script(la, client, answer)
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=tutor.id)
    assert run.status == "completed"
    assert [s.type for s in client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data] == \
        ["message_creation"]
    assert client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data[0].content[0].text.value == answer
