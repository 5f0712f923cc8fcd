"""The tutor benchmark's baseline loop, on the scripted model (``FakeChatModel``): the
turns it asks for, the code it runs, and how it ends (no llama.cpp, no kernel)."""

from __future__ import annotations

from types import SimpleNamespace

from local_assistants.bench.tutor.baseline import KernelRunner, run_baseline, run_request
from local_assistants.testing import FakeChatModel

CODE = "```python\nx = 149 * 84\nx\n```"


def _run(model, mode="code_interpreter", max_tokens=200, execute=None, **kwargs):
    return run_baseline(model, "What is 149 * 84?", instructions="You are a tutor.", mode=mode,
                        temperature=kwargs.pop("temperature", 0.0), top_p=kwargs.pop("top_p", 1.0),
                        max_tokens=max_tokens, execute=execute, **kwargs)


class Kernel:
    def __init__(self, logs="12516"):
        self.logs = logs
        self.ran: list[str] = []

    def __call__(self, code: str) -> str:
        self.ran.append(code)
        return self.logs


def test_the_run_request_is_what_the_runtime_makes_of_each_mode():
    plain = run_request("Be nice.", "plain")
    assert plain == {"instructions": "Be nice.", "tools": [], "tool_choice": "auto", "parallel_tool_calls": True,
                     "response_format": "auto"}
    code = run_request("Be nice.", "code_interpreter")
    assert code["tools"] == [{"type": "code_interpreter"}]
    assert code["tool_choice"] == {"type": "code_interpreter"}  # forced, as the benchmark's runs force it


def test_plain_mode_is_one_turn_with_the_sampling_asked():
    model = FakeChatModel(["It is 12516."])
    out = _run(model, mode="plain", temperature=0.3, top_p=0.9)
    assert (out.status, out.answer, out.calls) == ("completed", "It is 12516.", [])
    [call] = model.calls
    assert (call["temperature"], call["top_p"], call["max_tokens"], call["grammar"]) == (0.3, 0.9, 200, None)
    assert "You are a tutor." in model.prompts[0] and "What is 149 * 84?" in model.prompts[0]
    assert out.completion_tokens == out.answer_tokens == len("It is 12516.")
    assert out.prompt_tokens == len(model.prompts[0])
    assert out.ttft_s is not None and out.latency_s >= out.ttft_s


def test_code_mode_forces_a_call_runs_it_and_the_model_answers_from_its_output():
    model, kernel = FakeChatModel([CODE, "It is 12516."]), Kernel()
    out = _run(model, execute=kernel)
    assert out.status == "completed" and out.answer == "It is 12516."
    assert kernel.ran == ["x = 149 * 84\nx"]
    assert out.calls == [{"input": "x = 149 * 84\nx", "logs": ["12516"]}]
    first, second = model.calls
    assert "code-call" in first["grammar"] and "text" not in first["grammar"]  # tool_choice: a call first
    assert "text" in second["grammar"]  # then the model may answer
    # the second prompt replays the call and its output in the model's own protocol
    assert "What is 149 * 84?" in model.prompts[1] and CODE in model.prompts[1]
    assert "<tool_response>\n12516\n</tool_response>" in model.prompts[1]
    # both turns count; the second may only use what the first left
    assert out.completion_tokens == len(CODE) + len("It is 12516.")
    assert out.prompt_tokens == len(model.prompts[0]) + len(model.prompts[1])
    assert second["max_tokens"] == 200 - len(CODE)
    assert out.answer_tokens == len("It is 12516.")


def test_a_repeated_call_is_not_run_again_and_the_model_must_answer():
    model, kernel = FakeChatModel([CODE, CODE, "It is 12516."]), Kernel()
    out = _run(model, execute=kernel)
    assert out.status == "completed" and out.answer == "It is 12516."
    assert kernel.ran == ["x = 149 * 84\nx"]
    assert [c["grammar"] is None for c in model.calls] == [False, False, True]  # no call possible any more


def test_the_token_limit_ends_the_task_as_incomplete():
    model = FakeChatModel(["It is 12516."])
    out = _run(model, mode="plain", max_tokens=5)
    assert (out.status, out.answer, out.completion_tokens) == ("incomplete", "It is", 5)
    model, kernel = FakeChatModel([CODE, "never asked"]), Kernel()
    out = _run(model, max_tokens=len(CODE), execute=kernel)  # the call takes every token
    assert out.status == "incomplete" and kernel.ran and len(model.calls) == 1


def test_a_call_cut_short_by_the_token_limit_is_not_run():
    """As the runtime's executor: a call the model did not finish is no call (the run ends
    incomplete); running its first lines would grade the task on code nobody wrote."""
    model, kernel = FakeChatModel(["```python\nprint(12516)\n```", "never asked"]), Kernel()
    out = _run(model, max_tokens=len("```python\nprint(125"), execute=kernel)
    assert out.status == "incomplete"
    assert kernel.ran == [] and out.calls == []


def test_a_question_over_the_context_is_incomplete_before_any_decoding():
    model = FakeChatModel(["never asked"], n_ctx=120)
    out = _run(model, mode="plain", max_tokens=60)
    assert out.status == "incomplete" and "over the budget 60" in out.error
    assert model.calls == []


def test_the_oldest_code_rounds_go_first_when_the_prompt_outgrows_the_context():
    first, second = "```python\nprint('a' * 150)\n```", "```python\nprint('b' * 150)\n```"

    def prompts(n_ctx):
        model, outputs = FakeChatModel([first, second, "Done."], n_ctx=n_ctx), iter(["a" * 150, "b" * 150])
        return _run(model, execute=lambda code: next(outputs), max_tokens=100), model.prompts

    _, roomy = prompts(100_000)
    assert first in roomy[2] and "a" * 150 in roomy[2]
    # a context whose budget (n_ctx - max_tokens) holds one round but not two
    out, tight = prompts(len(roomy[2]) - 60 + 100)
    assert out.status == "completed" and out.answer == "Done."
    assert tight[1] == roomy[1]
    assert first not in tight[2] and "a" * 150 not in tight[2]
    assert second in tight[2] and "b" * 150 in tight[2] and "What is 149 * 84?" in tight[2]


def test_the_kernel_runner_runs_code_in_the_task_s_own_kernel():
    ran = []

    class Pool:
        def kernel_for(self, name):
            return SimpleNamespace(execute=lambda code, timeout: ran.append((name, code, timeout)) or
                                   SimpleNamespace(logs="" if code == "pass" else "3")), True

    runner = KernelRunner(Pool(), "thread_bench1", timeout_s=7.5)
    assert runner("1 + 2") == "3"
    assert runner("pass") == "(no output)"
    assert ran == [("thread_bench1", "1 + 2", 7.5), ("thread_bench1", "pass", 7.5)]
