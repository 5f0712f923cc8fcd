"""The tutor benchmark's fixed grader: which number an answer gives, and whether it is right.

The rule (the same for every model, mode and system):

1. In the answer text (the run's assistant message), the *final answer* is taken
   from, in this order: the last ``\\boxed{...}``; else what follows the last
   ``####``; else the whole text.  The number that counts is the **last number**
   in that part.
2. If the answer text has no number at all (code mode only), the number is the
   **last number shown by the code outputs** (``logs``), latest output first,
   skipping outputs that are errors (a traceback, an ``...Error:`` line, an
   interrupted execution).  Code outputs are never used when the
   answer gives a number, right or wrong.
3. The number is compared with the expected one **exactly** (as fractions);
   a decimal is also right when it is the expected value correctly rounded to
   the decimals it shows (at least 2), or within 1e-9 relative (float noise
   such as ``0.30000000000000004``).

What reads as a number: integers and decimals with an optional sign (``-3``,
``−3``, ``+2``), thousands separators (``1,234``, ``1,450,000``), currency and
units around them (``$18.00``, ``18 dollars``, ``50%``), fractions ``3/4`` and
``-3/4``, LaTeX ``\\frac{3}{4}`` / ``\\dfrac{-3}{4}`` / ``-\\frac34``,
``Fraction(3, 4)`` as Python prints it, and scientific notation (``1.2e+16``).
A ``-`` counts as a sign only when it does not follow a digit, a letter or a
closing bracket (``16-3`` is 16 and 3; ``x = -3`` is -3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

# LaTeX fractions first: \frac{a}{b}, \dfrac{a}{b}, \tfrac{a}{b}, \frac ab (single digits).
_FRAC_BRACED = r"\\[dt]?frac\s*\{\s*(?P<fn>[-+−]?\s*[\d,]*\.?\d+)\s*\}\s*\{\s*(?P<fd>[-+−]?\s*[\d,]*\.?\d+)\s*\}"
_FRAC_SHORT = r"\\[dt]?frac\s*(?P<sn>\d)(?P<sd>\d)"
_PYFRAC = r"Fraction\(\s*(?P<pn>-?\d+)\s*,\s*(?P<pd>-?\d+)\s*\)"
_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|\.\d+"
_SLASH = rf"(?P<n>{_NUM})(?:\s*/\s*(?P<d>\d+(?:\.\d+)?))?"
_TOKEN = re.compile(rf"(?P<sign>[-+−])?(?:{_FRAC_BRACED}|{_FRAC_SHORT}|{_PYFRAC}|{_SLASH})")
_SIGN_BLOCKERS = re.compile(r"[\w)\]}]")
_BOXED = re.compile(r"\\boxed\s*\{")
_EXPONENT = re.compile(r"[eE]([-+]?\d+)")
MAX_EXPONENT = 100
_ERROR = re.compile(r"Traceback \(most recent call last\)|^\[execution interrupted|^\w*(?:Error|Exception)\b:?",
                    re.MULTILINE)


@dataclass(frozen=True)
class Extracted:
    value: Fraction | None
    text: str | None
    """The number as written (for the report)."""
    decimals: int = 0
    """Digits after the decimal point as written (0 for integers and fractions)."""


NOTHING = Extracted(None, None)


def _to_fraction(text: str) -> Fraction:
    return Fraction(text.replace(",", "").replace(" ", "").replace("−", "-"))


def numbers(text: str) -> list[Extracted]:
    """Every number in ``text``, in order."""
    out = []
    for m in _TOKEN.finditer(text or ""):
        sign = (m.group("sign") or "").strip()
        if sign in ("-", "−", "+") and m.start() > 0 and _SIGN_BLOCKERS.match(text[m.start() - 1]):
            sign = ""  # a minus between two terms ("16-3"), not a negative number
        negative = sign in ("-", "−")
        decimals = 0
        exponent = _EXPONENT.search(m.group(0))
        if exponent and abs(int(exponent.group(1))) > MAX_EXPONENT:
            continue  # 1e999999 would be a million-digit integer
        try:
            if m.group("fn") is not None:
                value = _to_fraction(m.group("fn")) / _to_fraction(m.group("fd"))
            elif m.group("sn") is not None:
                value = Fraction(int(m.group("sn")), int(m.group("sd")))
            elif m.group("pn") is not None:
                value = Fraction(int(m.group("pn")), int(m.group("pd")))
            else:
                value = _to_fraction(m.group("n"))
                if m.group("d") is not None:
                    value /= _to_fraction(m.group("d"))
                elif "." in m.group("n") and "e" not in m.group("n").lower():
                    decimals = len(m.group("n").split(".", 1)[1])
        except (ZeroDivisionError, ValueError, OverflowError):
            continue
        if negative:
            value = -value
        written = m.group(0).strip()
        if m.group("sign") and not sign:  # the minus was an operator: not part of the number written
            written = written[len(m.group("sign")):].strip()
        if sign and not written.startswith(sign):
            written = sign + written
        out.append(Extracted(value, written, decimals))
    return out


def last_number(text: str) -> Extracted:
    found = numbers(text)
    return found[-1] if found else NOTHING


def final_part(answer: str) -> str:
    """The part of an answer that states its final result (see the module's rule 1)."""
    boxes = list(_BOXED.finditer(answer or ""))
    if boxes:
        start = boxes[-1].end()
        depth, i = 1, start
        while i < len(answer) and depth:
            depth += {"{": 1, "}": -1}.get(answer[i], 0)
            i += 1
        return answer[start:i - 1] if depth == 0 else answer[start:]
    if "####" in (answer or ""):
        return answer.rsplit("####", 1)[1]
    return answer or ""


def is_error_output(logs: str) -> bool:
    """A traceback, an error line (``NameError: ...``, ``SyntaxError: ...``) or an interrupt."""
    return bool(_ERROR.search(logs))


def from_answer(answer: str) -> Extracted:
    return last_number(final_part(answer))


def from_code(outputs: list[str]) -> Extracted:
    """The last number shown by the code outputs that are not errors (latest output first)."""
    for logs in reversed(outputs):
        if logs and not is_error_output(logs):
            found = last_number(logs)
            if found.value is not None:
                return found
    return NOTHING


@dataclass(frozen=True)
class Grade:
    correct: bool
    predicted: str | None
    source: str | None  # "answer" | "code" | None
    answer_only: bool
    """Right by the answer text alone (diagnostic)."""
    code_only: bool
    """Right by the last code output alone (diagnostic)."""


def matches(got: Extracted, expected: Fraction) -> bool:
    if got.value is None:
        return False
    if got.value == expected:
        return True
    diff = abs(got.value - expected)  # exact: numbers of any size
    if diff <= Fraction(1, 10**9) * max(1, abs(expected)):
        return True
    return got.decimals >= 2 and diff <= Fraction(1, 2 * 10**got.decimals)


def parse_expected(text: str) -> Fraction:
    """An expected answer as the task sets store it (``18``, ``1,234``, ``-3/4``)."""
    found = numbers(text)
    if len(found) != 1:
        raise ValueError(f"not one number: {text!r}")
    return found[0].value


def grade(answer: str, code_outputs: list[str], expected: str | Fraction) -> Grade:
    target = expected if isinstance(expected, Fraction) else parse_expected(str(expected))
    said = from_answer(answer)
    ran = from_code(code_outputs)
    chosen, source = (said, "answer") if said.value is not None else (ran, "code" if ran.value is not None else None)
    return Grade(correct=matches(chosen, target), predicted=chosen.text, source=source,
                 answer_only=matches(said, target), code_only=matches(ran, target))


def gsm8k_answer(solution: str) -> str:
    """The final answer of a GSM8K solution: what follows ``####``, separators removed."""
    return solution.rsplit("####", 1)[1].strip().replace(",", "")


def format_fraction(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
