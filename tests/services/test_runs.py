"""The runs service without HTTP: how a run's options are resolved from its assistant and
the request, cancelling from each status, checking submitted tool outputs, and listing
steps.  The run loop is the fake-model one (``run_loop``); tests/api/ runs the same
paths on the real model through the SDK."""

from __future__ import annotations

import pytest

from local_assistants.errors import InvalidRequestError, InvalidStateError, NotFoundError
from local_assistants.services.runs import SEARCH_CONTENT
from local_assistants.testing import FakeChatModel

from .run_loop import WEATHER, FakeSearch, Loop

CLOCK = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
CALL_WEATHER = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
CALL_CLOCK = '<tool_call>\n{"name": "get_time", "arguments": {"city": "Tokyo"}}\n</tool_call>'


@pytest.fixture
def loop(tmp_path):
    def make(*turns, **fakes) -> Loop:
        lp = Loop(FakeChatModel(turns), **fakes).build(tmp_path)
        lp.enqueued, lp.cancel_requests, lp.checked_models = [], [], []
        lp.runs.enqueue = lp.enqueued.append
        lp.runs.request_cancel = lp.cancel_requests.append
        lp.runs.check_model = lp.checked_models.append
        return lp
    return make


def _thread_and_assistant(lp: Loop, **assistant) -> tuple[str, str]:
    asst = lp.assistants.create(**{"model": "gpt-4o", "instructions": "You are a tutor.", **assistant})
    thread = lp.threads.create(messages=[{"role": "user", "content": "What is 149 * 84?"}])
    return thread["id"], asst["id"]


def _create(lp: Loop, assistant: dict | None = None, **body) -> dict:
    thread_id, asst_id = _thread_and_assistant(lp, **(assistant or {}))
    return lp.runs.create(thread_id, assistant_id=asst_id, **body)


# -- creation: what comes from the assistant, what from the request ----------------------------

def test_a_run_takes_its_assistants_options_when_the_request_sets_none(loop):
    lp = loop()
    fmt = {"type": "json_object"}
    run = _create(lp, {"model": "gpt-4o-mini", "tools": [WEATHER], "temperature": 0.3, "top_p": 0.6,
                       "response_format": fmt})
    assert run["status"] == "queued" and run["object"] == "thread.run"
    assert run["model"] == "gpt-4o-mini" and lp.checked_models == []  # the assistant's was checked when set
    assert run["instructions"] == "You are a tutor."
    assert [t["function"]["name"] for t in run["tools"]] == ["get_weather"]
    assert (run["temperature"], run["top_p"]) == (0.3, 0.6)
    assert run["response_format"] == fmt
    assert run["tool_choice"] == "auto" and run["parallel_tool_calls"] is True
    assert run["truncation_strategy"] == {"type": "auto", "last_messages": None}
    assert run["max_prompt_tokens"] is None and run["max_completion_tokens"] is None
    assert run["metadata"] == {} and run["usage"] is None and run["required_action"] is None
    assert run["expires_at"] == run["created_at"] + 600
    assert lp.store.get("runs", run["id"]) == run
    assert lp.enqueued == [run["id"]]


def test_the_requests_options_win_over_the_assistants(loop):
    lp = loop()
    run = _create(lp, {"tools": [WEATHER], "temperature": 0.3, "top_p": 0.6},
                  model="smollm2-135m-instruct", instructions="Be brief.", tools=[CLOCK],
                  temperature=0, top_p=0, response_format={"type": "json_object"},
                  max_prompt_tokens=256, max_completion_tokens=1, metadata={"k": "v"}, parallel_tool_calls=False)
    assert run["model"] == "smollm2-135m-instruct" and lp.checked_models == ["smollm2-135m-instruct"]
    assert run["instructions"] == "Be brief."
    assert [t["function"]["name"] for t in run["tools"]] == ["get_time"]
    assert (run["temperature"], run["top_p"]) == (0, 0)  # zero is a value, not "unset"
    assert run["response_format"] == {"type": "json_object"}
    assert (run["max_prompt_tokens"], run["max_completion_tokens"]) == (256, 1)
    assert run["metadata"] == {"k": "v"} and run["parallel_tool_calls"] is False


def test_empty_request_tools_mean_no_tools_not_the_assistants(loop):
    lp = loop()
    run = _create(lp, {"tools": [WEATHER]}, tools=[])
    assert run["tools"] == []
    with pytest.raises(InvalidRequestError) as info:
        _create(lp, {"tools": [WEATHER]}, tools=[],
                tool_choice={"type": "function", "function": {"name": "get_weather"}})
    assert info.value.param == "tool_choice.function.name"


@pytest.mark.parametrize("assistant, body, expected", [
    ("Tutor.", {"additional_instructions": "Be brief."}, "Tutor.\n\nBe brief."),
    ("Tutor.", {"instructions": "Own.", "additional_instructions": "Be brief."}, "Own.\n\nBe brief."),
    (None, {"additional_instructions": "Be brief."}, "Be brief."),
    (None, {}, ""),
    ("Tutor.", {"instructions": ""}, ""),  # an empty override is kept: it is not "unset"
    ("Tutor.", {"additional_instructions": ""}, "Tutor."),
])
def test_instructions_and_additional_instructions(loop, assistant, body, expected):
    lp = loop()
    assert _create(lp, {"instructions": assistant}, **body)["instructions"] == expected


@pytest.mark.parametrize("value, expected", [
    ({"type": "last_messages", "last_messages": 1}, {"type": "last_messages", "last_messages": 1}),
    ({"type": "auto"}, {"type": "auto", "last_messages": None}),
])
def test_truncation_strategy_is_kept_as_its_type_says(loop, value, expected):
    lp = loop()
    assert _create(lp, truncation_strategy=value)["truncation_strategy"] == expected


@pytest.mark.parametrize("value, kinds, expected", [
    ("none", [WEATHER], "none"),
    ("required", [WEATHER], "required"),
    ({"type": "function", "function": {"name": "get_weather", "extra": 1}}, [WEATHER],
     {"type": "function", "function": {"name": "get_weather"}}),
    ({"type": "code_interpreter"}, [{"type": "code_interpreter"}], {"type": "code_interpreter"}),
    ({"type": "file_search"}, [{"type": "file_search"}], {"type": "file_search"}),
])
def test_a_tool_choice_naming_one_of_the_runs_tools_is_kept(loop, value, kinds, expected):
    lp = loop()
    assert _create(lp, tools=kinds, tool_choice=value)["tool_choice"] == expected


@pytest.mark.parametrize("body, param", [
    ({"tool_choice": {"type": "code_interpreter"}, "tools": [WEATHER]}, "tool_choice.type"),
    ({"tool_choice": {"type": "file_search"}}, "tool_choice.type"),
    ({"tool_choice": "always"}, "tool_choice"),
    ({"tool_choice": {"type": "browser"}}, "tool_choice"),
    ({"tool_choice": {"type": "function"}, "tools": [WEATHER]}, "tool_choice.function.name"),
    ({"max_prompt_tokens": 255}, "max_prompt_tokens"),
    ({"max_completion_tokens": 0}, "max_completion_tokens"),
    ({"top_p": 1.5}, "top_p"),
    ({"truncation_strategy": {"type": "first_messages"}}, "truncation_strategy.type"),
    ({"truncation_strategy": "auto"}, "truncation_strategy.type"),
    ({"truncation_strategy": {"type": "last_messages", "last_messages": 0}}, "truncation_strategy.last_messages"),
    ({"parallel_tool_calls": "yes"}, "parallel_tool_calls"),
    ({"additional_messages": {"role": "user", "content": "x"}}, "additional_messages"),
    ({"response_format": {"type": "xml"}}, "response_format"),
    ({"reasoning_effort": "extreme"}, "reasoning_effort"),
])
def test_bad_options_are_refused_and_nothing_is_queued(loop, body, param):
    lp = loop()
    thread_id, asst_id = _thread_and_assistant(lp)
    with pytest.raises(InvalidRequestError) as info:
        lp.runs.create(thread_id, assistant_id=asst_id, **body)
    assert info.value.param == param
    assert lp.store.find("runs") == [] and lp.enqueued == []


def test_a_run_needs_an_assistant_id(loop):
    lp = loop()
    thread_id, _ = _thread_and_assistant(lp)
    for missing in (None, "", 5):
        with pytest.raises(InvalidRequestError) as info:
            lp.runs.create(thread_id, assistant_id=missing)
        assert info.value.param == "assistant_id"


def test_a_run_created_without_start_is_not_handed_to_the_worker(loop):
    lp = loop()
    run = _create(lp, start=False, stream=True)  # stream is the route's business
    assert lp.enqueued == [] and lp.store.get("runs", run["id"])["status"] == "queued"


def test_additional_messages_are_written_before_the_run_in_order(loop):
    lp = loop()
    run = _create(lp, additional_messages=[{"role": "user", "content": "one"},
                                           {"role": "assistant", "content": "two"}])
    texts = [(m["role"], m["content"][0]["text"]["value"]) for m in lp.store.find("messages", thread_id=run["thread_id"])]
    assert texts == [("user", "What is 149 * 84?"), ("user", "one"), ("assistant", "two")]


def test_create_thread_and_run_checks_the_assistant_before_writing_the_thread(loop):
    lp = loop()
    with pytest.raises(NotFoundError):
        lp.runs.create_thread_and_run(assistant_id="asst_missing", thread={"messages": [{"role": "user",
                                                                                         "content": "hi"}]})
    assert lp.store.find("threads") == [] and lp.store.find("messages") == []
    with pytest.raises(InvalidRequestError) as info:
        lp.runs.create_thread_and_run(assistant_id="asst_missing", thread=["hi"])
    assert info.value.param == "thread"


def test_create_thread_and_run_writes_thread_run_and_queues_once(loop):
    lp = loop()
    asst = lp.assistants.create(model="gpt-4o")
    thread, run = lp.runs.create_thread_and_run(
        assistant_id=asst["id"], thread={"messages": [{"role": "user", "content": "hi"}], "metadata": {"a": "1"},
                                         "tool_resources": {"code_interpreter": {"file_ids": ["file-thread"]}}},
        tool_resources={"code_interpreter": {"file_ids": ["file-top"]}})
    assert run["thread_id"] == thread["id"] and thread["metadata"] == {"a": "1"}
    assert thread["tool_resources"]["code_interpreter"]["file_ids"] == ["file-top"]  # the top-level one wins
    assert lp.enqueued == [run["id"]]
    # a bad run option leaves no thread behind (one transaction)
    with pytest.raises(InvalidRequestError):
        lp.runs.create_thread_and_run(assistant_id=asst["id"], thread={}, temperature=5)
    assert [t["id"] for t in lp.store.find("threads")] == [thread["id"]]


# -- cancel ----------------------------------------------------------------------------------------

def test_a_queued_run_is_cancelled_at_once(loop):
    lp = loop()
    run = _create(lp)
    cancelled = lp.runs.cancel(run["thread_id"], run["id"])
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"] is not None
    assert cancelled["expires_at"] is None
    assert lp.names() == ["thread.run.cancelling", "thread.run.cancelled"]
    assert lp.cancel_requests == []  # nothing executes it: nothing to stop
    assert lp.store.get("runs", run["id"]) == cancelled


def test_a_run_in_progress_is_left_cancelling_for_the_worker_to_stop(loop):
    lp = loop()
    run = lp.recorder.run_to(_create(lp), "in_progress", publish=False)
    cancelling = lp.runs.cancel(run["thread_id"], run["id"])
    assert cancelling["status"] == "cancelling" and cancelling["cancelled_at"] is None
    assert lp.cancel_requests == [run["id"]]
    assert lp.names() == ["thread.run.cancelling"]
    with pytest.raises(InvalidStateError):  # a second cancel: it is already being cancelled
        lp.runs.cancel(run["thread_id"], run["id"])


def test_a_run_waiting_for_tool_outputs_is_cancelled_with_its_step(loop):
    lp = loop(CALL_WEATHER)
    run = lp.execute(_create(lp, tools=[WEATHER]))
    assert run["status"] == "requires_action"
    lp.events.clear()
    cancelled = lp.runs.cancel(run["thread_id"], run["id"])
    assert cancelled["status"] == "cancelled" and cancelled["required_action"] is None
    assert [s["status"] for s in lp.steps(run)] == ["cancelled"]
    assert lp.cancel_requests == []
    assert [n for n in lp.names() if n.startswith("thread.run.") and "step" not in n] == [
        "thread.run.cancelling", "thread.run.cancelled"]


@pytest.mark.parametrize("status", ["completed", "incomplete", "failed", "cancelled", "expired"])
def test_an_ended_run_cannot_be_cancelled(loop, status):
    lp = loop()
    run = lp.recorder.run_to(_create(lp), "in_progress", publish=False)
    if status == "cancelled":
        run = lp.recorder.run_to(lp.recorder.run_to(run, "cancelling", publish=False), "cancelled", publish=False)
    else:
        run = lp.recorder.run_to(run, status, publish=False)
    lp.events.clear()
    with pytest.raises(InvalidStateError) as info:
        lp.runs.cancel(run["thread_id"], run["id"])
    assert f"'{status}'" in info.value.message
    assert lp.store.get("runs", run["id"])["status"] == status and lp.events == []


def test_cancel_needs_the_runs_own_thread(loop):
    lp = loop()
    run = _create(lp)
    other = lp.threads.create()
    with pytest.raises(NotFoundError):
        lp.runs.cancel(other["id"], run["id"])
    assert lp.store.get("runs", run["id"])["status"] == "queued"


# -- submit_tool_outputs ---------------------------------------------------------------------------

@pytest.fixture
def waiting(loop):
    """A run waiting for the outputs of two parallel calls: (loop, run, call ids)."""
    lp = loop(CALL_WEATHER + "\n" + CALL_CLOCK)
    run = lp.execute(_create(lp, tools=[WEATHER, CLOCK]))
    assert run["status"] == "requires_action"
    ids = [c["id"] for c in run["required_action"]["submit_tool_outputs"]["tool_calls"]]
    assert len(ids) == 2
    lp.events.clear()
    return lp, run, ids


def _refused(lp, run, tool_outputs, param):
    with pytest.raises(InvalidRequestError) as info:
        lp.runs.submit_tool_outputs(run["thread_id"], run["id"], tool_outputs=tool_outputs)
    assert info.value.param == param
    assert lp.store.get("runs", run["id"])["status"] == "requires_action"  # nothing changed
    (step,) = lp.steps(run)
    assert step["status"] == "in_progress"
    assert all(c["function"]["output"] is None for c in step["step_details"]["tool_calls"])
    assert lp.enqueued == [run["id"]] and lp.events == []  # queued once, at creation
    return info.value


def test_outputs_for_only_some_of_the_calls_are_refused_naming_both_lists(waiting):
    lp, run, (first, second) = waiting
    err = _refused(lp, run, [{"tool_call_id": first, "output": "sunny"}], "tool_outputs")
    assert str([first, second]) in err.message and str([first]) in err.message


def test_a_duplicate_output_is_refused_at_its_place(waiting):
    lp, run, (first, second) = waiting
    _refused(lp, run, [{"tool_call_id": first, "output": "a"}, {"tool_call_id": first, "output": "b"},
                       {"tool_call_id": second, "output": "c"}], "tool_outputs[1].tool_call_id")


@pytest.mark.parametrize("outputs, param", [
    (None, "tool_outputs"),
    ({"tool_call_id": "x"}, "tool_outputs"),
    (["call_x"], "tool_outputs[0].tool_call_id"),
    ([{"output": "sunny"}], "tool_outputs[0].tool_call_id"),
    ([{"tool_call_id": 7, "output": "sunny"}], "tool_outputs[0].tool_call_id"),
    ([{"tool_call_id": "call_unknown", "output": "sunny"}], "tool_outputs[0].tool_call_id"),
])
def test_malformed_or_unknown_outputs_are_refused(waiting, outputs, param):
    lp, run, _ = waiting
    _refused(lp, run, outputs, param)


def test_an_output_that_is_not_a_string_is_refused(waiting):
    lp, run, (first, second) = waiting
    _refused(lp, run, [{"tool_call_id": first, "output": "ok"}, {"tool_call_id": second, "output": {"t": 21}}],
             "tool_outputs[1].output")


def test_outputs_in_any_order_fill_their_calls_and_queue_the_run(waiting):
    lp, run, (first, second) = waiting
    queued, step = lp.runs.submit_tool_outputs(run["thread_id"], run["id"], tool_outputs=[
        {"tool_call_id": second, "output": "21:05"}, {"tool_call_id": first}])
    assert queued["status"] == "queued" and queued["required_action"] is None
    assert step["status"] == "completed" and step["completed_at"] is not None
    assert {c["id"]: c["function"]["output"] for c in step["step_details"]["tool_calls"]} == {
        first: "", second: "21:05"}  # a missing output is an empty one
    assert lp.store.get("run_steps", step["id"]) == step
    assert lp.names() == ["thread.run.step.completed", "thread.run.queued"]
    assert lp.enqueued == [run["id"], run["id"]]
    with pytest.raises(InvalidStateError) as info:  # it no longer waits
        lp.runs.submit_tool_outputs(run["thread_id"], run["id"], tool_outputs=[
            {"tool_call_id": first, "output": "again"}])
    assert "queued" in info.value.message


def test_submitting_without_start_does_not_hand_the_run_to_the_worker(waiting):
    lp, run, ids = waiting
    lp.runs.submit_tool_outputs(run["thread_id"], run["id"], start=False,
                                tool_outputs=[{"tool_call_id": i, "output": "x"} for i in ids])
    assert lp.enqueued == [run["id"]]


def test_a_run_not_waiting_for_outputs_refuses_them(loop):
    lp = loop()
    run = _create(lp)
    with pytest.raises(InvalidStateError):
        lp.runs.submit_tool_outputs(run["thread_id"], run["id"], tool_outputs=[])


# -- steps -----------------------------------------------------------------------------------------

def test_steps_are_listed_in_order_and_paged(waiting):
    lp, run, ids = waiting
    lp.runs.submit_tool_outputs(run["thread_id"], run["id"], start=False,
                                tool_outputs=[{"tool_call_id": i, "output": "x"} for i in ids])
    lp.model.say("It is sunny.")
    lp.execute(run)
    tool_step, message_step = lp.steps(run)
    page = lp.runs.list_steps(run["thread_id"], run["id"], order="asc")
    assert [s["id"] for s in page.data] == [tool_step["id"], message_step["id"]]
    desc = lp.runs.list_steps(run["thread_id"], run["id"], limit=1)
    assert [s["id"] for s in desc.data] == [message_step["id"]] and desc.has_more
    after = lp.runs.list_steps(run["thread_id"], run["id"], limit=1, after=message_step["id"])
    assert [s["id"] for s in after.data] == [tool_step["id"]] and not after.has_more
    with pytest.raises(InvalidRequestError) as info:
        lp.runs.list_steps(run["thread_id"], run["id"], limit=101)
    assert info.value.param == "limit"


def test_steps_of_another_run_or_thread_are_not_found(waiting):
    lp, run, _ = waiting
    (step,) = lp.steps(run)
    other = _create(lp, start=False)
    with pytest.raises(NotFoundError):
        lp.runs.retrieve_step(other["thread_id"], other["id"], step["id"])
    with pytest.raises(NotFoundError):
        lp.runs.list_steps(other["thread_id"], run["id"])  # the run is not that thread's
    assert lp.runs.list_steps(other["thread_id"], other["id"]).data == []
    assert lp.runs.retrieve_step(run["thread_id"], run["id"], step["id"]) == step


def test_file_search_result_content_is_shown_only_when_included(loop):
    search = FakeSearch("The Otter launch code is 4471.")
    lp = loop('<tool_call>\n{"name": "file_search", "arguments": {"query": "Otter"}}\n</tool_call>', "4471.",
              search=search)
    run = lp.execute(_create(lp, {"tools": [{"type": "file_search"}],
                                  "tool_resources": {"file_search": {"vector_store_ids": ["vs_notes"]}}}))
    assert run["status"] == "completed"

    def results(step):
        return step["step_details"]["tool_calls"][0]["file_search"]["results"]

    plain = lp.runs.list_steps(run["thread_id"], run["id"], order="asc").data[0]
    assert results(plain) == [{"file_id": "file-0", "file_name": "notes-0.txt", "score": 0.9}]
    full = lp.runs.list_steps(run["thread_id"], run["id"], order="asc", include=[SEARCH_CONTENT]).data[0]
    assert results(full)[0]["content"] == [{"type": "text", "text": "The Otter launch code is 4471."}]
    assert "content" not in results(lp.runs.retrieve_step(run["thread_id"], run["id"], plain["id"]))[0]
    assert "content" in results(lp.store.get("run_steps", plain["id"]))[0]  # stored whole
    with pytest.raises(InvalidRequestError) as info:
        lp.runs.list_steps(run["thread_id"], run["id"], include=["step_details.everything"])
    assert info.value.param == "include"
