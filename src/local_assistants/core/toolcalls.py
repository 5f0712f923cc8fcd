"""Tool calls in the model's own text: how tools are described to it, and how its
(grammar-framed) calls are read back, whole or while they stream.

A call is written ``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>``
(the Hermes format many small models were tuned on); a code-interpreter call is
raw code in a Markdown fence, ```` ```python\\n...\\n``` ````.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterator

from .grammar import CODE_CLOSE, CODE_OPEN, TOOL_CALL_CLOSE, TOOL_CALL_OPEN


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
            if stripped.startswith(TOOL_CALL_OPEN):
                self.pos += skip + len(TOOL_CALL_OPEN)
                self._state = "fn-head"
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
            close = rest.find(TOOL_CALL_CLOSE)
            if close < 0:
                return False
            self.pos += close + len(TOOL_CALL_CLOSE)
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
