"""The tutor benchmark's task sets: seeded, exact, with stable ids."""

from __future__ import annotations

import pytest

from local_assistants.bench.tutor import tasks
from local_assistants.bench.tutor.grader import parse_expected


def test_generated_tasks_are_seeded_and_exact():
    first, again, other = tasks.build("algebra:40,arith:40", 0), tasks.build("algebra:40,arith:40", 0), \
        tasks.build("algebra:40,arith:40", 1)
    assert first == again and first != other
    assert len({t.id for t in first}) == 80
    fractional = 0
    for t in first:
        expected = parse_expected(t.expected)
        if t.set == "algebra":
            equation = t.question.split("`")[1]  # "3x + 11 = 14"
            left, right = equation.split(" = ")
            a, rest = left.split("x ")
            b = int(rest.replace(" ", ""))
            assert int(a) * expected + b == int(right)
            fractional += expected.denominator != 1
        else:
            assert t.question.startswith("What is ") and t.question.endswith("?")
            assert eval(t.question[len("What is "):-1]) == expected  # digits and one operator only
    assert fractional > 0  # fractions are part of the set


def test_task_spec_parsing():
    assert tasks.parse_spec("gsm8k:100,algebra:50,arith:30") == [("gsm8k", 100), ("algebra", 50), ("arith", 30)]
    assert [t.id for t in tasks.build("gsm8k:2", 5)] == ["gsm8k-0000", "gsm8k-0001"]
    with pytest.raises(ValueError):
        tasks.parse_spec("geometry:3")


def test_a_bare_set_name_means_thirty_and_bad_specs_are_refused():
    assert tasks.parse_spec(" arith , algebra:2,") == [("arith", 30), ("algebra", 2)]
    for bad in ("", " , ", "arith:0", "arith:-2"):
        with pytest.raises(ValueError):
            tasks.parse_spec(bad)
    assert tasks.build([("arith", 2)]) == tasks.build("arith:2")


def test_gsm8k_tasks_are_the_split_in_file_order_whatever_the_seed():
    rows = tasks.gsm8k_rows()
    first = tasks.gsm8k(3, seed=0)
    assert first == tasks.gsm8k(3, seed=7)
    assert [t.question for t in first] == [r["question"] for r in rows[:3]]
    assert first[0].to_dict() == {"id": "gsm8k-0000", "set": "gsm8k", "question": rows[0]["question"],
                                  "expected": "18"}
    with pytest.raises(ValueError, match="1319"):
        tasks.gsm8k(len(rows) + 1)


def test_a_longer_set_starts_with_the_shorter_one():
    """Ids are stable: growing a set keeps the tasks already run (and their results)."""
    for name in ("algebra", "arith"):
        assert tasks.build(f"{name}:50", 3)[:10] == tasks.build(f"{name}:10", 3)
