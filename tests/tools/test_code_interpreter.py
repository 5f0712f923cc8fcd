"""The code_interpreter tool in runs, over a fake CodeRunner: when it can be used, how a
code call is declared, recorded, streamed, run and stored, what the answer gets (images
first, written files linked), the code a native model writes in its answer, and how a
call is shown to the model again.  The real sandbox: test_sandbox_*.py and tests/api/."""

from __future__ import annotations

import pytest

from local_assistants.core.toolcalls import AnswerCode, ParsedCall, ToolProtocol
from local_assistants.errors import LocalAssistantsError
from local_assistants.ports import CodeOutcome, CodeRunner, ProducedFile
from local_assistants.tools.base import Call, Declared
from local_assistants.tools.code_interpreter import CodeInterpreterTool
from local_assistants.tools.turn import TurnPlan

RUN = {"id": "run_1", "thread_id": "thread_1", "tools": [{"type": "code_interpreter"}]}


class Runner:
    """The CodeRunner port: records what it is asked, answers with the given outcome, and
    hands the run's outputs out once."""

    def __init__(self, logs="12516", images=(), produced=(), why=None):
        self.logs, self.images, self.produced, self.why = logs, list(images), list(produced), why
        self.ran: list[tuple[str, str]] = []
        self.warmed = 0
        self.taken: list[str] = []

    def unavailable(self):
        return self.why

    def warm_up(self):
        self.warmed += 1

    def run(self, run, code):
        self.ran.append((run["id"], code))
        return CodeOutcome(logs=self.logs, image_file_ids=list(self.images), reset=False)

    def take_outputs(self, run_id):
        self.taken.append(run_id)
        out, self.images, self.produced = (self.images, self.produced), [], []
        return out


def test_the_fake_is_a_code_runner():
    assert isinstance(Runner(), CodeRunner)


def test_without_a_runner_the_tool_is_unavailable_and_its_answer_empty():
    tool = CodeInterpreterTool(None)
    assert not tool.available
    answer = tool.answer(RUN)
    assert answer.parts == [] and answer.annotate("x") == ("x", [])
    tool.finish("run_1")  # nothing to forget, no error


def test_prepare_refuses_with_the_runners_reason_or_warms_a_kernel():
    broken = Runner(why="bubblewrap cannot create a user namespace")
    with pytest.raises(LocalAssistantsError) as info:
        CodeInterpreterTool(broken).prepare(RUN)
    assert info.value.message == "bubblewrap cannot create a user namespace" and broken.warmed == 0
    ok = Runner()
    CodeInterpreterTool(ok).prepare(RUN)
    assert ok.warmed == 1


def test_code_is_declared_only_for_a_run_that_has_the_tool():
    tool = CodeInterpreterTool(Runner())
    assert tool.declare(RUN) == Declared(code=True)
    assert tool.declare({"tools": [{"type": "function", "function": {"name": "f"}}]}) == Declared(code=False)


def test_it_claims_code_calls_only():
    tool = CodeInterpreterTool(Runner())
    assert tool.claims(ParsedCall("code_interpreter", "code_interpreter", "1 + 1"))
    assert not tool.claims(ParsedCall("function", "code_interpreter", "{}"))


def test_a_call_is_recorded_with_its_code_and_streamed_id_first_code_after():
    stored, deltas = CodeInterpreterTool(Runner()).record(
        ParsedCall("code_interpreter", "code_interpreter", "x = 2\nx"), "call_9", 1)
    assert stored == {"id": "call_9", "type": "code_interpreter",
                      "code_interpreter": {"input": "x = 2\nx", "outputs": []}}
    assert deltas == [
        {"index": 1, "id": "call_9", "type": "code_interpreter", "code_interpreter": {"input": "", "outputs": []}},
        {"index": 1, "type": "code_interpreter", "code_interpreter": {"input": "x = 2\nx"}}]


def _call(stored: dict, *, cancelled: bool = False):
    saved, streamed = [], []
    step = {"id": "step_1", "step_details": {"type": "tool_calls", "tool_calls": [stored]}}
    call = Call(run=RUN, step=step, index=3, call=stored,
                save_step=lambda: saved.append([dict(o) for o in stored["code_interpreter"]["outputs"]]),
                publish_delta=streamed.append, cancelled=lambda: cancelled)
    return call, saved, streamed


def test_executing_runs_the_code_then_stores_and_streams_its_logs_and_images():
    runner = Runner(logs="4\n", images=["file-img1", "file-img2"])
    tool = CodeInterpreterTool(runner)
    stored, _ = tool.record(ParsedCall("code_interpreter", "code_interpreter", "print(2 + 2)"), "call_9", 3)
    call, saved, streamed = _call(stored)
    assert tool.execute(call) is True
    assert runner.ran == [("run_1", "print(2 + 2)")]
    outputs = [{"type": "logs", "logs": "4\n"}, {"type": "image", "image": {"file_id": "file-img1"}},
               {"type": "image", "image": {"file_id": "file-img2"}}]
    assert stored["code_interpreter"]["outputs"] == outputs
    assert saved == [outputs]  # the step is saved holding them
    assert streamed == [{"index": 3, "type": "code_interpreter", "code_interpreter": {"outputs": [
        {"index": 0, "type": "logs", "logs": "4\n"},
        {"index": 1, "type": "image", "image": {"file_id": "file-img1"}},
        {"index": 2, "type": "image", "image": {"file_id": "file-img2"}}]}}]


def test_a_run_cancelled_while_its_code_ran_stops_with_the_outputs_kept():
    tool = CodeInterpreterTool(Runner(logs="done"))
    stored, _ = tool.record(ParsedCall("code_interpreter", "code_interpreter", "work()"), "call_9", 0)
    call, saved, _ = _call(stored, cancelled=True)
    assert tool.execute(call) is False
    assert saved == [[{"type": "logs", "logs": "done"}]]


def test_the_answer_shows_images_first_and_links_written_files_once():
    runner = Runner(images=["file-img1"], produced=[ProducedFile("table.csv", "file-csv")])
    tool = CodeInterpreterTool(runner)
    answer = tool.answer(RUN)
    assert runner.taken == ["run_1"]
    assert answer.parts == [{"type": "image_file", "image_file": {"file_id": "file-img1"}}]
    text, annotations = answer.annotate("Saved to /mnt/data/table.csv.")
    assert text == "Saved to sandbox:/mnt/data/table.csv."
    assert annotations == [{"type": "file_path", "text": "sandbox:/mnt/data/table.csv", "start_index": 9,
                            "end_index": 36, "file_path": {"file_id": "file-csv"}}]
    again = tool.answer(RUN)  # taken once: a second answer has nothing
    assert again.parts == [] and again.annotate("Done.") == ("Done.", [])


def test_finishing_a_run_drops_what_its_code_produced():
    runner = Runner(images=["file-img1"])
    tool = CodeInterpreterTool(runner)
    tool.finish("run_1")
    assert runner.taken == ["run_1"] and tool.answer(RUN).parts == []


def _plan(*, native=True, code=True, mode="auto", json_answer=False) -> TurnPlan:
    return TurnPlan(functions=[], code=code, mode=mode, system_section="", grammar=None, json_answer=json_answer,
                    protocol=ToolProtocol(native=native))


@pytest.mark.parametrize("plan, answered, watched", [
    (_plan(), set(), True),
    (_plan(), {("get_weather", "{}")}, True),  # another tool's call does not count
    (_plan(native=False), set(), False),  # a model without its own protocol calls the tool instead
    (_plan(code=False), set(), False),
    (_plan(mode="none"), set(), False),
    (_plan(json_answer=True), set(), False),
    (_plan(), {("code_interpreter", "print(1)")}, False),  # one block per run
])
def test_a_native_models_answer_is_watched_for_code_until_code_has_run(plan, answered, watched):
    tool = CodeInterpreterTool(Runner())
    watcher = tool.watch_answer(plan, answered)
    assert (watcher is not None) == watched
    if watched:
        assert isinstance(watcher, AnswerCode)


def test_code_written_in_an_answer_becomes_a_code_call():
    tool = CodeInterpreterTool(Runner())
    watcher = tool.watch_answer(_plan(), set())
    shown = watcher.feed("Let me compute it.\n```python\nprint(149 * 84)\n```\nmore")
    assert shown == "Let me compute it." and watcher.done
    call = tool.call_in_answer(watcher)
    assert call == ParsedCall("code_interpreter", "code_interpreter", "print(149 * 84)")
    assert tool.claims(call)


def test_a_stored_call_is_replayed_as_its_code_and_its_logs():
    tool = CodeInterpreterTool(Runner())
    call = {"id": "call_9", "type": "code_interpreter", "code_interpreter": {"input": "x", "outputs": [
        {"type": "logs", "logs": "first"}, {"type": "image", "image": {"file_id": "file-img1"}},
        {"type": "logs", "logs": "second"}]}}
    assert tool.parsed(call) == ParsedCall("code_interpreter", "code_interpreter", "x")
    assert tool.output(call) == ("", "first\nsecond")
    call["code_interpreter"]["outputs"] = [{"type": "image", "image": {"file_id": "file-img1"}}]
    assert tool.output(call) == ("", "(no output)")
    call["code_interpreter"]["outputs"] = []
    assert tool.output(call) == ("", "(no output)")
