"""The MCP tool handlers without a server: names, allowed tools, approval rules, what is
declared and forced, how a call is carried out (or held back for approval) and what the
model is shown again (fake servers and recorder; the real path is tests/api/test_mcp.py)."""

from __future__ import annotations

import json

from local_assistants.adapters.mcp_client import McpFailure, ToolInfo, ToolResult
from local_assistants.core.toolcalls import ParsedCall, ToolProtocol
from local_assistants.tools.base import Call
from local_assistants.tools.mcp import (McpApprovalResponse, McpTool, function_name, mcp_tools, needs_approval,
                                        split_name)


class Servers:
    def __init__(self, result=None, fail=None):
        self.result, self.fail, self.calls = result, fail, []

    def list_tools(self, label):
        if self.fail:
            raise McpFailure("down")
        return [ToolInfo("add", "Add.", {"type": "object", "properties": {"a": {"type": "integer"}}}),
                ToolInfo("drop", None, {"type": "object"})]

    def call_tool(self, label, name, arguments):
        self.calls.append((label, name, arguments))
        if isinstance(self.result, Exception):
            raise self.result
        return self.result or ToolResult(output="ok")


class Store:
    def __init__(self):
        self.steps, self.deleted = [], []

    def find(self, table, **where):
        return [s for s in self.steps if s["run_id"] == where.get("run_id")]

    def delete_where(self, table, **where):
        self.deleted.append(where)


class Recorder:
    def __init__(self):
        self.store = Store()
        self.deltas, self.indexed = [], []

    def open_step(self, run, kind):
        step = {"id": f"step_{len(self.store.steps)}", "run_id": run["id"], "type": kind, "status": "in_progress",
                "metadata": {}, "step_details": {"type": kind, "tool_calls": []}}
        self.store.steps.append(step)
        return step

    def steps(self, run_id):
        return self.store.find("run_steps", run_id=run_id)

    def save_step(self, step):
        pass

    def index_call(self, step, call):
        self.indexed.append(call["type"])

    def step_delta(self, step, delta):
        self.deltas.append(delta)

    def step_to(self, step, status, **fields):
        step["status"] = status


def run(**options):
    return {"id": "resp_1", "tools": [{"type": "mcp", "mcp": {"server_label": "calc", "allowed_tools": None,
                                                              "require_approval": {"default": "never"}, **options}}]}


def test_names_cannot_clash_and_split_back():
    assert function_name("calc", "add") == "mcp__calc__add"
    assert split_name("mcp__calc__add") == ("calc", "add")
    assert split_name("mcp__my-server_x__tool__with__parts") == ("my-server_x", "tool__with__parts")
    assert split_name("add") is None and split_name("mcp__calc") is None
    tool = McpTool(Servers(), Recorder())
    assert tool.claims(ParsedCall("function", "mcp__calc__add")) and not tool.claims(ParsedCall("function", "add"))


def test_approval_rules():
    assert needs_approval({}, "add")  # OpenAI's default: always
    assert not needs_approval({"require_approval": {"default": "never"}}, "add")
    rule = {"require_approval": {"default": "always", "never": ["add"], "always": ["drop"]}}
    assert not needs_approval(rule, "add") and needs_approval(rule, "drop") and needs_approval(rule, "other")


def test_prepare_lists_declares_the_allowed_and_forced_filters():
    rec = Recorder()
    tool = McpTool(Servers(), rec)
    r = run(allowed_tools=["add"])
    assert tool.offered(r) and not McpTool(None, rec).offered(r)
    tool.prepare(r)
    [step] = rec.store.steps
    listing = step["step_details"]["tool_calls"][0]
    assert listing["type"] == "mcp_list_tools" and [t["name"] for t in listing["mcp_list_tools"]["tools"]] == ["add"]
    assert step["metadata"]["before_turns"] and step["status"] == "completed"
    declared = tool.declare(r)
    assert [f["name"] for f in declared.functions] == ["mcp__calc__add"]
    assert declared.functions[0]["parameters"]["properties"]["a"]["type"] == "integer"
    forced = tool.forced(declared, {"type": "mcp", "mcp": {"server_label": "calc", "name": "add"}})
    assert [f["name"] for f in forced.functions] == ["mcp__calc__add"]
    assert tool.forced(declared, {"type": "mcp", "mcp": {"server_label": "other", "name": None}}).functions == []
    tool.finish("resp_1")
    assert [f["name"] for f in tool.declare(r).functions] == ["mcp__calc__add"]  # read back from the steps


def test_a_listing_that_fails_is_recorded_and_nothing_is_declared():
    rec = Recorder()
    tool = McpTool(Servers(fail=True), rec)
    tool.prepare(run())
    listing = rec.store.steps[0]["step_details"]["tool_calls"][0]["mcp_list_tools"]
    assert listing["error"] == "down" and listing["tools"] == []
    assert tool.declare(run()).functions == []


def carried(tool, rec, r, name="mcp__calc__add", arguments='{"a": 1}'):
    tool.prepare(r)
    stored, deltas = tool.record(ParsedCall("function", name, arguments), "call_x", 0)
    assert deltas == [] and stored["mcp"]["name"] == name.rsplit("__", 1)[1]
    step = rec.open_step(r, "tool_calls")
    step["step_details"]["tool_calls"] = [stored]
    return Call(r, step, 0, stored, save_step=lambda: None, publish_delta=lambda d: rec.step_delta(step, d), cancelled=lambda: False)


def test_execute_carries_out_and_records_output_or_error():
    rec = Recorder()
    servers = Servers(result=ToolResult(output="2"))
    tool = McpTool(servers, rec)
    c = carried(tool, rec, run())
    assert tool.execute(c)
    assert servers.calls == [("calc", "add", {"a": 1})] and c.call["mcp"]["output"] == "2"
    assert rec.deltas[-1] == {"index": 0, "type": "mcp", "mcp": {"output": "2", "error": None}}
    assert tool.output(c.call) == ("mcp__calc__add", "2")
    servers.result = McpFailure("timed out", -32001)
    c = carried(tool, rec, run())
    tool.execute(c)
    assert c.call["mcp"]["error"] == {"type": "mcp_protocol_error", "code": -32001, "message": "timed out"}
    assert tool.output(c.call)[1] == "Error: timed out"


def test_a_tool_not_allowed_or_not_listed_is_not_called():
    rec = Recorder()
    servers = Servers()
    tool = McpTool(servers, rec)
    c = carried(tool, rec, run(allowed_tools=["drop"]))
    tool.execute(c)
    assert servers.calls == [] and "not allowed" in c.call["mcp"]["error"]["message"]
    c = carried(tool, rec, run(), name="mcp__calc__missing")
    tool.execute(c)
    assert servers.calls == [] and "Unknown tool" in c.call["mcp"]["error"]["message"]


def test_a_call_needing_approval_becomes_a_request():
    rec = Recorder()
    servers = Servers()
    tool = McpTool(servers, rec)
    c = carried(tool, rec, run(require_approval={"default": "always"}))
    assert tool.execute(c) and servers.calls == []
    assert c.call["type"] == "mcp_approval_request" and "mcp" not in c.call
    assert c.call["mcp_approval_request"] == {"server_label": "calc", "name": "add", "arguments": '{"a": 1}'}
    assert rec.store.deleted == [{"ref": "call:call_x"}] and rec.indexed[-1] == "mcp_approval_request"
    handlers = {h.kind: h for h in mcp_tools(servers, rec)}
    assert handlers["mcp_approval_request"].waits_for_client


def test_an_approved_call_in_the_input_is_carried_out_first():
    rec = Recorder()
    servers = Servers()
    tool = McpTool(servers, rec)
    given = {"id": "step_in", "run_id": "resp_1", "type": "tool_calls", "status": "completed",
             "metadata": {"response_input": "true"}, "step_details": {"tool_calls": [
                 {"id": "call_a", "type": "mcp_approval_response", "mcp_approval_response": {
                     "approval_request_id": "mcpr_1", "approve": True, "reason": None, "server_label": "calc",
                     "name": "add", "arguments": '{"a": 5}'}},
                 {"id": "call_b", "type": "mcp_approval_response", "mcp_approval_response": {
                     "approval_request_id": "mcpr_2", "approve": False, "reason": None, "server_label": "calc",
                     "name": "drop", "arguments": "{}"}}]}}
    rec.store.steps.append(given)
    tool.prepare(run(require_approval={"default": "always"}))
    assert servers.calls == [("calc", "add", {"a": 5})]
    made = rec.store.steps[-1]["step_details"]["tool_calls"][0]
    assert made["mcp"]["approval_request_id"] == "mcpr_1" and made["mcp"]["output"] == "ok"
    tool.prepare(run(require_approval={"default": "always"}))  # never twice
    assert len(servers.calls) == 1


def test_a_refused_call_is_shown_to_the_model_with_the_refusal():
    handler = McpApprovalResponse()
    refused = {"id": "call_b", "type": "mcp_approval_response", "mcp_approval_response": {
        "approval_request_id": "mcpr_2", "approve": False, "reason": "too risky", "server_label": "calc",
        "name": "drop", "arguments": "{}"}}
    approved = json.loads(json.dumps(refused))
    approved["id"] = "call_c"
    approved["mcp_approval_response"]["approve"] = True
    items = handler.replay({"id": "step_1"}, [refused, approved], len, 0, 0, ToolProtocol(native=False))
    assert len(items) == 2  # the refused call and its answer; the approved one is shown by its call
    assert "mcp__calc__drop" in items[0].text and "declined" in items[1].text and "too risky" in items[1].text
