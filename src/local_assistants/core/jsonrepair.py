"""Closing a JSON answer that the token limit cut short.

Output decoded under a JSON grammar is a valid prefix of a JSON document.  When
``max_completion_tokens`` ends it early, the message is still marked
incomplete, but its text is cut back to the last complete value and the open
objects and arrays are closed, so ``json.loads`` works on it.
"""

from __future__ import annotations

_CLOSERS = {"{": "}", "[": "]"}


def close_json(text: str) -> str | None:
    """The longest complete-value prefix of ``text`` with its containers closed, or
    None when not even the outermost container was opened."""
    stack: list[list[str]] = []  # [opener, expecting]: object: key|colon|value|comma; array: value|comma
    safe: tuple[int, tuple[str, ...]] | None = None
    in_string = escape = False
    string_is_key = False
    scalar_start = -1

    def value_done(end: int) -> None:
        nonlocal safe
        if stack:
            stack[-1][1] = "comma"
            safe = (end, tuple(s[0] for s in stack))

    i = 0
    while i < len(text):
        ch = text[i]
        if in_string:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_string = False
                if string_is_key:
                    stack[-1][1] = "colon"
                else:
                    value_done(i + 1)
            i += 1
            continue
        if scalar_start >= 0:
            if ch in ",}] \n\t\r":
                value_done(i)
                scalar_start = -1
            else:
                i += 1
                continue
        if ch in " \n\t\r":
            pass
        elif ch in "{[":
            if stack and stack[-1][1] not in ("value",):
                return _close(text, safe)
            stack.append([ch, "key" if ch == "{" else "value"])
            safe = (i + 1, tuple(s[0] for s in stack))
        elif ch in "}]":
            if not stack:
                return _close(text, safe)
            stack.pop()
            if not stack:
                return text[: i + 1]
            value_done(i + 1)
        elif ch == '"':
            if not stack:
                return None
            string_is_key = stack[-1][0] == "{" and stack[-1][1] == "key"
            in_string = True
        elif ch == ":":
            if stack and stack[-1][1] == "colon":
                stack[-1][1] = "value"
        elif ch == ",":
            if stack:
                stack[-1][1] = "key" if stack[-1][0] == "{" else "value"
        else:
            if not stack:
                return None
            scalar_start = i
        i += 1
    return _close(text, safe)  # a scalar still open at the end is not a complete value


def _close(text: str, safe: tuple[int, tuple[str, ...]] | None) -> str | None:
    if safe is None:
        return None
    end, openers = safe
    return text[:end].rstrip().rstrip(",") + "".join(_CLOSERS[o] for o in reversed(openers))
