"""file_search in runs: the model's query, the step with results, the prompt, citations.

Real embedding model, FAISS, SQLite and server; the model is the real one, wrapped
so that chosen turns say scripted text (a search query, then an answer).
"""

from __future__ import annotations

import pytest

from conftest import say, wait_for

FACT = "The launch code of the Otter project is PURPLE-OTTER-42, chosen by Ada in 1843."
INCLUDE = ["step_details.tool_calls[*].file_search.results[*].content"]


@pytest.fixture(scope="module")
def la(scripted_server):
    return scripted_server


@pytest.fixture(scope="module")
def client(scripted_client):
    return scripted_client


@pytest.fixture(scope="module")
def store(client):
    doc = client.files.create(file=("otter.md", ("# Otter project\n\n" + FACT + "\n").encode()), purpose="assistants")
    other = client.files.create(file=("weather.txt", b"It rained in Paris all week long."), purpose="assistants")
    vs = client.vector_stores.create(name="docs", file_ids=[doc.id, other.id])
    wait_for(lambda: client.vector_stores.retrieve(vs.id).file_counts.completed == 2, timeout=120)
    return vs, doc


def _script(la, client, *texts):
    say(la, *texts)


def test_a_search_step_with_results_and_a_cited_answer(la, client, store):
    vs, doc = store
    assistant = client.beta.assistants.create(model="gpt-4o", instructions="Answer from the files.",
                                              tools=[{"type": "file_search"}],
                                              tool_resources={"file_search": {"vector_store_ids": [vs.id]}})
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "What is the Otter launch code?"}])
    _script(la, client, '<tool_call>\n{"name": "file_search", "arguments": {"query": "Otter launch code"}}\n</tool_call>',
            "The launch code is PURPLE-OTTER-42.")
    names = []
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as s:
        for event in s:
            names.append(event.event)
    run = s.get_final_run()
    assert run.status == "completed", run.last_error
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc", include=INCLUDE).data
    assert [st.type for st in steps] == ["tool_calls", "message_creation"]
    [call] = steps[0].step_details.tool_calls
    assert call.type == "file_search"
    top = call.file_search.results[0]
    assert top.file_id == doc.id and top.file_name == "otter.md" and 0 < top.score <= 1
    assert FACT in top.content[0].text
    plain = client.beta.threads.runs.steps.retrieve(steps[0].id, thread_id=thread.id, run_id=run.id)
    assert plain.step_details.tool_calls[0].file_search.results[0].content is None  # only when included
    [message] = client.beta.threads.messages.list(thread.id, run_id=run.id).data
    text = message.content[0].text
    [citation] = text.annotations
    assert citation.type == "file_citation" and citation.file_citation.file_id == doc.id
    assert text.value[citation.start_index:citation.end_index] == citation.text
    assert text.value.startswith("The launch code is PURPLE-OTTER-42.")
    assert "thread.run.step.delta" in names and names[-1] == "thread.run.completed"


def test_forcing_file_search_with_the_real_model(la, client, store):
    vs, doc = store
    assistant = client.beta.assistants.create(model="gpt-4o", instructions="Answer from the files.",
                                              tools=[{"type": "file_search"}])
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "What is the Otter launch code?"}],
        tool_resources={"file_search": {"vector_store_ids": [vs.id]}})
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id,
                                                   tool_choice={"type": "file_search"}, max_completion_tokens=80)
    assert run.status in ("completed", "incomplete"), run.last_error
    step = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc", include=INCLUDE).data[0]
    assert step.step_details.tool_calls[0].type == "file_search"
    assert step.step_details.tool_calls[0].file_search.results
