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


SERIES_COLORS = {("plain", "runtime"): "#1f77b4", ("plain", "baseline"): "#aec7e8",
                 ("code_interpreter", "runtime"): "#d62728", ("code_interpreter", "baseline"): "#ff9896"}


def _wrap_label(name: str, width: int = 14) -> str:
    """A model name on a few short lines, broken at its hyphens."""
    lines, line = [], ""
    for part in name.split("-"):
        piece = part if not line else f"{line}-{part}"
        if line and len(piece) > width:
            lines.append(line + "-")
            line = part
        else:
            line = piece
    return "\n".join([*lines, line])


def _grouped_bars(ax, models: list[str], series: list[tuple[str, str]], value) -> None:
    """Models on the axis; one bar per (mode, system) series, side by side."""
    width = 0.8 / max(1, len(series))
    for j, key in enumerate(series):
        xs, ys, lo, hi = [], [], [], []
        for i, model in enumerate(models):
            v = value(model, key)
            if v is None:
                continue
            xs.append(i + (j - (len(series) - 1) / 2) * width)
            ys.append(v[0])
            lo.append(v[1])
            hi.append(v[2])
        ax.bar(xs, ys, width, yerr=[lo, hi] if any(lo) or any(hi) else None, capsize=2,
               label=f"{key[0]}, {key[1]}", color=SERIES_COLORS.get(key))
    ax.set_xticks(range(len(models)))
    ax.set_xticklabels([_wrap_label(m) for m in models], fontsize=8)


def chart(groups: list[dict], path: Path) -> None:
    """One accuracy panel per task set (and all sets together), models on the axis, a bar
    per mode and system; then the decode rate the same way. Readable for any number of
    models: labels never share a tick."""
    import math

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    index = {(g["model"], g["mode"], g["system"], g["set"]): g for g in groups}
    models = list(dict.fromkeys(g["model"] for g in groups))
    series = list(dict.fromkeys((g["mode"], g["system"]) for g in groups))
    sets = list(dict.fromkeys(g["set"] for g in groups if g["set"] != ALL))
    panels = sets + ([ALL] if len(sets) > 1 else [])
    n = len(panels) + 1
    cols = 2 if n > 1 else 1
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(max(7, 1.9 * len(models) + 2) * cols, 4.2 * rows),
                             squeeze=False)
    flat = [ax for row in axes for ax in row]

    def accuracy(task_set):
        def value(model, key):
            g = index.get((model, key[0], key[1], task_set))
            if g is None:
                return None
            return (100 * g["accuracy"], max(0.0, 100 * (g["accuracy"] - g["ci_low"])),
                    max(0.0, 100 * (g["ci_high"] - g["accuracy"])))
        return value

    for ax, task_set in zip(flat, panels):
        _grouped_bars(ax, models, series, accuracy(task_set))
        sizes = sorted({g["n"] for g in groups if g["set"] == task_set})
        n_text = f"{sizes[0]}" if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]}"
        label = "all sets" if task_set == ALL else task_set
        ax.set_title(f"{label}: accuracy, 95% CI (n = {n_text} per bar)", fontsize=10)
        ax.set_ylim(0, 100)
        ax.set_ylabel("accuracy %")
        ax.grid(axis="y", alpha=0.3)

    def decode(model, key):
        g = index.get((model, key[0], key[1], ALL))
        if g is None or g["decode_tokens_per_s"] is None:
            return None
        return (g["decode_tokens_per_s"], 0, 0)

    ax = flat[len(panels)]
    _grouped_bars(ax, models, series, decode)
    ax.set_title("answer decode rate, all sets", fontsize=10)
    ax.set_ylabel("tokens/s")
    ax.grid(axis="y", alpha=0.3)
    for extra in flat[n:]:
        extra.axis("off")
    handles, labels = flat[0].get_legend_handles_labels()
    fig.suptitle("Tutor benchmark: mode and system per model", y=0.995, fontsize=12)
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.975), ncol=len(series), fontsize=9,
               frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
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
