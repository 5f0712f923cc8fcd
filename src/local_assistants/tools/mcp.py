"""MCP tools in responses: the tools of the operator's declared MCP servers, called by the
model under a grammar made of their input schemas, carried out here through the MCP SDK.

A response's ``mcp`` tool (run tool ``{"type": "mcp", "mcp": {server_label, allowed_tools,
require_approval}}``) works in three records, each a call of a tool_calls step:

- ``mcp_list_tools``: at the response's start (``prepare``), the server's tools after
  ``allowed_tools``; a listing that fails has its ``error`` set and the model goes on
  without that server.
- ``mcp``: the model's call of tool ``t`` of server ``s``, declared to it as the function
  ``mcp__s__t`` (``NAME_PREFIX``; labels hold no ``__``, and a request that has MCP tools
  may not name a function of its own with that prefix, so the names cannot clash), its
  parameters the tool's ``inputSchema``.  Carried out here: its ``output``, or its ``error``
  (a tool's own failure, a server that timed out or died: the call fails, the response
  goes on).
- ``mcp_approval_request``: a call of a tool that ``require_approval`` holds back becomes
  one; the response ends (``completed``) with it.  The next response (by
  ``previous_response_id``) answers it with an ``mcp_approval_response`` input item
  (stored in its input step): approved, the call is carried out first (``prepare``),
  then the model goes on; refused, the model sees its call answered with the refusal.

Steps written before the first model turn are marked ``metadata.before_turns`` (they are
not model turns: no tool round is counted for them).
"""

from __future__ import annotations

import json
import threading
from typing import Any

from ..core import step_state
from ..core.toolcalls import ParsedCall, ToolProtocol
from ..core.window import WindowItem
from ..ids import new_id
from .base import Call, Declared, ToolHandler

NAME_PREFIX = "mcp__"
BEFORE_TURNS = "before_turns"
REFUSED = "The user declined this call of {name}; it was not made. Do not call it again: answer without it."
NOT_ALLOWED_CODE = -32602
INTERNAL_CODE = -32603


def function_name(label: str, tool: str) -> str:
    """The function the model calls for tool ``tool`` of server ``label``."""
    return f"{NAME_PREFIX}{label}__{tool}"


def split_name(name: str) -> tuple[str, str] | None:
    """(label, tool) of a function name made by ``function_name``, or None."""
    if not name.startswith(NAME_PREFIX) or "__" not in name[len(NAME_PREFIX):]:
        return None
    label, tool = name[len(NAME_PREFIX):].split("__", 1)
    return (label, tool) if label and tool else None


def run_servers(run: dict) -> dict[str, dict]:
    """The run's MCP tools by label."""
    return {t["mcp"]["server_label"]: t["mcp"] for t in run.get("tools") or [] if t["type"] == "mcp"}


def allowed(options: dict, tool: str) -> bool:
    names = options.get("allowed_tools")
    return names is None or tool in names


def needs_approval(options: dict, tool: str) -> bool:
    """``require_approval`` normalized as ``{"default": "always"|"never", "always": [...], "never": [...]}``."""
    rule = options.get("require_approval") or {"default": "always"}
    if tool in (rule.get("never") or ()):
        return False
    if tool in (rule.get("always") or ()):
        return True
    return rule.get("default", "always") != "never"


def protocol_error(code: int, message: str) -> dict:
    return {"type": "mcp_protocol_error", "code": code, "message": message}


def error_text(error: dict) -> str:
    if error.get("type") == "mcp_tool_execution_error":
        parts = [c.get("text", "") for c in error.get("content") or [] if isinstance(c, dict)]
        return "Error: " + (" ".join(p for p in parts if p) or "the tool failed")
    return "Error: " + str(error.get("message") or "the MCP server failed")


class McpTool(ToolHandler):
    """The model's calls of MCP tools (kind ``mcp``); lists the servers' tools at a response's
    start and carries out the calls approved in its input."""

    kind = "mcp"

    def __init__(self, servers, recorder):
        self.servers = servers
        """The declared servers (``services.mcp_servers.McpServers``), None: no MCP here."""
        self.recorder = recorder
        self.store = recorder.store if recorder is not None else None
        self._listed: dict[str, dict[str, list[dict]]] = {}
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self.servers is not None and self.recorder is not None

    def offered(self, run: dict) -> bool:
        return self.available and self.requested(run)

    # -- the start of a response --------------------------------------------------------
    def prepare(self, run: dict) -> None:
        listed: dict[str, list[dict]] = {}
        for label, options in run_servers(run).items():
            listed[label] = self._list(run, label, options)
        with self._lock:
            self._listed[run["id"]] = listed
        for approval in self._approved(run):
            self._carry_out_approved(run, approval)

    def _list(self, run: dict, label: str, options: dict) -> list[dict]:
        """Record the server's listing (streamed as it is made); its tools, [] when it failed."""
        rec = self.recorder
        step = rec.open_step(run, "tool_calls")
        step["metadata"] = {**(step.get("metadata") or {}), BEFORE_TURNS: "true"}
        call = {"id": new_id("call"), "type": "mcp_list_tools",
                "mcp_list_tools": {"server_label": label, "tools": [], "error": None}}
        step["step_details"]["tool_calls"] = [call]
        rec.save_step(step)
        rec.index_call(step, call)
        rec.step_delta(step, {"index": 0, "id": call["id"], "type": "mcp_list_tools",
                              "mcp_list_tools": {"server_label": label}})
        tools: list[dict] = []
        try:
            tools = [t.as_item() for t in self.servers.list_tools(label) if allowed(options, t.name)]
        except Exception as err:  # McpFailure, or a settings file gone bad: this server is left out
            call["mcp_list_tools"]["error"] = str(getattr(err, "message", None) or err)
        call["mcp_list_tools"]["tools"] = tools
        rec.save_step(step)
        rec.step_delta(step, {"index": 0, "type": "mcp_list_tools",
                              "mcp_list_tools": {"tools": tools, "error": call["mcp_list_tools"]["error"]}})
        rec.step_to(step, step_state.COMPLETED)
        return tools

    def _approved(self, run: dict) -> list[dict]:
        """The approvals the response's input gives, not yet carried out."""
        steps = self.recorder.steps(run["id"])
        done = {c["mcp"].get("approval_request_id") for s in steps
                for c in (s.get("step_details") or {}).get("tool_calls") or [] if c["type"] == "mcp"}
        return [c["mcp_approval_response"] for s in steps if (s.get("metadata") or {}).get("response_input")
                for c in (s.get("step_details") or {}).get("tool_calls") or []
                if c["type"] == "mcp_approval_response" and c["mcp_approval_response"].get("approve")
                and c["mcp_approval_response"]["approval_request_id"] not in done]

    def _carry_out_approved(self, run: dict, approval: dict) -> None:
        rec = self.recorder
        step = rec.open_step(run, "tool_calls")
        step["metadata"] = {**(step.get("metadata") or {}), BEFORE_TURNS: "true"}
        call = {"id": new_id("call"), "type": "mcp", "mcp": {
            "server_label": approval["server_label"], "name": approval["name"], "arguments": approval["arguments"],
            "output": None, "error": None, "approval_request_id": approval["approval_request_id"]}}
        step["step_details"]["tool_calls"] = [call]
        rec.save_step(step)
        rec.index_call(step, call)
        carried = Call(run, step, 0, call, save_step=lambda: rec.save_step(step),
                       publish_delta=lambda delta: rec.step_delta(step, delta), cancelled=lambda: False)
        self._call(carried, approved=True)
        rec.step_to(step, step_state.COMPLETED)

    # -- declaring and claiming ---------------------------------------------------------
    def tools_of(self, run: dict) -> dict[str, list[dict]]:
        """The run's listed tools by label (kept from ``prepare``, else read from its steps)."""
        with self._lock:
            listed = self._listed.get(run["id"])
        if listed is not None:
            return listed
        listed = {}
        if self.store is not None:
            for step in self.store.find("run_steps", run_id=run["id"]):
                for c in (step.get("step_details") or {}).get("tool_calls") or []:
                    if c["type"] == "mcp_list_tools":
                        listed[c["mcp_list_tools"]["server_label"]] = c["mcp_list_tools"].get("tools") or []
        return listed

    def declare(self, run: dict) -> Declared:
        functions = []
        servers = run_servers(run)
        for label, tools in self.tools_of(run).items():
            options = servers.get(label)
            if options is None:
                continue
            for t in tools:
                if allowed(options, t["name"]):
                    schema = t.get("input_schema") or {}
                    if not isinstance(schema, dict) or schema.get("type") != "object":
                        schema = {"type": "object", "properties": {}}
                    functions.append({"name": function_name(label, t["name"]),
                                      "description": t.get("description") or "", "parameters": schema})
        return Declared(functions=functions)

    def forced(self, declared: Declared, choice: dict) -> Declared:
        wanted = choice.get("mcp") or {}
        label, name = wanted.get("server_label"), wanted.get("name")
        return Declared(functions=[f for f in declared.functions if (split_name(f["name"]) or ("", ""))[0] == label
                                   and (name is None or f["name"] == function_name(label, name))])

    def claims(self, call: ParsedCall) -> bool:
        return split_name(call.name) is not None

    def record(self, call: ParsedCall, call_id: str, index: int) -> tuple[dict, list[dict]]:
        label, tool = split_name(call.name) or ("", call.name)
        stored = {"id": call_id, "type": "mcp", "mcp": {"server_label": label, "name": tool,
                                                        "arguments": call.arguments, "output": None, "error": None}}
        # Streamed when carried out: only then is it known to be a call or an approval request.
        return stored, []

    # -- carrying out -------------------------------------------------------------------
    def execute(self, call: Call) -> bool:
        data = call.call["mcp"]
        options = run_servers(call.run).get(data["server_label"])
        if options is not None and allowed(options, data["name"]) and needs_approval(options, data["name"]):
            self._ask_approval(call)
            return True
        self._call(call)
        return not call.cancelled()

    def _ask_approval(self, call: Call) -> None:
        """The call becomes an approval request (its item id changes with it)."""
        data = call.call.pop("mcp")
        call.call["type"] = "mcp_approval_request"
        call.call["mcp_approval_request"] = {k: data[k] for k in ("server_label", "name", "arguments")}
        call.save_step()
        self.store.delete_where("items", ref="call:" + call.call["id"])
        self.recorder.index_call(call.step, call.call)
        call.delta({"id": call.call["id"], "type": "mcp_approval_request",
                    "mcp_approval_request": dict(call.call["mcp_approval_request"])})

    def _call(self, call: Call, approved: bool = False) -> None:
        """Stream the call, carry it out, stream its end (output or error)."""
        data = call.call["mcp"]
        call.delta({"id": call.call["id"], "type": "mcp",
                    "mcp": {"server_label": data["server_label"], "name": data["name"], "arguments": "",
                            "approval_request_id": data.get("approval_request_id")}})
        call.delta({"type": "mcp", "mcp": {"arguments": data["arguments"]}})
        options = run_servers(call.run).get(data["server_label"])
        listed = {t["name"] for t in self.tools_of(call.run).get(data["server_label"]) or []}
        if options is None or not allowed(options, data["name"]):
            data["error"] = protocol_error(NOT_ALLOWED_CODE, f"Tool {data['name']!r} of MCP server "
                                           f"{data['server_label']!r} is not allowed in this response.")
        elif not approved and data["name"] not in listed:
            data["error"] = protocol_error(NOT_ALLOWED_CODE, f"Unknown tool {data['name']!r} of MCP server "
                                           f"{data['server_label']!r}.")
        else:
            try:
                arguments = json.loads(data["arguments"] or "{}")
                if not isinstance(arguments, dict):
                    raise ValueError("the arguments are not an object")
            except ValueError as err:
                data["error"] = protocol_error(NOT_ALLOWED_CODE, f"Invalid arguments: {err}")
            else:
                try:
                    result = self.servers.call_tool(data["server_label"], data["name"], arguments)
                    data["output"], data["error"] = result.output, result.error
                except Exception as err:  # McpFailure (timed out, died...) or else: the call failed, the run goes on
                    code = getattr(err, "code", None)
                    data["error"] = protocol_error(code if isinstance(code, int) else INTERNAL_CODE,
                                                   str(getattr(err, "message", None) or err))
        call.save_step()
        call.delta({"type": "mcp", "mcp": {"output": data["output"], "error": data["error"]}})

    def finish(self, run_id: str) -> None:
        with self._lock:
            self._listed.pop(run_id, None)

    # -- replay ----------------------------------------------------------------------
    def parsed(self, call: dict) -> ParsedCall:
        data = call["mcp"]
        return ParsedCall("function", function_name(data["server_label"], data["name"]), data.get("arguments") or "")

    def output(self, call: dict) -> tuple[str, str]:
        data = call["mcp"]
        text = data.get("output")
        if data.get("error") is not None:
            text = error_text(data["error"])
        return function_name(data["server_label"], data["name"]), text or ""

    def required(self, call: dict) -> dict:
        parsed = self.parsed(call)
        return {"id": call["id"], "type": "function", "function": {"name": parsed.name,
                                                                   "arguments": parsed.arguments}}


class McpListTools(ToolHandler):
    """A server's listing: shown as an item, never to the model (its tools are declared)."""

    kind = "mcp_list_tools"

    def offered(self, run: dict) -> bool:
        return False

    def replay(self, step, calls, count, overhead, budget, protocol) -> list[WindowItem]:
        return []


class McpApprovalRequest(ToolHandler):
    """A held-back call: the response ends with it, the client answers it in the next one."""

    kind = "mcp_approval_request"
    waits_for_client = True

    def offered(self, run: dict) -> bool:
        return False

    def parsed(self, call: dict) -> ParsedCall:
        data = call["mcp_approval_request"]
        return ParsedCall("function", function_name(data["server_label"], data["name"]), data.get("arguments") or "")

    def output(self, call: dict) -> tuple[str, str]:
        return self.parsed(call).name, "Waiting for the user's approval."

    def required(self, call: dict) -> dict:
        parsed = self.parsed(call)
        return {"id": call["id"], "type": "function", "function": {"name": parsed.name,
                                                                   "arguments": parsed.arguments}}

    def replay(self, step, calls, count, overhead, budget, protocol) -> list[WindowItem]:
        return []  # the answer to it (in the next response's input) shows the call


class McpApprovalResponse(ToolHandler):
    """The client's answer to an approval request, in a response's input: approved, the call
    carried out next shows it; refused, the model sees its call answered with the refusal."""

    kind = "mcp_approval_response"

    def offered(self, run: dict) -> bool:
        return False

    def parsed(self, call: dict) -> ParsedCall:
        data = call["mcp_approval_response"]
        return ParsedCall("function", function_name(data["server_label"], data["name"]), data.get("arguments") or "")

    def output(self, call: dict) -> tuple[str, str]:
        data = call["mcp_approval_response"]
        name = self.parsed(call).name
        if data.get("approve"):
            return name, "The user approved this call."
        reason = f" ({data['reason']})" if data.get("reason") else ""
        return name, REFUSED.format(name=name) + reason

    def replay(self, step: dict, calls: list[dict], count, overhead: int, budget: int,
               protocol: ToolProtocol) -> list[WindowItem]:
        items: list[WindowItem] = []
        for c in calls:
            if c["mcp_approval_response"].get("approve"):
                continue  # the call carried out after it shows it
            said, call_chat = protocol.calls_message([self.parsed(c)])
            text, chat = protocol.result_message(*self.output(c))
            group = f"{step['id']}:{c['id']}"
            items.append(WindowItem(group + ":call", "assistant", said, count(said) + overhead, group=group,
                                    chat=call_chat))
            items.append(WindowItem(group + ":result", "user", text, count(text) + overhead, group=group, chat=chat))
        return items


def mcp_tools(servers: Any, recorder: Any) -> list[ToolHandler]:
    """The MCP handlers (``servers`` None: none of them offered)."""
    return [McpTool(servers, recorder), McpListTools(), McpApprovalRequest(), McpApprovalResponse()]


__all__ = ["McpApprovalRequest", "McpApprovalResponse", "McpListTools", "McpTool", "NAME_PREFIX", "function_name",
           "mcp_tools", "needs_approval", "split_name"]
