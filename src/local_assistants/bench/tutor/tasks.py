"""The tutor benchmark's task sets: what the user asks and the exact expected answer.

- ``gsm8k``: problems of the GSM8K test split (shipped in ``data/gsm8k``, MIT
  licence), in file order; the expected answer follows ``####``.
- ``algebra``: seeded linear equations ``ax + b = c`` (``3x + 11 = 14``) asked as
  in OpenAI's quickstart; the answer ``x = (c - b) / a`` is exact, fractions allowed.
- ``arith``: seeded multi-digit arithmetic, ``What is 149 * 84?``.

Task ids are stable: the same set, index and seed give the same task.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from fractions import Fraction
from functools import lru_cache
from importlib import resources

from .grader import format_fraction, gsm8k_answer

SETS = ("gsm8k", "algebra", "arith")


@dataclass(frozen=True)
class Task:
    id: str
    set: str
    question: str
    expected: str
    """The exact answer: an integer or a fraction ``p/q`` (``-3/4``)."""

    def to_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=1)
def gsm8k_rows() -> tuple[dict, ...]:
    path = resources.files(__package__).joinpath("data", "gsm8k", "test.jsonl")
    with path.open("r", encoding="utf-8") as f:
        return tuple(json.loads(line) for line in f if line.strip())


def gsm8k(n: int, seed: int = 0) -> list[Task]:
    """The first ``n`` problems of the test split (the seed does not change them)."""
    rows = gsm8k_rows()
    if n > len(rows):
        raise ValueError(f"gsm8k has {len(rows)} test problems, {n} asked")
    return [Task(f"gsm8k-{i:04d}", "gsm8k", row["question"], gsm8k_answer(row["answer"]))
            for i, row in enumerate(rows[:n])]


def _rng(name: str, seed: int) -> random.Random:
    return random.Random(f"{name}:{seed}")


def algebra(n: int, seed: int = 0) -> list[Task]:
    rng = _rng("algebra", seed)
    tasks = []
    for i in range(n):
        a = rng.randint(2, 12)
        x = Fraction(rng.randint(-20, 20), rng.choice([1, 1, 1, a]))  # mostly whole, sometimes a fraction
        b = rng.choice([k for k in range(-30, 31) if k != 0])
        c = a * x + b
        if c.denominator != 1:  # keep the equation's numbers whole
            c = Fraction(round(c))
            x = (c - b) / a
        sign = "+" if b > 0 else "-"
        equation = f"{a}x {sign} {abs(b)} = {int(c)}"
        tasks.append(Task(f"algebra-{i:04d}", "algebra",
                          f"I need to solve the equation `{equation}`. Can you help me?", format_fraction(x)))
    return tasks


def arith(n: int, seed: int = 0) -> list[Task]:
    rng = _rng("arith", seed)
    tasks = []
    for i in range(n):
        op = rng.choice(["*", "*", "+", "-"])
        if op == "*":
            a, b = rng.randint(100, 999), rng.randint(10, 99)
            value = a * b
        elif op == "+":
            a, b = rng.randint(1000, 9999), rng.randint(100, 9999)
            value = a + b
        else:
            a, b = rng.randint(1000, 9999), rng.randint(100, 9999)
            value = a - b
        tasks.append(Task(f"arith-{i:04d}", "arith", f"What is {a} {op} {b}?", str(value)))
    return tasks


BUILDERS = {"gsm8k": gsm8k, "algebra": algebra, "arith": arith}


def parse_spec(spec: str) -> list[tuple[str, int]]:
    """``gsm8k:100,algebra:50`` -> [("gsm8k", 100), ("algebra", 50)]; a bare name means 30."""
    out = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, _, count = part.partition(":")
        if name not in BUILDERS:
            raise ValueError(f"unknown task set {name!r}; known: {', '.join(SETS)}")
        n = int(count) if count else 30
        if n < 1:
            raise ValueError(f"{name}: the count must be at least 1")
        out.append((name, n))
    if not out:
        raise ValueError("no task sets given")
    return out


def build(spec: str | list[tuple[str, int]], seed: int = 0) -> list[Task]:
    sets = parse_spec(spec) if isinstance(spec, str) else spec
    return [task for name, n in sets for task in BUILDERS[name](n, seed)]
