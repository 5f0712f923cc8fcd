"""The tutor benchmark's outputs: ``summary.json``, ``summary.md`` and ``chart.png``.

Figures per model x mode x system (runtime or baseline), per task set and over all sets:

- accuracy with a 95% Wilson score interval;
- latency p50/p95 per task (thread creation to the run's end, code execution included);
- time to first token: to the first streamed delta (an answer's text, or a code call,
  which the runtime streams once the call is complete); the baseline's first decoded piece;
- decode tokens/s of the answers: (answer tokens - 1) / (first to last streamed piece),
  summed over tasks;
- tool-call rate: tasks whose run made at least one code call;
- failed runs (failed, cancelled, expired, or an error reaching the server) and
  incomplete runs (the token limit).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from ..report import percentile

FAILED = ("failed", "cancelled", "expired", "error", "requires_action")
ALL = "all"


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95% Wilson score interval of k successes in n trials."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def group_stats(records: list[dict]) -> dict:
    n = len(records)
    k = sum(1 for r in records if r["correct"])
    lo, hi = wilson(k, n)
    latencies = [r["latency_s"] for r in records if r["status"] != "error"]
    ttfts = [r["ttft_s"] for r in records if r.get("ttft_s") is not None]
    timed = [r for r in records if r.get("answer_decode_s") and r.get("answer_tokens", 0) >= 2]
    decode_s = sum(r["answer_decode_s"] for r in timed)
    return {
        "n": n,
        "correct": k,
        "accuracy": k / n if n else 0.0,
        "ci_low": lo,
        "ci_high": hi,
        "accuracy_answer_only": sum(1 for r in records if r["correct_answer_only"]) / n if n else 0.0,
        "accuracy_code_output_only": sum(1 for r in records if r["correct_code_only"]) / n if n else 0.0,
        "latency_p50_s": percentile(latencies, 50) if latencies else None,
        "latency_p95_s": percentile(latencies, 95) if latencies else None,
        "ttft_p50_s": percentile(ttfts, 50) if ttfts else None,
        "ttft_p95_s": percentile(ttfts, 95) if ttfts else None,
        "decode_tokens_per_s": sum(r["answer_tokens"] - 1 for r in timed) / decode_s if decode_s > 0 else None,
        "completion_tokens_mean": sum(r["completion_tokens"] for r in records) / n if n else 0.0,
        "tool_call_rate": sum(1 for r in records if r["tool_calls"] > 0) / n if n else 0.0,
        "failed": sum(1 for r in records if r["status"] in FAILED),
        "incomplete": sum(1 for r in records if r["status"] == "incomplete"),
    }


def summarize(records: list[dict]) -> list[dict]:
    """One row per model x mode x system x set, plus ``set == "all"``: models, modes and
    sets in the order they were run, each set's rows before the total."""
    keys: dict[tuple, list[dict]] = {}
    for r in records:
        for s in (r["set"], ALL):
            keys.setdefault((r["model"], r["mode"], r["system"], s), []).append(r)
    order = {name: {v: i for i, v in enumerate(dict.fromkeys(r[name] for r in records))}
             for name in ("model", "mode", "system", "set")}

    def rank(key: tuple) -> tuple:
        m, mode, system, s = key
        return (order["model"][m], order["mode"][mode], len(order["set"]) if s == ALL else order["set"][s],
                order["system"][system])

    return [{"model": m, "mode": mode, "system": system, "set": s, **group_stats(keys[(m, mode, system, s)])}
            for (m, mode, system, s) in sorted(keys, key=rank)]


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _acc(row: dict | None) -> str:
    if row is None:
        return "–"
    interval = f"[{100 * row['ci_low']:.0f}–{100 * row['ci_high']:.0f}]"
    return f"{_pct(row['accuracy'])} {interval} ({row['correct']}/{row['n']})"


def _num(x, fmt: str) -> str:
    return "–" if x is None else format(x, fmt)


def markdown(groups: list[dict], meta: dict) -> str:
    index = {(g["model"], g["mode"], g["system"], g["set"]): g for g in groups}
    combos = list(dict.fromkeys((g["model"], g["mode"], g["set"]) for g in groups))
    sets = list(dict.fromkeys(g["set"] for g in groups if g["set"] != ALL))
    lines = [f"Tutor benchmark, {meta['date']}: `{meta['command']}`", "",
             f"Sampling: temperature {meta['params']['temperature']}, top_p {meta['params']['top_p']}, "
             f"at most {meta['params']['max_tokens']} completion tokens per run; seed {meta['seed']}. "
             f"Machine: {meta['machine']['machine']}, {meta['machine']['cpus']} cores, "
             f"{meta['machine']['n_threads']} llama.cpp threads.", "",
             "Accuracy, 95% Wilson interval (correct/n). *runtime*: a thread and a streamed run through the "
             "server and the SDK; *baseline*: raw llama-cpp-python on the same messages and sampling "
             "(in code mode: the grammar-constrained code call run in a sandboxed kernel).", "",
             "| model | mode | set | runtime | baseline | runtime: answer only | runtime: code output only |",
             "|---|---|---|---|---|---|---|"]
    for model, mode, s in combos:
        if s == ALL and len(sets) < 2:
            continue
        rt, bl = index.get((model, mode, "runtime", s)), index.get((model, mode, "baseline", s))
        name = "**all**" if s == ALL else s
        diag = (_pct(rt["accuracy_answer_only"]), _pct(rt["accuracy_code_output_only"])) if rt else ("–", "–")
        lines.append(f"| {model} | {mode} | {name} | {_acc(rt)} | {_acc(bl)} | {diag[0]} | {diag[1]} |")
    lines += ["", "Speed and runs, all sets (latency: thread creation to the run's end; TTFT: to the first "
              "streamed delta, a code call being streamed once complete; tokens/s: answer decode):", "",
              "| model | mode | system | latency p50 / p95 s | TTFT p50 ms | decode tokens/s | mean completion tokens "
              "| tool-call rate | failed | incomplete |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for g in groups:
        if g["set"] != ALL:
            continue
        ttft = None if g["ttft_p50_s"] is None else g["ttft_p50_s"] * 1000
        lines.append(
            f"| {g['model']} | {g['mode']} | {g['system']} | {_num(g['latency_p50_s'], '.2f')} / "
            f"{_num(g['latency_p95_s'], '.2f')} | {_num(ttft, '.0f')} | {_num(g['decode_tokens_per_s'], '.1f')} | "
            f"{g['completion_tokens_mean']:.0f} | {_pct(g['tool_call_rate'])} | {g['failed']} | {g['incomplete']} |")
    return "\n".join(lines) + "\n"


def chart(groups: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    acc_rows = [g for g in groups if g["set"] != ALL]
    combos = list(dict.fromkeys((g["model"], g["mode"], g["set"]) for g in acc_rows))
    systems = list(dict.fromkeys(g["system"] for g in groups))
    index = {(g["model"], g["mode"], g["system"], g["set"]): g for g in groups}
    colors = {"runtime": "#1f77b4", "baseline": "#ff7f0e"}
    width = 0.8 / max(1, len(systems))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(8, 0.9 * len(combos) + 3), 9))
    for j, system in enumerate(systems):
        xs, ys, lo, hi = [], [], [], []
        for i, (model, mode, s) in enumerate(combos):
            g = index.get((model, mode, system, s))
            if g is None:
                continue
            xs.append(i + (j - (len(systems) - 1) / 2) * width)
            ys.append(100 * g["accuracy"])
            lo.append(100 * (g["accuracy"] - g["ci_low"]))
            hi.append(100 * (g["ci_high"] - g["accuracy"]))
        ax1.bar(xs, ys, width, yerr=[lo, hi], capsize=3, label=system, color=colors.get(system))
    ax1.set_xticks(range(len(combos)))
    ax1.set_xticklabels([f"{m}\n{mode}\n{s}" for m, mode, s in combos], fontsize=7)
    ax1.set_ylabel("accuracy % (95% Wilson CI)")
    ax1.set_ylim(0, 100)
    ax1.set_title("Tutor benchmark: accuracy per model / mode / task set")
    ax1.legend()
    pairs = list(dict.fromkeys((g["model"], g["mode"]) for g in groups if g["set"] == ALL))
    for j, system in enumerate(systems):
        xs, ys = [], []
        for i, (model, mode) in enumerate(pairs):
            g = index.get((model, mode, system, ALL))
            if g is None or g["decode_tokens_per_s"] is None:
                continue
            xs.append(i + (j - (len(systems) - 1) / 2) * width)
            ys.append(g["decode_tokens_per_s"])
        ax2.bar(xs, ys, width, label=system, color=colors.get(system))
    ax2.set_xticks(range(len(pairs)))
    ax2.set_xticklabels([f"{m}\n{mode}" for m, mode in pairs], fontsize=8)
    ax2.set_ylabel("answer decode tokens/s")
    ax2.set_title("Decode rate per model / mode")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_all(out: Path, records: list[dict], *, config, machine: dict) -> dict:
    groups = summarize(records)
    meta = {"date": time.strftime("%Y-%m-%d"), "command": config.command or "local-assistants bench tutor",
            "models": [r for r in dict.fromkeys(r["model"] for r in records)], "tasks": config.tasks,
            "modes": config.modes, "seed": config.seed, "params": config.params(), "machine": machine,
            "records": len(records)}
    summary = {**meta, "groups": groups}
    out = Path(out)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "summary.md").write_text(markdown(groups, meta))
    chart(groups, out / "chart.png")
    return summary
