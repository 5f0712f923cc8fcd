"""Built-in tools through the Responses API: the code interpreter in containers, file
search over vector stores, with ``include`` and citations, streamed and not.

Real sandboxed kernels, embedding model, FAISS, SQLite and server; the model is the real
test model, wrapped so that chosen turns say scripted text (exact code, an exact query).
"""

from __future__ import annotations

import openai
import pytest

from conftest import say, wait_for
from test_responses import check_order, parse_events

FACT = "The launch code of the Otter project is PURPLE-OTTER-42, chosen by Ada in 1843."
PLOT = ("import matplotlib.pyplot as plt\nxs = list(range(11))\nplt.plot(xs, [x * x for x in xs])\n"
        "plt.savefig('/mnt/data/squares.png')\nplt.show()\nprint('saved')")
AUTO = {"type": "code_interpreter", "container": {"type": "auto"}}


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


def test_code_interpreter_plot_comes_back_as_a_container_file(la, client):
    say(la, f"```python\n{PLOT}\n```", "The plot of the squares is in /mnt/data/squares.png.")
    r = client.responses.create(model="gpt-4o", input="Plot the squares.", tools=[AUTO],
                                include=["code_interpreter_call.outputs"])
    assert r.status == "completed", r.error
    call = next(o for o in r.output if o.type == "code_interpreter_call")
    assert call.container_id.startswith("cntr_") and "plt.plot" in call.code
    kinds = [o.type for o in call.outputs]
    assert "logs" in kinds and "image" in kinds
    assert "saved" in next(o.logs for o in call.outputs if o.type == "logs")
    files = client.containers.files.list(call.container_id).data
    png = next(f for f in files if f.path == "/mnt/data/squares.png")
    assert png.source == "assistant"
    assert client.containers.files.content.retrieve(png.id, container_id=call.container_id).read()[:4] == b"\x89PNG"
    message = next(o for o in r.output if o.type == "message")
    [citation] = [a for a in message.content[0].annotations if a.type == "container_file_citation"]
    assert citation.container_id == call.container_id and citation.file_id == png.id
    assert citation.filename == "squares.png"
    # without include, no outputs are shown
    assert next(o for o in client.responses.retrieve(r.id).output if o.type == "code_interpreter_call").outputs is None
    # the same container carries on: its variables are still there
    say(la, "```python\nprint(len(xs))\n```", "There are 11.")
    again = client.responses.create(model="gpt-4o", input="How many points?", previous_response_id=r.id,
                                    tools=[{"type": "code_interpreter", "container": call.container_id}],
                                    include=["code_interpreter_call.outputs"])
    logs = next(o for o in again.output if o.type == "code_interpreter_call").outputs[0].logs
    assert logs.strip() == "11"


def test_code_interpreter_streams_its_events_in_order(la, client):
    say(la, "```python\nprint(6 * 7)\n```", "It is 42.")
    with client.responses.stream(model="gpt-4o", input="6 times 7?", tools=[AUTO]) as stream:
        events = parse_events(list(stream))
        final = stream.get_final_response()
    check_order(events)
    types = [e.type for e in events]
    wanted = ["response.output_item.added", "response.code_interpreter_call.in_progress",
              "response.code_interpreter_call_code.delta", "response.code_interpreter_call_code.done",
              "response.code_interpreter_call.interpreting", "response.code_interpreter_call.completed",
              "response.output_item.done"]
    positions = [types.index(t) for t in wanted]
    assert positions == sorted(positions), types
    stored = client.responses.retrieve(final.id)
    assert [o.type for o in stored.output] == [o.type for o in final.output] == ["code_interpreter_call", "message"]


def test_an_expired_container_is_named_in_a_clear_error(la, client):
    container = client.containers.create(name="short", expires_after={"anchor": "last_active_at", "minutes": 1})
    row = la.runtime.store.get("containers", container.id)
    row["last_active_at"] -= 3600
    la.runtime.store.update("containers", row, thread_id=None)
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="gpt-4o", input="x",
                                tools=[{"type": "code_interpreter", "container": container.id}])
    assert container.id in err.value.message and "expired" in err.value.message
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-4o", input="x", tools=[{"type": "code_interpreter", "container": "cntr_no"}])


def test_file_search_with_results_and_a_citation(la, client, store):
    vs, doc = store
    say(la, '<tool_call>\n{"name": "file_search", "arguments": {"query": "Otter launch code"}}\n</tool_call>',
        "The launch code is PURPLE-OTTER-42.")
    r = client.responses.create(model="gpt-4o", input="What is the Otter launch code?",
                                tools=[{"type": "file_search", "vector_store_ids": [vs.id], "max_num_results": 3}],
                                include=["file_search_call.results"])
    assert r.status == "completed", r.error
    call = next(o for o in r.output if o.type == "file_search_call")
    assert call.queries == ["Otter launch code"] and call.status == "completed"
    assert call.results[0].file_id == doc.id and FACT in call.results[0].text and len(call.results) <= 3
    message = next(o for o in r.output if o.type == "message")
    [citation] = message.content[0].annotations
    assert citation.type == "file_citation" and citation.file_id == doc.id and citation.filename == "otter.md"
    assert client.responses.retrieve(r.id).output[0].results is None  # only when included


def test_file_search_streams_its_events_and_filters_apply(la, client, store):
    vs, doc = store
    say(la, '<tool_call>\n{"name": "file_search", "arguments": {"query": "rain in Paris"}}\n</tool_call>',
        "It rained.")
    with client.responses.stream(model="gpt-4o", input="Weather?", include=["file_search_call.results"],
                                 tools=[{"type": "file_search", "vector_store_ids": [vs.id],
                                         "filters": {"type": "eq", "key": "lang", "value": "none"}}]) as stream:
        events = parse_events(list(stream))
        final = stream.get_final_response()
    check_order(events)
    types = [e.type for e in events]
    for t in ("response.file_search_call.in_progress", "response.file_search_call.searching",
              "response.file_search_call.completed"):
        assert t in types
    call = next(o for o in final.output if o.type == "file_search_call")
    assert call.results == []  # no file has that attribute


def test_function_call_streams_its_arguments(la, client):
    tool = {"type": "function", "name": "add", "parameters": {"type": "object", "properties": {
        "a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}
    say(la, '<tool_call>\n{"name": "add", "arguments": {"a": 2, "b": 3}}\n</tool_call>')
    with client.responses.stream(model="gpt-4o", input="2+3?", tools=[tool], tool_choice="required") as stream:
        events = parse_events(list(stream))
        final = stream.get_final_response()
    check_order(events)
    types = [e.type for e in events]
    assert types.index("response.function_call_arguments.delta") < types.index(
        "response.function_call_arguments.done") < types.index("response.output_item.done")
    [call] = final.output
    assert call.type == "function_call" and call.name == "add" and call.arguments.replace(" ", "") == '{"a":2,"b":3}'
    assert client.responses.retrieve(final.id).output[0].call_id == call.call_id
