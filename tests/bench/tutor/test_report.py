"""The tutor benchmark's figures: intervals, per-group statistics, their order, the table
and the files written (on hand-made records, no benchmark run)."""

from __future__ import annotations

import json

import pytest

from local_assistants.bench.tutor import report
from local_assistants.bench.tutor.harness import Config
from local_assistants.bench.tutor.report import wilson


def _record(model="m", mode="plain", system="runtime", set_="arith", *, correct=True, status="completed",
            latency_s=1.0, ttft_s=0.1, answer_tokens=11, answer_decode_s=0.5, completion_tokens=20,
            tool_calls=0, answer_only=None, code_only=False):
    return {"model": model, "mode": mode, "system": system, "set": set_, "correct": correct, "status": status,
            "latency_s": latency_s, "ttft_s": ttft_s, "answer_tokens": answer_tokens,
            "answer_decode_s": answer_decode_s, "completion_tokens": completion_tokens, "tool_calls": tool_calls,
            "correct_answer_only": correct if answer_only is None else answer_only, "correct_code_only": code_only}


def test_wilson_interval():
    lo, hi = wilson(0, 30)
    assert lo == 0 and hi == pytest.approx(0.1135, abs=1e-3)
    lo, hi = wilson(13, 30)
    assert lo == pytest.approx(0.2740, abs=2e-3) and hi == pytest.approx(0.6080, abs=2e-3)
    assert wilson(30, 30)[1] == 1.0


def test_group_stats():
    records = [
        _record(latency_s=1.0, ttft_s=0.1, answer_tokens=11, answer_decode_s=0.5, tool_calls=2, code_only=True),
        _record(correct=False, status="incomplete", latency_s=3.0, ttft_s=None, answer_tokens=21,
                answer_decode_s=1.5, completion_tokens=40),
        # an error never reached a run: no latency; one token or no decode time: no decode rate
        _record(correct=False, status="error", latency_s=99.0, ttft_s=0.3, answer_tokens=1, answer_decode_s=0.2),
        _record(status="failed", latency_s=2.0, ttft_s=0.2, answer_decode_s=None, answer_only=False),
    ]
    g = report.group_stats(records)
    assert (g["n"], g["correct"], g["accuracy"]) == (4, 2, 0.5)
    assert (g["ci_low"], g["ci_high"]) == wilson(2, 4)
    assert g["accuracy_answer_only"] == 0.25 and g["accuracy_code_output_only"] == 0.25
    assert (g["latency_p50_s"], g["latency_p95_s"]) == (2.0, 3.0)  # the error's 99 s is left out
    assert (g["ttft_p50_s"], g["ttft_p95_s"]) == (0.2, 0.3)
    assert g["decode_tokens_per_s"] == pytest.approx((10 + 20) / (0.5 + 1.5))
    assert g["completion_tokens_mean"] == 25.0
    assert g["tool_call_rate"] == 0.25
    assert (g["failed"], g["incomplete"]) == (2, 1)  # failed and error; the token limit


def test_group_stats_without_timings():
    g = report.group_stats([_record(status="error", ttft_s=None, answer_decode_s=None)])
    assert g["latency_p50_s"] is None and g["ttft_p50_s"] is None and g["decode_tokens_per_s"] is None
    empty = report.group_stats([])
    assert (empty["n"], empty["accuracy"], empty["ci_low"], empty["ci_high"]) == (0, 0.0, 0.0, 1.0)


def test_summary_rows_come_in_the_order_things_were_run_with_each_total_last():
    records = [_record("b", "code_interpreter", "runtime", "gsm8k"), _record("b", "plain", "baseline", "arith"),
               _record("a", "plain", "runtime", "arith"), _record("b", "plain", "runtime", "gsm8k"),
               _record("b", "plain", "runtime", "arith", correct=False)]
    # models, modes and sets in order of first appearance; systems as run within each
    rows = [(r["model"], r["mode"], r["set"], r["system"], r["n"]) for r in report.summarize(records)]
    assert rows == [
        ("b", "code_interpreter", "gsm8k", "runtime", 1), ("b", "code_interpreter", "all", "runtime", 1),
        ("b", "plain", "gsm8k", "runtime", 1),
        ("b", "plain", "arith", "runtime", 1), ("b", "plain", "arith", "baseline", 1),
        ("b", "plain", "all", "runtime", 2), ("b", "plain", "all", "baseline", 1),
        ("a", "plain", "arith", "runtime", 1), ("a", "plain", "all", "runtime", 1),
    ]


META = {"date": "2025-01-02", "command": "local-assistants bench tutor", "seed": 0,
        "params": {"temperature": 0.0, "top_p": 1.0, "max_tokens": 512},
        "machine": {"machine": "x86_64", "cpus": 2, "n_threads": 1}}


def test_the_markdown_table():
    records = [_record(set_="arith"), _record(set_="algebra", correct=False),
               _record(system="baseline", set_="arith", correct=False, ttft_s=None),
               _record(system="baseline", set_="algebra", correct=False, ttft_s=None)]
    text = report.markdown(report.summarize(records), META)
    lines = text.splitlines()
    assert lines[0] == "Tutor benchmark, 2025-01-02: `local-assistants bench tutor`"
    assert "| m | plain | **all** | 50% [9–91] (1/2) | 0% [0–66] (0/2) | 50% | 0% |" in lines
    assert "| m | plain | arith | 100% [21–100] (1/1) | 0% [0–79] (0/1) | 100% | 0% |" in lines
    speed = [line for line in lines if line.startswith("| m | plain | ")][-2:]
    assert speed == ["| m | plain | runtime | 1.00 / 1.00 | 100 | 20.0 | 20 | 0% | 0 | 0 |",
                     "| m | plain | baseline | 1.00 / 1.00 | – | 20.0 | 20 | 0% | 0 | 0 |"]


def test_one_set_has_no_total_row_and_a_missing_system_is_a_dash():
    text = report.markdown(report.summarize([_record(set_="arith")]), META)
    assert "**all**" not in text
    assert "| m | plain | arith | 100% [21–100] (1/1) | – | 100% | 0% |" in text.splitlines()


def test_model_names_are_wrapped_at_their_hyphens():
    assert report._wrap_label("qwen2.5-1.5b-instruct") == "qwen2.5-1.5b-\ninstruct"
    assert report._wrap_label("smollm2-135m-instruct") == "smollm2-135m-\ninstruct"
    assert report._wrap_label("short") == "short"
    assert report._wrap_label("a-b-c", width=3) == "a-b-\nc"


def test_write_all_writes_the_summary_the_table_and_the_chart(tmp_path):
    records = [_record(), _record("m2", "code_interpreter", tool_calls=1, set_="algebra")]
    config = Config(tasks="arith:1,algebra:1", modes=["plain", "code_interpreter"], command="bench tutor --x")
    summary = report.write_all(tmp_path, records, config=config, machine=META["machine"])
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    assert summary["models"] == ["m", "m2"] and summary["records"] == 2 and summary["params"] == config.params()
    assert summary["groups"] == report.summarize(records)
    assert (tmp_path / "summary.md").read_text().startswith("Tutor benchmark, ")
    assert "`bench tutor --x`" in (tmp_path / "summary.md").read_text()
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
