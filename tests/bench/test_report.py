"""The benchmarks' tables and statistics."""

from __future__ import annotations

import math

from local_assistants.bench.report import median, percentile, table


def test_a_table_is_a_titled_aligned_markdown_block():
    text = table("decode", ["path", "tokens/s", "ratio"], [["raw", 51.23456, 1.0], ["runtime, SSE", 123.45, 0.5]])
    assert text.splitlines() == [
        "",
        "## decode",
        "path          tokens/s  ratio",
        "------------  --------  -----",
        "raw           51.235    1.000",
        "runtime, SSE  123.5     0.500",
    ]


def test_numbers_are_shown_to_three_decimals_below_100_and_one_above():
    rows = table("t", ["x"], [[0.0001], [99.9994], [100.0], [-250.06], [7], ["text"]]).splitlines()[4:]
    assert [r.strip() for r in rows] == ["0.000", "99.999", "100.0", "-250.1", "7", "text"]


def test_percentiles_are_nearest_rank_on_the_sorted_values():
    values = [5, 1, 4, 2, 3]
    assert percentile(values, 0) == 1 and percentile(values, 100) == 5
    assert percentile(values, 50) == 3 == median(values)
    assert percentile(values, 95) == 5 and percentile(values, 10) == 1
    assert percentile(range(101), 95) == 95
    assert math.isnan(percentile([], 50))
    assert median([1, 2, 3, 10]) == 2.5
