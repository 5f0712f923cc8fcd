"""The tutor benchmark's grader, on real GSM8K answers and tricky outputs."""

from __future__ import annotations

from fractions import Fraction

import pytest

from local_assistants.bench.tutor import tasks
from local_assistants.bench.tutor.grader import (NOTHING, final_part, format_fraction, from_answer, from_code, grade,
                                                 gsm8k_answer, is_error_output, numbers, parse_expected)


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


def test_huge_numbers_are_compared_exactly():
    assert not grade("x = " + "9" * 400, [], "5").correct  # beyond any float
    assert grade("x = " + "9" * 400, [], "9" * 400).correct
    assert not grade("1e999999", [], "5").correct  # not turned into a million-digit integer
    assert grade("1.5e3", [], "1500").correct


def test_the_final_part_is_the_last_box_else_after_the_last_marker_else_everything():
    assert final_part(r"first \boxed{1}, then \boxed{\frac{2}{3}} and 7 more") == r"\frac{2}{3}"
    assert final_part(r"cut short: \boxed{12") == "12"  # an unclosed box: the rest of the text
    assert final_part("#### 5\n#### 6") == " 6"
    assert final_part("just 4 words") == "just 4 words"
    assert final_part(None) == "" and from_answer("") == NOTHING


def test_a_minus_between_terms_is_not_written_as_a_sign():
    """What the report shows as predicted is the number that was graded: ``16-3`` gave 3, not -3."""
    assert [(n.value, n.text) for n in numbers("16-3")] == [(16, "16"), (3, "3")]
    assert [(n.value, n.text) for n in numbers("(2)-1")] == [(2, "2"), (1, "1")]
    assert [(n.value, n.text) for n in numbers("x = -3, y = −2")] == [(-3, "-3"), (-2, "−2")]
    g = grade("16-3", [], "3")
    assert g.correct and g.predicted == "3"


def test_a_division_by_zero_is_no_number():
    assert numbers("1/0") == []
    assert from_answer("It is 4, not 1/0").value == 4


def test_error_outputs():
    assert is_error_output("ZeroDivisionError: division by zero")
    assert is_error_output("[execution interrupted after 10 s]")
    assert is_error_output("Traceback (most recent call last):\n  ...")
    assert not is_error_output("42\nno errors here")


def test_fractions_are_written_as_the_task_sets_store_them():
    assert format_fraction(Fraction(6, 3)) == "2"
    assert format_fraction(Fraction(-3, 4)) == "-3/4"
    assert parse_expected(format_fraction(Fraction(-7, 2))) == Fraction(-7, 2)
