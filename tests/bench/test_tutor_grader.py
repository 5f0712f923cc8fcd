"""The tutor benchmark's grader and task sets, on real GSM8K answers and tricky outputs."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from local_assistants.bench.tutor import tasks
from local_assistants.bench.tutor.grader import from_answer, from_code, grade, gsm8k_answer, parse_expected
from local_assistants.bench.tutor.report import wilson


def test_every_gsm8k_reference_solution_grades_correct():
    """The shipped test split's own solutions (with their ``#### answer`` line) are right;
    the answers are whole numbers, some with thousands separators (``#### 1,450,000``)."""
    rows = tasks.gsm8k_rows()
    assert len(rows) == 1319
    separators = 0
    for row in rows:
        expected = gsm8k_answer(row["answer"])
        separators += "," in row["answer"].rsplit("####", 1)[1]
        assert "," not in expected
        assert grade(row["answer"], [], expected).correct, row["answer"]
    assert separators == 14


def test_gsm8k_solution_without_the_marker_falls_back_to_its_last_number():
    row = tasks.gsm8k_rows()[0]  # Janet's ducks: "... $<<9*2=18>>18 every day ...\n#### 18"
    body = row["answer"].rsplit("####", 1)[0]
    assert gsm8k_answer(row["answer"]) == "18"
    assert grade(body, [], "18").correct  # "... = $<<9*2=18>>18 every day at the farmer's market."


@pytest.mark.parametrize("text, expected", [
    ("x = 1", "1"),
    ("So x = 1.", "1"),
    ("She makes $18.00 every day.", "18"),
    ("She makes 18 dollars.", "18"),
    ("The total is 1,234.", "1234"),
    ("It costs $1,450,000 in all", "1450000"),
    ("x = -5", "-5"),
    ("x = −5", "-5"),
    ("The temperature fell to -12 degrees", "-12"),
    ("x = 3/4", "3/4"),
    ("x = -3/4", "-3/4"),
    (r"$x = \frac{3}{4}$", "3/4"),
    (r"$x = -\dfrac{3}{4}$", "-3/4"),
    (r"x = \tfrac{-7}{2}", "-7/2"),
    (r"$x = \frac34$", "3/4"),
    (r"The answer is $\boxed{\frac{1}{2}}$. Check: 2 * 1/2 = 1", "1/2"),
    ("#### 72", "72"),
    ("Step 1: 16-3-4=9 eggs. Step 2: 9*2=18", "18"),
    ("The answer is 50%", "50"),
    ("x = 0.75", "3/4"),
    ("x is about 0.33", "1/3"),
    ("x = 2.50", "5/2"),
])
def test_tricky_answers(text, expected):
    assert grade(text, [], expected).correct, (text, from_answer(text))


@pytest.mark.parametrize("text, expected", [
    ("x = 0.3", "1/3"),       # one decimal is not enough for 1/3
    ("18.004 dollars", "18"),  # more decimals than the rounding admits
    ("16 - 3", "-3"),          # a minus between terms is not a sign
    ("x = 1", "-1"),
    ("I cannot tell.", "7"),
    ("3x + 11 = 14", "1"),     # restating the equation gives its last number
])
def test_wrong_or_missing_answers(text, expected):
    assert not grade(text, [], expected).correct


def test_code_outputs_count_only_when_the_answer_has_no_number():
    assert grade("Here is the result.", ["12516"], "12516").correct
    g = grade("The answer is 5.", ["12516"], "12516")
    assert not g.correct and g.source == "answer" and g.code_only and not g.answer_only
    assert grade("", ["(no output)", "[1]"], "1").source == "code"


def test_code_outputs_skip_errors_and_read_python_values():
    traceback = ("---------------------------------------------------------------------------\n"
                 "NameError                                 Traceback (most recent call last)\n"
                 "Cell In[1], line 3\n----> 3 print(y)\n\nNameError: name 'y' is not defined")
    assert from_code([traceback]).value is None
    assert from_code(["Cell In[2], line 1\n    x = \n        ^\nSyntaxError: invalid syntax"]).value is None
    assert from_code(["12516", traceback]).value == 12516  # the last clean output
    assert from_code(["0.30000000000000004"]).value is not None
    assert grade("", ["0.30000000000000004"], "3/10").correct
    assert grade("", ["Fraction(3, 4)"], "3/4").correct
    assert grade("", ["{x: 1}"], "1").correct
    assert grade("", ["[-3/4]"], "-3/4").correct
    assert grade("", ["1.2e+16"], "12000000000000000").correct


def test_expected_answers_parse_exactly():
    assert parse_expected("1,234") == 1234
    assert parse_expected("-3/4") == Fraction(-3, 4)
    with pytest.raises(ValueError):
        parse_expected("3 or 4")


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


def test_wilson_interval():
    lo, hi = wilson(0, 30)
    assert lo == 0 and hi == pytest.approx(0.1135, abs=1e-3)
    lo, hi = wilson(13, 30)
    assert lo == pytest.approx(0.2740, abs=2e-3) and hi == pytest.approx(0.6080, abs=2e-3)
    assert wilson(30, 30)[1] == 1.0


def test_huge_numbers_are_compared_exactly():
    assert not grade("x = " + "9" * 400, [], "5").correct  # beyond any float
    assert grade("x = " + "9" * 400, [], "9" * 400).correct
    assert not grade("1e999999", [], "5").correct  # not turned into a million-digit integer
    assert grade("1.5e3", [], "1500").correct


def test_results_file_keeps_finished_tasks_and_drops_a_torn_line(tmp_path):
    from local_assistants.bench.tutor.harness import ResultsFile, record_key

    path = tmp_path / "results.jsonl"
    done = {"model": "m", "task_id": "arith-0000", "mode": "plain", "seed": 0, "system": "runtime",
            "status": "incomplete"}
    unreachable = dict(done, task_id="arith-0001", status="error")
    path.write_text(json.dumps(done) + "\n" + json.dumps(unreachable) + "\n" + '{"model": "m", "ta')
    results = ResultsFile(path)
    assert results.finished(record_key("m", "arith-0000", "plain", 0, "runtime"))
    assert not results.finished(record_key("m", "arith-0001", "plain", 0, "runtime"))  # tried again
    assert not results.finished(record_key("m", "arith-0000", "plain", 1, "runtime"))  # another seed
    assert path.read_text().endswith("}\n")  # the torn line is gone
    results.add(dict(unreachable, status="completed"))
    again = ResultsFile(path)
    assert again.finished(record_key("m", "arith-0001", "plain", 0, "runtime"))
    assert len(path.read_text().splitlines()) == 3
