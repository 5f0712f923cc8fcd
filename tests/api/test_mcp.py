"""MCP tools through the Responses API, end to end: the official openai SDK against the
server, the server against a real stdio MCP server written with the official ``mcp``
SDK's FastMCP (tests/data/mcp_server.py).  The model is the real test model, wrapped so
that chosen turns say scripted text (an exact call)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import openai
import pytest

from conftest import say, serve_scripted, sdk_client, wait_for
from test_responses import check_order, parse_events

SERVER = Path(__file__).resolve().parents[1] / "data" / "mcp_server.py"
NEVER = "never"


def call(name: str, **arguments) -> str:
    return f'<tool_call>\n{json.dumps({"name": name, "arguments": arguments})}\n</tool_call>'


@pytest.fixture(scope="module")
def pid_file(tmp_path_factory):
    return tmp_path_factory.mktemp("mcp-pid") / "pid"


@pytest.fixture(scope="module")
def la(tmp_path_factory, pid_file):
    folder = tmp_path_factory.mktemp("mcp")
    config = folder / "mcp.json"
    config.write_text(json.dumps({"servers": {
        "tools": {"command": [sys.executable, str(SERVER)], "env": {"MCP_PID_FILE": str(pid_file)},
                  "timeout_s": 6},
        "remote": {"url": "http://127.0.0.1:9/mcp", "timeout_s": 2}}}))
    with serve_scripted(folder, mcp_config=config) as server:
        yield server


@pytest.fixture(scope="module")
def client(la):
    c = sdk_client(la.base_url)
    yield c
    c.close()


def tool(**extra):
    return {"type": "mcp", "server_label": "tools", "require_approval": NEVER, **extra}


def test_a_call_comes_back_in_an_mcp_call_item_and_into_the_answer(la, client):
    say(la, call("mcp__tools__add", a=2, b=3), "The sum is 5.")
    r = client.responses.create(model="gpt-4o", input="What is 2 + 3?", tools=[tool()])
    assert r.status == "completed", r.error
    assert [o.type for o in r.output] == ["mcp_list_tools", "mcp_call", "message"]
    listing, made, message = r.output
    assert listing.server_label == "tools" and listing.error is None
    assert {t.name for t in listing.tools} == {"add", "slow", "fail", "environment"}
    add = next(t for t in listing.tools if t.name == "add")
    assert add.input_schema["properties"]["a"]["type"] == "integer"
    assert (made.name, made.server_label, json.loads(made.arguments)) == ("add", "tools", {"a": 2, "b": 3})
    assert made.output == "The sum is 5." and made.error is None and made.status == "completed"
    assert message.content[0].text == "The sum is 5."
    # the model was given the output: it is in the prompt of the answering turn
    stored = client.responses.retrieve(r.id)
    assert [o.type for o in stored.output] == ["mcp_list_tools", "mcp_call", "message"]
    assert stored.tools[0].type == "mcp" and stored.tools[0].server_label == "tools"


def test_the_server_runs_with_a_scrubbed_environment(la, client, monkeypatch):
    say(la, call("mcp__tools__environment"), "Done.")
    r = client.responses.create(model="gpt-4o", input="env?", tools=[tool()])
    made = next(o for o in r.output if o.type == "mcp_call")
    assert made.output.split() == ["HOME", "LANG", "MCP_PID_FILE", "PATH"]


def test_allowed_tools_are_the_only_ones_listed_declared_and_forced(la, client):
    say(la, "Nothing to call.")
    r = client.responses.create(model="gpt-4o", input="hi", tools=[tool(allowed_tools=["add"])])
    assert [t.name for t in r.output[0].tools] == ["add"]
    r2 = client.responses.create(model="gpt-4o", input="hi", tools=[tool(allowed_tools={"tool_names": ["fail"]})])
    assert [t.name for t in r2.output[0].tools] == ["fail"]
    # a forced call of a tool not allowed is refused
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="gpt-4o", input="hi", tools=[tool(allowed_tools=["add"])],
                                tool_choice={"type": "mcp", "server_label": "tools", "name": "slow"})
    assert "allowed_tools" in err.value.message
    # the model cannot call it either: a call of it (were the grammar bypassed) fails, not carried out
    say(la, call("mcp__tools__slow", seconds=0), "ok")
    r3 = client.responses.create(model="gpt-4o", input="hi", tools=[tool(allowed_tools=["add"])])
    made = [o for o in r3.output if o.type == "mcp_call"]
    assert all(m.status == "failed" and "not allowed" in m.error.message for m in made)


def test_unknown_labels_and_urls_not_allowed_are_refused(la, client):
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="gpt-4o", input="hi", tools=[{"type": "mcp", "server_label": "nope"}])
    assert "nope" in err.value.message and err.value.param == "tools[0].server_label"
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="gpt-4o", input="hi", tools=[
            {"type": "mcp", "server_label": "remote", "server_url": "https://mcp.example.com/mcp"}])
    assert "not allowed" in err.value.message
    with pytest.raises(openai.BadRequestError):  # loopback, but not the label's own URL
        client.responses.create(model="gpt-4o", input="hi", tools=[
            {"type": "mcp", "server_label": "remote", "server_url": "http://127.0.0.1:9999/other"}])
    with pytest.raises(openai.BadRequestError):  # a stdio server has no URL
        client.responses.create(model="gpt-4o", input="hi", tools=[
            {"type": "mcp", "server_label": "tools", "server_url": "http://127.0.0.1:9/mcp"}])
    with pytest.raises(openai.BadRequestError):  # a function may not take an MCP tool's name
        client.responses.create(model="gpt-4o", input="hi", tools=[
            tool(), {"type": "function", "name": "mcp__tools__add", "parameters": {"type": "object"}}])


def test_a_server_that_cannot_be_reached_fails_its_listing_and_the_response_goes_on(la, client):
    say(la, "No tools today.")
    r = client.responses.create(model="gpt-4o", input="hi",
                                tools=[{"type": "mcp", "server_label": "remote", "require_approval": NEVER,
                                        "server_url": "http://127.0.0.1:9/mcp"}])
    assert r.status == "completed"
    assert r.output[0].type == "mcp_list_tools" and r.output[0].error and r.output[0].tools == []
    assert r.output[-1].type == "message"


def test_a_tool_error_fails_the_call_and_the_response_completes(la, client):
    say(la, call("mcp__tools__fail", reason="testing"), "It failed.")
    r = client.responses.create(model="gpt-4o", input="fail", tools=[tool()])
    made = next(o for o in r.output if o.type == "mcp_call")
    assert made.status == "failed" and made.error.type == "mcp_tool_execution_error"
    assert "it broke: testing" in json.dumps(made.error.content)
    assert r.status == "completed" and r.output[-1].type == "message"


def test_a_slow_tool_times_out_as_a_failed_call(la, client):
    say(la, call("mcp__tools__slow", seconds=60), "It took too long.")
    started = time.monotonic()
    r = client.responses.create(model="gpt-4o", input="wait", tools=[tool()])
    assert time.monotonic() - started < 40
    made = next(o for o in r.output if o.type == "mcp_call")
    assert made.status == "failed" and made.error.type == "mcp_protocol_error" and made.error.code == -32001
    assert r.status == "completed" and r.output[-1].content[0].text == "It took too long."


def test_a_server_killed_mid_call_fails_the_call(la, client, pid_file):
    pid_file.unlink(missing_ok=True)
    say(la, call("mcp__tools__slow", seconds=30), "The server went away.")
    r = client.responses.create(model="gpt-4o", input="wait", tools=[tool()], background=True)
    pid = int(wait_for(lambda: pid_file.exists() and pid_file.read_text(), timeout=30))
    os.kill(pid, signal.SIGKILL)
    done = wait_for(lambda: (x := client.responses.retrieve(r.id)).status == "completed" and x, timeout=30)
    made = next(o for o in done.output if o.type == "mcp_call")
    assert made.status == "failed" and made.error.type == "mcp_protocol_error"
    assert made.error.code != -32001  # it died: no waiting for the timeout


def test_approval_approved_then_carried_out_first(la, client):
    say(la, call("mcp__tools__add", a=20, b=22))
    r = client.responses.create(model="gpt-4o", input="20 + 22?", tools=[tool(require_approval="always")])
    assert r.status == "completed"
    assert [o.type for o in r.output] == ["mcp_list_tools", "mcp_approval_request"]
    request = r.output[1]
    assert request.id.startswith("mcpr_") and request.name == "add" and json.loads(request.arguments) == {
        "a": 20, "b": 22}
    say(la, "It is 42.")
    r2 = client.responses.create(model="gpt-4o", previous_response_id=r.id, tools=[tool(require_approval="always")],
                                 input=[{"type": "mcp_approval_response", "approval_request_id": request.id,
                                         "approve": True}])
    assert r2.status == "completed", r2.error
    assert [o.type for o in r2.output] == ["mcp_list_tools", "mcp_call", "message"]
    made = r2.output[1]
    assert made.output == "The sum is 42." and made.approval_request_id == request.id
    [given] = client.responses.input_items.list(r2.id).data
    assert given.type == "mcp_approval_response" and given.approve is True


def test_approval_refused_the_model_is_told(la, client):
    say(la, call("mcp__tools__add", a=1, b=1))
    rule = {"always": {"tool_names": ["add"]}, "never": {"tool_names": ["slow"]}}
    r = client.responses.create(model="gpt-4o", input="1 + 1?", tools=[tool(require_approval=rule)])
    request = r.output[-1]
    assert request.type == "mcp_approval_request"
    say(la, "I was not allowed to add them.")
    r2 = client.responses.create(model="gpt-4o", previous_response_id=r.id, tools=[tool(require_approval=rule)],
                                 input=[{"type": "mcp_approval_response", "approval_request_id": request.id,
                                         "approve": False, "reason": "no"}])
    assert r2.status == "completed"
    assert [o.type for o in r2.output] == ["mcp_list_tools", "message"]
    # what the model was shown of its run: its call, answered with the refusal
    steps = la.runtime.store.find("run_steps", run_id=r2.id)
    shown = " ".join(i.text for i in la.runtime.tools.replay_items(steps, len, 0))
    assert "mcp__tools__add" in shown and "declined" in shown and "(no)" in shown
    with pytest.raises(openai.BadRequestError):  # an unknown request id
        client.responses.create(model="gpt-4o", previous_response_id=r.id, tools=[tool()],
                                input=[{"type": "mcp_approval_response", "approval_request_id": "mcpr_nope",
                                        "approve": True}])


def test_streaming_events_parse_and_come_in_order(la, client):
    say(la, call("mcp__tools__add", a=4, b=5), "It is 9.")
    with client.responses.stream(model="gpt-4o", input="4 + 5?", tools=[tool()]) as stream:
        events = parse_events(list(stream))
        final = stream.get_final_response()
    check_order(events)
    types = [e.type for e in events]
    wanted = ["response.mcp_list_tools.in_progress", "response.mcp_list_tools.completed",
              "response.output_item.done", "response.output_item.added", "response.mcp_call.in_progress",
              "response.mcp_call_arguments.delta", "response.mcp_call_arguments.done",
              "response.mcp_call.completed", "response.output_item.done", "response.output_text.delta",
              "response.completed"]
    positions = []
    start = 0
    for t in wanted:
        start = types.index(t, start)
        positions.append(start)
    assert positions == sorted(positions), types
    assert [o.type for o in final.output] == ["mcp_list_tools", "mcp_call", "message"]


def test_mcp_items_show_in_a_conversation(la, client):
    conversation = client.conversations.create()
    say(la, call("mcp__tools__add", a=1, b=2), "3.")
    client.responses.create(model="gpt-4o", input="1 + 2?", tools=[tool()], conversation=conversation.id)
    items = client.conversations.items.list(conversation.id, order="asc").data
    kinds = [i.type for i in items]
    assert kinds == ["message", "mcp_list_tools", "mcp_call", "message"], kinds
    made = items[2]
    assert client.conversations.items.retrieve(made.id, conversation_id=conversation.id).output == "The sum is 3."
