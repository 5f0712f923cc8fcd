"""The tutor benchmark's harness.

First its parts, on their own: the results file, records, model labels and the
settings a results folder was made with.  Then a small real tutor benchmark: the test
model, the real runtime (server, SDK, sandboxed kernels) and the raw baseline, 2 tasks
in both modes; interrupted once and resumed, then run again with nothing left to do."""

from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import make_settings
from local_assistants.bench.tutor import Config, harness, run
from local_assistants.bench.tutor.baseline import Outcome
from local_assistants.bench.tutor.grader import grade
from local_assistants.bench.tutor.harness import (RESULTS, ResultsFile, key_of, make_record, model_label,
                                                  record_key)
from local_assistants.bench.tutor.tasks import Task
from local_assistants.cli import main as cli_main


# -- the parts ----------------------------------------------------------------------------
def test_results_file_keeps_finished_tasks_and_drops_a_torn_line(tmp_path):
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


def test_a_results_file_that_does_not_exist_yet_is_made_on_the_first_record(tmp_path):
    results = ResultsFile(tmp_path / "new" / RESULTS)
    assert results.records == {} and not (tmp_path / "new").exists()
    record = {"model": "m", "task_id": "t", "mode": "plain", "seed": 3, "system": "baseline", "status": "failed"}
    results.add(record)
    assert key_of(record) == record_key("m", "t", "plain", 3, "baseline") in results
    assert results.finished(key_of(record))  # a failed run is a result: not run again
    assert ResultsFile(tmp_path / "new" / RESULTS).records == {key_of(record): record}


def test_models_are_labelled_by_catalog_name_or_file_name_never_a_path(tmp_path):
    assert model_label("smollm2-135m-instruct") == "smollm2-135m-instruct"
    assert model_label(str(tmp_path / "models" / "mine.Q4.gguf")) == "mine.Q4.gguf"


TASK = Task("arith-0000", "arith", "What is 149 * 84?", "12516")


def test_a_record_is_graded_on_the_answer_and_every_code_output():
    outcome = Outcome(status="completed", answer="Here it is.", latency_s=2.5, ttft_s=0.25, prompt_tokens=90,
                      completion_tokens=30, answer_tokens=4, answer_decode_s=0.5, thread_id="thread_x",
                      calls=[{"input": "149 * 84", "logs": ["12516"]}, {"input": "x", "logs": ["NameError: x"]}])
    record = make_record(model="m", task=TASK, mode="code_interpreter", seed=0, system="runtime", outcome=outcome)
    assert key_of(record) == ("m", "arith-0000", "code_interpreter", 0, "runtime")
    assert (record["correct"], record["predicted"], record["source"]) == (True, "12516", "code")
    assert (record["correct_answer_only"], record["correct_code_only"]) == (False, True)
    assert record["tool_calls"] == 2 and record["code_calls"] == outcome.calls
    assert (record["set"], record["question"], record["expected"]) == ("arith", TASK.question, "12516")
    assert (record["latency_s"], record["ttft_s"], record["prompt_tokens"], record["completion_tokens"],
            record["answer_tokens"], record["answer_decode_s"]) == (2.5, 0.25, 90, 30, 4, 0.5)
    json.dumps(record)  # one JSON line of the results file


def test_a_task_the_grader_cannot_grade_counts_as_wrong():
    broken = Task("arith-0001", "arith", "?", "not a number")
    record = make_record(model="m", task=broken, mode="plain", seed=0, system="baseline",
                         outcome=Outcome(status="completed", answer="7"))
    assert record["correct"] is False and record["predicted"] is None and record["source"] is None


def test_results_made_with_other_settings_are_never_mixed(tmp_path):
    out = tmp_path / "out"
    config = Config(out=out, max_tokens=64)
    harness._check_params(out, config)
    assert json.loads((out / "params.json").read_text()) == config.params()
    harness._check_params(out, Config(out=out, max_tokens=64, models=["other"], tasks="arith:3"))  # resumable
    with pytest.raises(SystemExit, match="other settings"):
        harness._check_params(out, Config(out=out, max_tokens=64, temperature=0.7))


def test_an_unknown_mode_or_model_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(SystemExit, match="unknown mode 'chat'"):
        run(Config(out=tmp_path / "out", modes=["chat"]), make_settings(tmp_path), progress=False)
    assert not (tmp_path / "out" / RESULTS).exists()
    with pytest.raises(SystemExit, match="unknown model 'no-such-model'"):
        harness._ensure_model("no-such-model", tmp_path, quiet=True)


# -- a real benchmark ---------------------------------------------------------------------
TASKS = "arith:1,algebra:1"
MODES = ["plain", "code_interpreter"]
EXPECTED = 2 * 2 * 2  # tasks x modes x (runtime, baseline)


def _records(out):
    return [json.loads(line) for line in (out / RESULTS).read_text().splitlines()]


def _count(out, table: str) -> int:
    db = sqlite3.connect(out / "runtime-data" / "local_assistants.db")
    try:
        return db.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0]
    finally:
        db.close()


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """Run the benchmark, interrupted (Ctrl-C) after its third task, then resumed."""
    tmp = tmp_path_factory.mktemp("tutor")
    out = tmp / "out"
    settings = make_settings(tmp)
    config = Config(tasks=TASKS, modes=MODES, out=out, max_tokens=96, command="test")
    seen = []

    def interrupt_after_three(record):
        seen.append(record)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(config, settings, progress=False, on_record=interrupt_after_three)
    first = _records(out)
    runs_after_interrupt = _count(out, "runs")
    with open(out / RESULTS, "a") as f:
        f.write('{"model": "smollm2-135m-instruct", "task_id": "ari')  # a write cut short
    summary = run(config, settings, progress=False)
    return {"out": out, "config": config, "settings": settings, "first": first, "summary": summary,
            "runs_after_interrupt": runs_after_interrupt}


def test_interrupted_benchmark_resumes_where_it_stopped(bench):
    out, first, summary = bench["out"], bench["first"], bench["summary"]
    assert len(first) == 3
    records = _records(out)
    assert len(records) == EXPECTED  # the torn line is gone, nothing is duplicated
    assert records[:3] == first  # finished tasks were kept as they were, not run again
    assert (summary["executed"], summary["skipped"]) == (EXPECTED - 3, 3)
    keys = {(r["model"], r["task_id"], r["mode"], r["seed"], r["system"]) for r in records}
    assert len(keys) == EXPECTED
    runtime_records = [r for r in records if r["system"] == "runtime"]
    assert _count(out, "runs") == len(runtime_records)  # one run per runtime task, none repeated
    assert _count(out, "runs") - bench["runs_after_interrupt"] == sum(
        1 for r in records[3:] if r["system"] == "runtime")


def test_a_finished_benchmark_runs_nothing_again(bench):
    out = bench["out"]
    before = (out / RESULTS).read_bytes()
    threads, runs = _count(out, "threads"), _count(out, "runs")
    summary = run(bench["config"], bench["settings"], progress=False)
    assert (summary["executed"], summary["skipped"]) == (0, EXPECTED)
    assert (out / RESULTS).read_bytes() == before
    assert (_count(out, "threads"), _count(out, "runs")) == (threads, runs)


def test_records_are_real_runs_graded_by_the_fixed_rule(bench):
    records = _records(bench["out"])
    for r in records:
        assert r["status"] in ("completed", "incomplete"), r
        assert r["model"] == "smollm2-135m-instruct" and r["seed"] == 0
        logs = [text for call in r["code_calls"] for text in call["logs"]]
        assert grade(r["answer"], logs, r["expected"]).correct == r["correct"]
        assert r["latency_s"] > 0 and r["completion_tokens"] > 0
        if r["mode"] == "code_interpreter":
            # tool_choice forces a code call, which the sandboxed kernel ran
            assert r["tool_calls"] >= 1 and all(call["logs"] for call in r["code_calls"]), r
        else:
            assert r["tool_calls"] == 0 and r["answer"]
    # the runtime and the baseline saw the same first prompt
    by_task = {}
    for r in records:
        if r["mode"] == "plain":
            by_task.setdefault(r["task_id"], {})[r["system"]] = r
    for pair in by_task.values():
        assert pair["runtime"]["prompt_tokens"] == pair["baseline"]["prompt_tokens"]


def test_outputs_summary_table_and_chart(bench):
    out = bench["out"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["records"] == EXPECTED and summary["params"]["max_tokens"] == 96
    groups = {(g["model"], g["mode"], g["system"], g["set"]): g for g in summary["groups"]}
    for mode in MODES:
        for system in ("runtime", "baseline"):
            total = groups[("smollm2-135m-instruct", mode, system, "all")]
            assert total["n"] == 2
            assert 0 <= total["ci_low"] <= total["accuracy"] <= total["ci_high"] <= 1
            assert total["latency_p50_s"] > 0 and total["ttft_p50_s"] > 0
            assert total["tool_call_rate"] == (1.0 if mode == "code_interpreter" else 0.0)
            assert total["failed"] == 0
            assert groups[("smollm2-135m-instruct", mode, system, "arith")]["n"] == 1
    table = (out / "summary.md").read_text()
    assert "| model | mode | set | runtime | baseline |" in table
    assert "| smollm2-135m-instruct | code_interpreter | arith |" in table
    png = (out / "chart.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_the_command_reports_a_finished_benchmark(bench, capsys):
    """``local-assistants bench tutor`` on the finished folder: nothing is run again."""
    out = bench["out"]
    before = (out / RESULTS).read_bytes()
    code = cli_main(["bench", "tutor", "--models", "smollm2-135m-instruct", "--tasks", TASKS,
                     "--modes", ",".join(MODES), "--seed", "0", "--max-tokens", "96", "--out", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "0 tasks run now, 8 found done" in printed
    assert "| model | mode | set | runtime | baseline |" in printed
    assert (out / RESULTS).read_bytes() == before


def test_other_settings_need_another_folder(bench):
    changed = Config(tasks=TASKS, modes=MODES, out=bench["out"], max_tokens=200)
    with pytest.raises(SystemExit, match="other settings"):
        run(changed, bench["settings"], progress=False)
