"""What one model turn may do: the run's tools, tool_choice, parallel_tool_calls,
response_format and rounds done become its plan, and the plan how the turn is decoded."""

from __future__ import annotations

import json

import pytest

from local_assistants.core import grammar as G
from local_assistants.testing import FakeChatModel
from local_assistants.tools.registry import default_tools
from local_assistants.tools.turn import MAX_TOOL_ROUNDS, generate_turn, plan_turn, system_messages

ADD = {"name": "add", "parameters": {"type": "object"}}
MUL = {"name": "mul", "parameters": {"type": "object"}}


def _run(**fields) -> dict:
    return {"id": "run_1", "assistant_id": "asst_1", "thread_id": "thread_1",
            "tools": [{"type": "function", "function": ADD}, {"type": "function", "function": MUL},
                      {"type": "code_interpreter"}],
            "tool_choice": "auto", "parallel_tool_calls": True, "response_format": "auto", **fields}


TOOLS = default_tools(None, code_runner=object()).handlers


def _plan(run, rounds_done=0, model=None):
    return plan_turn(run, model or FakeChatModel(), rounds_done=rounds_done, tools=TOOLS)


def test_auto_offers_every_tool_and_lets_the_model_answer():
    plan = _plan(_run())
    assert (plan.mode, plan.functions, plan.code, plan.can_call) == ("auto", [ADD, MUL], True, True)
    assert plan.grammar.text.startswith("root ::= tool-calls | code-call | text")
    assert "You can run Python code" in plan.system_section and '"name": "mul"' in plan.system_section
    assert plan.tools is None and not plan.json_answer  # the fallback protocol: no template tools


@pytest.mark.parametrize("choice, rounds_done, mode", [
    ("none", 0, "none"),
    ("auto", MAX_TOOL_ROUNDS - 1, "auto"),
    ("auto", MAX_TOOL_ROUNDS, "none"),  # after that many tool rounds, the model must answer
    ("required", 0, "required"),
    ("required", 1, "auto"),  # a forced choice applies to the first turn only
    ({"type": "function", "function": {"name": "mul"}}, 1, "auto"),
])
def test_tool_choice_and_rounds_decide_the_mode(choice, rounds_done, mode):
    plan = _plan(_run(tool_choice=choice), rounds_done)
    assert plan.mode == mode
    if mode == "none":
        assert plan.system_section == "" and plan.grammar is None and not plan.can_call
    if mode == "required":
        assert plan.system_section.endswith("You must call a tool now.")
        assert plan.grammar.text.startswith("root ::= tool-calls | code-call\n")


def test_a_forced_function_leaves_only_it_declared():
    plan = _plan(_run(tool_choice={"type": "function", "function": {"name": "mul"}}))
    assert (plan.mode, plan.functions, plan.code) == ("required", [MUL], False)
    assert plan.grammar.text.startswith("root ::= tool-calls\n")
    forced_code = _plan(_run(tool_choice={"type": "code_interpreter"}))
    assert (forced_code.functions, forced_code.code) == ([], True)


def test_a_run_without_tools_only_answers():
    plan = _plan(_run(tools=[], tool_choice="required"))
    assert plan.mode == "none" and plan.grammar is None and plan.system_section == ""


def test_without_parallel_calls_the_grammar_admits_one_call():
    assert "tool-calls ::= tool-call\n" in _plan(_run(parallel_tool_calls=False)).grammar.text


def test_response_format_asks_for_json_and_constrains_the_answer():
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
    plan = _plan(_run(response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}))
    assert plan.json_answer
    assert plan.system_section.endswith("Answer with JSON matching this schema:\n" + json.dumps(schema))
    assert plan.grammar.text.startswith("root ::= tool-calls | code-call | j-root")
    assert not plan.grammar.free_after_first
    plan = _plan(_run(tools=[], response_format={"type": "json_object"}))
    assert plan.json_answer and plan.system_section == "Answer with a JSON object."
    assert plan.grammar.text.startswith("root ::= j-root")


class _NativeTemplate:
    declares_tools = True


def test_a_model_whose_template_declares_tools_gets_them_there():
    model = FakeChatModel()
    model._template = _NativeTemplate()
    plan = _plan(_run(), model=model)
    assert plan.protocol.native
    assert [t["function"]["name"] for t in plan.tools] == ["add", "mul", "code_interpreter"]
    assert '"name": "add"' not in plan.system_section  # the template declares them, not the section
    assert G.NATIVE_TEXT_RULE in plan.grammar.text
    assert _plan(_run(tool_choice="none"), model=model).tools is None


def test_system_messages_join_the_instructions_and_the_tools_section():
    plan = _plan(_run())
    assert system_messages("Be brief.", plan) == [{"role": "system", "content": "Be brief.\n\n" + plan.system_section}]
    bare = _plan(_run(tools=[]))
    assert system_messages("", bare) == []
    assert system_messages("Be brief.", bare) == [{"role": "system", "content": "Be brief."}]


class _Recorder(FakeChatModel):
    def generate(self, prompt_tokens, **kwargs):
        self.kwargs = kwargs
        return super().generate(prompt_tokens, **kwargs)


def test_a_turn_is_decoded_under_the_plans_grammar_released_once_an_answer_has_begun():
    model = _Recorder(["It is 4."])
    plan = _plan(_run(), model=model)
    gen = generate_turn(model, [1, 2], plan, max_tokens=50, temperature=0.1, top_p=0.9)
    assert "".join(gen) == "It is 4."
    assert model.kwargs["grammar"] == plan.grammar.text
    assert model.kwargs["repeat_penalty"] == 1.0  # calls repeat their own framing tokens
    release = model.kwargs["release_grammar"]
    assert release("It") is True and release("<tool") is False and release("") is False
    model.say("It is 4.")
    answer_only = _plan(_run(tool_choice="none"), model=model)
    generate_turn(model, [1], answer_only, max_tokens=50, temperature=0.1, top_p=0.9)
    assert model.kwargs["grammar"] is None and model.kwargs["release_grammar"] is None
    assert model.kwargs["repeat_penalty"] is None
