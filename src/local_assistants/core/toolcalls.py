"""Tool calls in the model's own text: how tools are described to it, how its
(grammar-framed) calls are read back, whole or while they stream, and how calls
and their results are shown to it again.

A call is written ``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>``
(the Hermes format many small models were tuned on).  Two protocols
(``ToolProtocol``):

- **native**, for models whose chat template declares tools in that syntax
  (Qwen2.5): tools go to the template's own ``tools`` section, the code
  interpreter is one more function (``code_interpreter(code)``), calls are
  replayed as assistant ``tool_calls`` and results as ``tool`` messages, all laid
  out by the template as the model was trained;
- **fallback**, for the others (SmolLM2, Gemma base): a system-prompt section
  describes the tools, a code call is raw code in a Markdown fence
  (```` ```python\\n...\\n``` ````, tiny models lose track of JSON escaping in
  code), results come back as user turns wrapped in ``<tool_response>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterator

from .grammar import (CODE_CLOSE, CODE_OPEN, FENCED_CALL_CLOSE, FENCED_CALL_OPEN, TOOL_CALL_CLOSE,
                      TOOL_CALL_OPEN)


@dataclass
class ParsedCall:
    kind: str  # "function" | "code_interpreter"
    name: str = ""
    arguments: str = ""  # the JSON text of the arguments object, or the code


def tools_section(functions: list[dict], code: bool, *, required: bool = False) -> str:
    """A clear system-prompt section describing the callable tools and the call format."""
    parts = ["# Tools"]
    if functions:
        parts.append("You can call these functions. Their signatures, as JSON schemas:\n<tools>")
        for fn in functions:
            parts.append(json.dumps({"name": fn["name"], "description": fn.get("description") or "",
                                     "parameters": fn.get("parameters") or {}}, ensure_ascii=False))
        parts.append("</tools>")
        parts.append("To call a function, reply with exactly:\n"
                     f"{TOOL_CALL_OPEN}{{\"name\": <function name>, \"arguments\": <arguments object>}}{TOOL_CALL_CLOSE}")
    if code:
        parts.append("You can run Python code in a Jupyter notebook (files are in /mnt/data). "
                     f"To run code, reply with exactly:\n{CODE_OPEN}<python code>{CODE_CLOSE}\n"
                     # Measured on SmolLM2-135M, 30 arith tasks, first code call right: 5/30 when
                     # this line only said the last line's value is shown; 19/30 with print().
                     "Use print() to show results; the value of the last line is also shown.")
    if required:
        parts.append("You must call a tool now.")
    else:
        parts.append("Call a tool only when it helps; otherwise answer directly.")
    return "\n".join(parts)


CODE_FUNCTION = {
    "name": "code_interpreter",
    "description": "Run Python code in a stateful Jupyter notebook and see what it prints, its errors and "
                   "the value of its last line. Use it to calculate, to check your work and to read or "
                   "write files (they are in /mnt/data). Use print() to show results.",
    "parameters": {"type": "object", "properties": {"code": {"type": "string", "description": "The Python code to run."}},
                   "required": ["code"]},
}
"""The code interpreter as a function, for models that call tools in their own protocol."""


NATIVE_GUIDANCE = ("A tool's result comes back to you inside <tool_response></tool_response>: it is the output "
                   "of your own call, not a message from the user. Read it, then answer the user's question.")
"""What the template's own tools section leaves unsaid: without it Qwen2.5-Coder read its
code's output as the user's reply ("Thank you for providing the solution.")."""


@dataclass(frozen=True)
class ToolProtocol:
    """How one model is told about its tools and shown its calls and their results."""

    native: bool
    """The chat template declares tools itself (see the module docstring)."""

    @classmethod
    def for_template(cls, template) -> "ToolProtocol":
        return cls(native=bool(getattr(template, "declares_tools", False)))

    def functions(self, functions: list[dict], code: bool) -> list[dict]:
        """The functions the grammar admits calls of (the code interpreter among them, natively)."""
        return [*functions, CODE_FUNCTION] if self.native and code else list(functions)

    def declarations(self, functions: list[dict], code: bool) -> list[dict] | None:
        """Tools for the template's own ``tools`` section (native only)."""
        if not self.native or not (functions or code):
            return None
        return [{"type": "function", "function": {"name": f["name"], "description": f.get("description") or "",
                                                  "parameters": f.get("parameters") or {"type": "object",
                                                                                        "properties": {}}}}
                for f in self.functions(functions, code)]

    def section(self, functions: list[dict], code: bool, *, required: bool) -> str:
        """Text for the system prompt about the tools (the template says the rest natively)."""
        if not self.native:
            return tools_section(functions, code, required=required)
        return NATIVE_GUIDANCE + ("\nYou must call a tool now." if required else "")

    def opens_call(self, text: str) -> bool | None:
        """Whether a turn's first characters open a call (True) or an answer (False);
        None while they are too few to tell (a native call may open with "```json")."""
        if not text:
            return None
        if not self.native:
            return starts_tool_call(text)
        if text[0] in "<{" or text.startswith((FENCED_CALL_OPEN, CODE_OPEN)):
            return True
        return None if FENCED_CALL_OPEN.startswith(text) or CODE_OPEN.startswith(text) else False

    def read(self, call: ParsedCall) -> ParsedCall:
        """A parsed call as the runtime means it: a native ``code_interpreter`` function call
        is a code call whose arguments are the code itself."""
        if self.native and call.kind == "function" and call.name == CODE_FUNCTION["name"]:
            try:
                code = json.loads(call.arguments).get("code", "")
            except (ValueError, AttributeError):
                code = ""
            return ParsedCall("code_interpreter", "code_interpreter", code if isinstance(code, str) else "")
        return call

    def _as_written(self, call: ParsedCall) -> ParsedCall:
        """The inverse of ``read``: natively, a code call is a ``code_interpreter`` function call."""
        if self.native and call.kind == "code_interpreter":
            return ParsedCall("function", CODE_FUNCTION["name"], json.dumps({"code": call.arguments}))
        return call

    def call_text(self, call: ParsedCall) -> str:
        """A call as the model writes it (for counting, and the fallback's replay)."""
        return call_text(self._as_written(call))

    def calls_message(self, calls: list[ParsedCall]) -> tuple[str, dict | None]:
        """An assistant turn that made ``calls``: its text and, natively, its chat fields."""
        text = "\n".join(self.call_text(c) for c in calls)
        if not self.native:
            return text, None
        written = [self._as_written(c) for c in calls]
        return text, {"content": "", "tool_calls": [
            {"type": "function", "function": {"name": c.name, "arguments": _arguments(c.arguments)}} for c in written]}

    def result_message(self, name: str, output: str) -> tuple[str, dict | None]:
        """A tool's result as the model reads it: its text and, natively, its chat fields."""
        if self.native:
            return output, {"role": "tool"}
        shown = f"{name}: {output}" if name else output
        return "<tool_response>\n" + shown + "\n</tool_response>", None


class AnswerCode:
    """The first ```python block of a streamed answer, for a model that writes the code it
    means to run in its answer rather than calling the code interpreter (Qwen2.5-Coder did
    so on the quickstart: "Here's a Python solution: ```python ...```"). ``feed`` returns
    the text that is safe to show now (never a piece of the block); once the block is
    closed, ``code`` holds it and ``before`` the answer's text before it."""

    OPEN = "\n" + CODE_OPEN
    CLOSE = CODE_CLOSE

    def __init__(self):
        self.text = ""
        self.shown = 0
        self.before: str | None = None
        self.code: str | None = None

    @property
    def done(self) -> bool:
        return self.code is not None

    def feed(self, piece: str) -> str:
        if self.done:
            return ""
        self.text += piece
        if self.before is None:
            at = self.text.find(self.OPEN, self.shown)
            if at >= 0 and self.text[:at].strip():
                self.before = self.text[:at]
            else:
                # Show all but what may begin the block's opening line.
                keep = _partial_suffix(self.text, self.OPEN) if at < 0 else len(self.text) - at
                out = self.text[self.shown:len(self.text) - keep]
                self.shown += len(out)
                return out
        start = len(self.before) + len(self.OPEN)
        close = self.text.find(self.CLOSE, start)
        if close >= 0:
            self.code = self.text[start:close]
        out = self.before[self.shown:]
        self.shown = len(self.before)
        return out

    def rest(self) -> str:
        """At the end of the stream: what was held back, if no block was completed (an
        unclosed block is part of the answer)."""
        if self.done:
            return ""
        out = self.text[self.shown:]
        self.shown = len(self.text)
        return out


def _arguments(text: str):
    """Stored arguments as the template wants them (an object), or the text if it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def call_text(call: ParsedCall) -> str:
    """How a call looks in the model's own output (for replaying history)."""
    if call.kind == "code_interpreter":
        return f"{CODE_OPEN}{call.arguments}{CODE_CLOSE}"
    return f'{TOOL_CALL_OPEN}{{"name": {json.dumps(call.name)}, "arguments": {call.arguments}}}{TOOL_CALL_CLOSE}'


def starts_tool_call(text: str) -> bool:
    return text.startswith(("<", "`"))


@dataclass
class CallEvent:
    kind: str  # "start" | "chunk" | "end"
    index: int
    call: ParsedCall
    chunk: str = ""


@dataclass
class CallStream:
    """Reads grammar-framed calls incrementally and reports them as they form.

    ``feed(piece)`` yields "start" (kind and name known), "chunk" (more of the
    arguments or code, as written) and "end" events.
    """

    buffer: str = ""
    pos: int = 0  # how far the buffer has been consumed
    calls: list[ParsedCall] = field(default_factory=list)
    _state: str = "between"  # between | fn-head | fn-args | code | fn-tail
    _close: str = TOOL_CALL_CLOSE  # what ends the current function call
    _depth: int = 0
    _in_string: bool = False
    _escape: bool = False

    def feed(self, piece: str) -> Iterator[CallEvent]:
        self.buffer += piece
        while True:
            progressed = yield from self._step()
            if not progressed:
                return

    def _step(self) -> Iterator[CallEvent]:
        rest = self.buffer[self.pos:]
        if self._state == "between":
            stripped = rest.lstrip("\n")
            skip = len(rest) - len(stripped)
            for opener, close in _CALL_FRAMINGS:
                if stripped.startswith(opener):
                    self.pos += skip + len(opener)
                    self._state, self._close = "fn-head", close
                    return True
            if stripped.startswith(CODE_OPEN):
                self.pos += skip + len(CODE_OPEN)
                call = ParsedCall("code_interpreter", name="code_interpreter")
                self.calls.append(call)
                self._state = "code"
                yield CallEvent("start", len(self.calls) - 1, call)
                return True
            return False
        if self._state == "fn-head":
            marker = '"arguments"'
            at = rest.find(marker)
            if at < 0:
                return False
            colon = rest.find(":", at + len(marker))
            if colon < 0:
                return False
            head = rest[:at]
            name = json.loads(head[head.index(":") + 1:].strip().rstrip(",").strip())
            call = ParsedCall("function", name=name)
            self.calls.append(call)
            self.pos += colon + 1
            self._state = "fn-args"
            self._depth, self._in_string, self._escape = 0, False, False
            yield CallEvent("start", len(self.calls) - 1, call)
            return True
        if self._state == "fn-args":
            if not rest:
                return False
            call = self.calls[-1]
            taken = []
            done = False
            for ch in rest:
                if not call.arguments and not taken and ch in " \n":
                    self.pos += 1
                    continue
                taken.append(ch)
                if self._in_string:
                    if self._escape:
                        self._escape = False
                    elif ch == "\\":
                        self._escape = True
                    elif ch == '"':
                        self._in_string = False
                elif ch == '"':
                    self._in_string = True
                elif ch in "{[":
                    self._depth += 1
                elif ch in "}]":
                    self._depth -= 1
                    if self._depth == 0:
                        done = True
                        break
            chunk = "".join(taken)
            self.pos += len(chunk)
            if chunk:
                call.arguments += chunk
                yield CallEvent("chunk", len(self.calls) - 1, call, chunk)
            if done:
                self._state = "fn-tail"
                return True
            return False
        if self._state == "fn-tail":
            close = rest.find(self._close)
            if close < 0:
                return False
            self.pos += close + len(self._close)
            self._state = "between"
            yield CallEvent("end", len(self.calls) - 1, self.calls[-1])
            return True
        if self._state == "code":
            call = self.calls[-1]
            close = rest.find(CODE_CLOSE)
            if close >= 0:
                chunk = rest[:close]
                self.pos += close + len(CODE_CLOSE)
                self._state = "between"
            else:
                # Hold back what could be the start of the closing tag.
                keep = _partial_suffix(rest, CODE_CLOSE)
                chunk = rest[: len(rest) - keep]
                self.pos += len(chunk)
            if chunk:
                call.arguments += chunk
                yield CallEvent("chunk", len(self.calls) - 1, call, chunk)
            if self._state == "between":
                yield CallEvent("end", len(self.calls) - 1, call)
                return True
            return False
        return False


# How a function call may open, and what then closes it: the ``<tool_call>`` tags, or (as
# native models also write them, see grammar.FENCED_CALL_OPEN) a JSON fence or a bare object,
# whose own "{" was the opener, so its closing "}" ends it.
_CALL_FRAMINGS = ((TOOL_CALL_OPEN, TOOL_CALL_CLOSE), (FENCED_CALL_OPEN, FENCED_CALL_CLOSE), ("{", "}"))


def _partial_suffix(text: str, marker: str) -> int:
    for k in range(min(len(marker) - 1, len(text)), 0, -1):
        if text.endswith(marker[:k]):
            return k
    return 0


def parse_calls(text: str) -> list[ParsedCall]:
    """Every complete call in ``text`` (the whole output of a turn)."""
    stream = CallStream()
    for _ in stream.feed(text):
        pass
    return [c for c in stream.calls if c.kind == "code_interpreter" or _is_json(c.arguments)]


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
