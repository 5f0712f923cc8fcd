"""GBNF grammars for constrained decoding, composed from pieces.

The model's output is decoded under a grammar that admits exactly what the run
allows: a plain answer, tool calls of the declared tools (arguments valid
against their JSON schemas), or a JSON answer (``response_format``).  JSON
schemas are turned into GBNF by a converter the model adapter supplies (the one
llama.cpp ships); each converted grammar's rules get a prefix so several can
live in one grammar.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Callable

SchemaToGrammar = Callable[[dict], str]
"""Turns a JSON schema into a GBNF grammar whose start rule is ``root``."""

TOOL_CALL_OPEN = "<tool_call>\n"
TOOL_CALL_CLOSE = "\n</tool_call>"
# Code is framed as a Markdown fence: small models close a fence they opened far more
# reliably than an XML-like tag (they ran on past "</code>" in tests).
CODE_OPEN = "```python\n"
CODE_CLOSE = "\n```"

# A plain answer: anything that does not open a tool call.  Only its first
# character needs the grammar; see ``Grammar.free_after_first``.
TEXT_RULE = 'text ::= [^<`] [^\\x00]*'
# Models that call tools natively (Qwen2.5-Coder) do not always write the ``<tool_call>``
# tags of their template: they often put the call in a JSON code fence or write it bare
# (measured on the quickstart: after "```" the 1.5B model continued "json" 98% of the time;
# vLLM #32926 and Ollama #16821 report the same). The grammar admits those framings of a
# call too, and (with the code interpreter) code in a ```python fence, as the model writes
# code it means to run; an answer may then begin with none of them: not with "<", "{" or "`".
FENCED_CALL_OPEN = "```json\n"
FENCED_CALL_CLOSE = "\n```"
NATIVE_TEXT_RULE = 'text ::= [^<{`] [^\\x00]*'

_RULE_NAME = re.compile(r"[a-zA-Z0-9_-]+")


@dataclass(frozen=True)
class Grammar:
    text: str
    free_after_first: bool
    """True when, once the output has begun as a plain answer, decoding may go on
    unconstrained (grammar sampling over the whole vocabulary is expensive)."""


def prefix_rules(gbnf: str, prefix: str) -> str:
    """Rename every rule of ``gbnf`` to ``prefix + name`` (references included)."""
    names = set()
    for line in gbnf.splitlines():
        if "::=" in line:
            names.add(line.split("::=", 1)[0].strip())
    out_lines = []
    for line in gbnf.splitlines():
        if "::=" not in line:
            out_lines.append(_rename_refs(line, names, prefix))
            continue
        name, body = line.split("::=", 1)
        out_lines.append(f"{prefix}{name.strip()} ::={_rename_refs(body, names, prefix)}")
    return "\n".join(out_lines)


def _rename_refs(body: str, names: set[str], prefix: str) -> str:
    """Prefix rule references in a rule body, leaving quoted literals and classes alone."""
    out = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch in "\"[":
            close = '"' if ch == '"' else "]"
            j = i + 1
            while j < len(body) and body[j] != close:
                j += 2 if body[j] == "\\" else 1
            out.append(body[i:j + 1])
            i = j + 1
            continue
        m = _RULE_NAME.match(body, i)
        if m:
            word = m.group(0)
            out.append(prefix + word if word in names else word)
            i = m.end()
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _literal(text: str) -> str:
    return json.dumps(text)


MAX_ENUMERATED_RANGE = 1000


def narrow(schema):
    """The schema with what llama.cpp's converter ignores made explicit.

    Its converter drops ``minimum``/``maximum`` of integers, so an integer with both
    bounds (at most ``MAX_ENUMERATED_RANGE`` values apart) becomes the enum of its
    values.  Other keywords pass through unchanged.
    """
    if isinstance(schema, list):
        return [narrow(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: (narrow(v) if k in _NESTED else v) for k, v in schema.items()}
    for key in ("properties", "$defs", "definitions", "patternProperties"):
        if isinstance(schema.get(key), dict):
            out[key] = {name: narrow(sub) for name, sub in schema[key].items()}
    if schema.get("type") == "integer" and "enum" not in schema:
        low = math.ceil(schema["minimum"]) if _is_number(schema.get("minimum")) else None
        high = math.floor(schema["maximum"]) if _is_number(schema.get("maximum")) else None
        if _is_number(schema.get("exclusiveMinimum")):
            low = math.floor(schema["exclusiveMinimum"]) + 1
        if _is_number(schema.get("exclusiveMaximum")):
            high = math.ceil(schema["exclusiveMaximum"]) - 1
        if low is not None and high is not None and 0 <= high - low <= MAX_ENUMERATED_RANGE:
            out = {k: v for k, v in out.items()
                   if k not in ("type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")}
            out["enum"] = list(range(low, high + 1))
    return out


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_NESTED = frozenset({"items", "additionalProperties", "anyOf", "oneOf", "allOf", "not", "prefixItems"})


def call_schema(functions: list[dict]) -> dict:
    """JSON schema of one call: ``{"name": <one of the functions>, "arguments": {...}}``."""
    options = []
    for fn in functions:
        params = narrow(fn.get("parameters") or {"type": "object", "properties": {}})
        options.append({
            "type": "object",
            "properties": {"name": {"const": fn["name"]}, "arguments": params},
            "required": ["name", "arguments"],
            "additionalProperties": False,
        })
    return options[0] if len(options) == 1 else {"oneOf": options}


def build(
    *,
    functions: list[dict],
    code: bool = False,
    mode: str = "auto",
    parallel: bool = True,
    answer_schema: dict | None = None,
    json_answer: bool = False,
    schema_to_grammar: SchemaToGrammar,
    json_object_grammar: str | None = None,
    native_calls: bool = False,
) -> Grammar | None:
    """The grammar for one model turn, or None when output is unconstrained.

    mode: "auto" (a call or an answer), "required" (only calls), "none" (only an answer).
    ``functions`` are the callable functions' definitions (already narrowed to a
    forced one); ``code`` admits one code-interpreter call, a fenced code block.
    ``native_calls``: the model calls tools in its own protocol (code is a function);
    a call may also be framed as the model tends to write it (see FENCED_CALL_OPEN).
    """
    can_call = mode != "none" and (functions or code)
    rules: list[str] = []
    alternatives = []
    if can_call and functions:
        rules.append(prefix_rules(schema_to_grammar(call_schema(functions)), "c-"))
        rules.append(f"tool-call ::= {_literal(TOOL_CALL_OPEN)} c-root {_literal(TOOL_CALL_CLOSE)}")
        rules.append('tool-calls ::= tool-call ( "\\n" tool-call )*' if parallel else "tool-calls ::= tool-call")
        if native_calls:  # one call, fenced or bare (see FENCED_CALL_OPEN)
            rules[-1] += f" | {_literal(FENCED_CALL_OPEN)} c-root {_literal(FENCED_CALL_CLOSE)} | c-root"
        alternatives.append("tool-calls")
    if can_call and code:
        # One code call per turn: it runs, and the model reads its output before writing
        # more. Raw code, not a JSON string: tiny models lose track of escaping in long code.
        rules.append('code-body ::= ([^`] | "`" [^`] | "``" [^`])*')
        rules.append(f"code-call ::= {_literal(CODE_OPEN)} code-body {_literal(CODE_CLOSE)}")
        alternatives.append("code-call")
    if mode != "required" or not can_call:
        if answer_schema is not None:
            rules.append(prefix_rules(schema_to_grammar(narrow(answer_schema)), "j-"))
            alternatives.append("j-root")
        elif json_answer:
            rules.append(prefix_rules(json_object_grammar, "j-"))
            alternatives.append("j-root")
        elif can_call or (native_calls and (functions or code)):
            # Also when calls are not allowed (tool_choice "none", or the model must answer
            # after repeating a call): a native model otherwise writes the call as its answer.
            rules.append(NATIVE_TEXT_RULE if native_calls else TEXT_RULE)
            alternatives.append("text")
    if not rules:
        return None
    root = "root ::= " + " | ".join(alternatives)
    free = alternatives[-1] == "text"
    return Grammar(text="\n".join([root, *rules]) + "\n", free_after_first=free)
