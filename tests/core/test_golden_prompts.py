"""Golden prompts: for every catalog model, the exact text one model turn is given after
a call of each tool kind (function, code interpreter, file search) and its result.

The models' templates come from their GGUF metadata, kept in ``tests/data/models``
(a test checks them against the GGUF files that are present). The prompt is built by
the runtime's own pieces: ``plan_turn``, ``system_messages``, the tools' replay,
``render_items`` and the template. Regenerate the golden files after a deliberate
change with ``LA_UPDATE_GOLDEN=1 pytest tests/core/test_golden_prompts.py`` and read
the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from local_assistants.catalog import CATALOG
from local_assistants.core.prompt import ChatTemplate
from local_assistants.core.window import WindowItem, render_items
from local_assistants.tools.registry import default_tools
from local_assistants.tools.turn import plan_turn, system_messages

DATA = Path(__file__).parent.parent / "data"
GOLDEN = DATA / "golden_prompts"
MODELS_DIR = Path(__file__).parents[2] / "models"

WEATHER = {"name": "get_weather", "description": "Current weather in a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}

# One completed tool_calls step per tool kind, as the executor stores them.
STEPS = {
    "function": ([{"type": "function", "function": WEATHER}], "What is the weather in Paris?", {
        "id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}', "output": "18 C, sunny"}}),
    "code_interpreter": ([{"type": "code_interpreter"}], "What is 3 * 1 + 11?", {
        "id": "call_2", "type": "code_interpreter",
        "code_interpreter": {"input": "x = 3 * 1 + 11\nprint(x)", "outputs": [{"type": "logs", "logs": "14"}]}}),
    "file_search": ([{"type": "file_search"}], "How many vacation days do I get?", {
        "id": "call_3", "type": "file_search",
        "file_search": {"query": "vacation days", "ranking_options": {"ranker": "auto", "score_threshold": 0.0},
                        "results": [{"file_id": "file-1", "file_name": "handbook.txt", "score": 0.91,
                                     "content": [{"type": "text", "text": "Employees get 25 vacation days."}]}]}}),
}


class TemplateOnly:
    """What plan_turn reads of a model: its template and llama.cpp's grammar converters."""

    def __init__(self, template: ChatTemplate):
        self.template = template

    def schema_to_grammar(self, schema: dict) -> str:
        from llama_cpp.llama_grammar import json_schema_to_gbnf

        return json_schema_to_gbnf(json.dumps(schema))

    @property
    def json_object_grammar(self) -> str:
        from llama_cpp.llama_grammar import JSON_GBNF

        return JSON_GBNF


def template_of(name: str) -> ChatTemplate:
    saved = json.loads((DATA / "models" / f"{name}.json").read_text())
    return ChatTemplate.from_metadata(saved["metadata"], chat_format=saved["chat_format"],
                                      bos_token=saved["bos_token"], eos_token=saved["eos_token"])


def render_turn(name: str, kind: str) -> str:
    tools, question, call = STEPS[kind]
    model = TemplateOnly(template_of(name))
    run = {"instructions": "You are a helpful assistant.", "tools": tools, "tool_choice": "auto",
           "parallel_tool_calls": True, "response_format": "auto"}
    tools = default_tools(None, code_runner=object(), searcher=object())  # every tool, all offered
    plan = plan_turn(run, model, rounds_done=1, tools=tools.handlers)
    step = {"id": "step_1", "type": "tool_calls", "status": "completed", "step_details": {"tool_calls": [call]}}
    count = lambda text: len(text.split())  # noqa: E731  (only budgets use it here)
    items = [WindowItem("msg_1", "user", question, count(question)),
             *tools.replay_items([step], count, 1, protocol=plan.protocol)]
    return model.template.render(render_items(system_messages(run["instructions"], plan), items),
                                 add_generation_prompt=True, tools=plan.tools)


CASES = [(name, kind) for name in CATALOG for kind in STEPS]


@pytest.mark.parametrize("name,kind", CASES)
def test_prompt_of_one_turn_after_each_tool_kind(name, kind):
    text = render_turn(name, kind)
    path = GOLDEN / f"{name}__{kind}.txt"
    if os.environ.get("LA_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", list(STEPS))
def test_qwen_sees_its_own_protocol(kind):
    """The Qwen models: tools in the template's own section, the call as the assistant's
    <tool_call>, the result in a <tool_response> of the tool turn (a user turn in Qwen's
    layout), never the fallback's code fence or tools section."""
    for name in ("qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct"):
        text = render_turn(name, kind)
        assert "# Tools\n\nYou may call one or more functions" in text
        assert "<|im_start|>assistant\n<tool_call>\n{\"name\": " in text
        assert "<|im_start|>user\n<tool_response>\n" in text
        assert "```python" not in text and "To call a function, reply with exactly" not in text
    code = render_turn("qwen2.5-coder-1.5b-instruct", "code_interpreter")
    assert '"arguments": {"code": "x = 3 * 1 + 11\\nprint(x)"}' in code
    assert "<tool_response>\n14\n</tool_response>" in code


def test_models_without_tool_templates_keep_the_fallback():
    for name in ("smollm2-135m-instruct", "gemma-3-270m"):
        assert not template_of(name).declares_tools
        code = render_turn(name, "code_interpreter")
        assert "```python\nx = 3 * 1 + 11\nprint(x)\n```" in code
        assert "<tool_response>\n14\n</tool_response>" in code
    for name in ("qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct"):
        assert template_of(name).declares_tools


@pytest.mark.parametrize("name", list(CATALOG))
def test_saved_metadata_is_the_gguf_files(name):
    """The templates above are the models' own: compared with each GGUF that is present
    (``make test`` pulls the test model and the default model)."""
    path = MODELS_DIR / CATALOG[name].filename
    if not path.is_file():
        pytest.skip(f"{path.name} is not pulled")
    from llama_cpp import Llama

    llm = Llama(model_path=str(path), vocab_only=True, verbose=False)
    saved = json.loads((DATA / "models" / f"{name}.json").read_text())
    for key, value in saved["metadata"].items():
        assert llm.metadata.get(key) == value, key
    assert ("tokenizer.chat_template" in llm.metadata) == ("tokenizer.chat_template" in saved["metadata"])
