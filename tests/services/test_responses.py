"""ResponsesService over a real SQLite file, wired as ``runtime.py`` wires it but without a
model (``responses_stack``): a response's records (its run, row, input messages, steps and
items), the checks a request meets before anything is written, the thread a chain of
responses runs on, ``input_items`` pages, cancel, delete and what ``forget`` leaves behind."""

from __future__ import annotations

import pytest
from openai.types.responses import Response, ResponseItemList

from local_assistants.core import run_state
from local_assistants.errors import InvalidRequestError, InvalidStateError, NotFoundError, UnknownParameterError
from local_assistants.services.responses import is_response, run_container

from .responses_stack import WEATHER, Services, text_of


@pytest.fixture
def s(tmp_path):
    return Services(tmp_path)


# -- create ----------------------------------------------------------------------------
def test_create_writes_a_queued_run_its_row_its_input_and_items(s):
    response, row = s.create(input="What is 149 * 84?", metadata={"k": "v"})
    rid = response["id"]
    assert rid.startswith("resp_") and is_response(rid) and not is_response("run_abc")
    Response.model_validate(response)
    assert response["status"] == "queued" and response["output"] == [] and response["model"] == "local-default"
    assert response["metadata"] == {"k": "v"} and response["store"] is True and response["background"] is False
    run = s.store.get("runs", rid)
    assert run["status"] == "queued" and run["thread_id"] == row["thread_id"] and run["assistant_id"] == ""
    assert run["truncation_strategy"] == {"type": "auto", "last_messages": None}  # as the Assistants API shows it
    assert row["truncation"] == "disabled"  # the response's own, which the run loop reads
    assert s.store.get("responses", rid) == row and row["owns_thread"] is True
    (message,) = s.thread_messages(row["thread_id"])
    assert message["role"] == "user" and text_of(message) == "What is 149 * 84?"
    assert row["input_items"] == [{"id": message["id"], "type": "message", "role": "user", "status": "completed",
                                   "content": [{"type": "input_text", "text": "What is 149 * 84?"}]}]
    assert s.item_refs(row["thread_id"]) == [message["id"]]
    assert s.enqueued == [rid]
    _, later = s.responses.create({"input": "again"}, start=False)
    assert s.enqueued == [rid]  # start=False: the caller queues it


def test_instructions_and_system_input_become_the_run_s_instructions_not_messages(s):
    _, row = s.create(instructions="Be brief.", input=[
        {"role": "developer", "content": "Answer in French."},
        {"role": "user", "content": [{"type": "input_text", "text": "Hello"}]},
        {"type": "message", "role": "assistant", "content": "Bonjour"},
        {"role": "user", "content": "Encore"}])
    run = s.store.get("runs", row["id"])
    assert run["instructions"] == "Be brief.\n\nAnswer in French."
    assert row["instructions"] == "Be brief."
    messages = s.thread_messages(row["thread_id"])
    assert [(m["role"], text_of(m)) for m in messages] == [("user", "Hello"), ("assistant", "Bonjour"),
                                                           ("user", "Encore")]
    assert [(i["role"], i["content"][0]["type"]) for i in row["input_items"]] == [
        ("developer", "input_text"), ("user", "input_text"), ("assistant", "output_text"), ("user", "input_text")]
    # the system item has an id of its own but no message behind it
    assert row["input_items"][0]["id"] not in {m["id"] for m in messages}
    page = s.responses.input_items(row["id"], order="asc")
    ResponseItemList.model_validate(dict(page, data=[i for i in page["data"] if i["role"] != "assistant"]))


def test_an_assistant_message_given_as_input_is_an_sdk_output_message(s):
    _, row = s.create(input=[{"role": "assistant", "content": "Bonjour"}, {"role": "user", "content": "Encore"}])
    ResponseItemList.model_validate(s.responses.input_items(row["id"], order="asc"))


def test_function_calls_and_outputs_in_the_input_are_one_completed_input_step(s):
    _, row = s.create(tools=[WEATHER], input=[
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call", "call_id": "call_w1", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        {"type": "function_call_output", "call_id": "call_w1", "output": "sunny"}])
    (step,) = s.store.find("run_steps", run_id=row["id"])
    assert step["status"] == "completed" and step["metadata"] == {"response_input": "true"}
    assert step["step_details"]["tool_calls"] == [{"id": "call_w1", "type": "function", "function": {
        "name": "get_weather", "arguments": '{"city": "Paris"}', "output": "sunny"}}]
    assert [i["type"] for i in row["input_items"]] == ["message", "function_call", "function_call_output"]
    assert [i["id"] for i in row["input_items"][1:]] == ["fc_w1", "fco_w1"]
    assert s.item_refs(row["thread_id"])[1:] == ["call:call_w1", "output:call_w1"]
    # the input step is not the response's output
    assert s.responses.retrieve(row["id"])["output"] == []
    assert s.store.get("runs", row["id"])["tools"][0]["function"]["name"] == "get_weather"


def test_the_tools_as_the_run_reads_them_and_as_the_response_shows_them(s):
    response, row = s.create(tools=[WEATHER], tool_choice={"type": "function", "name": "get_weather"},
                             parallel_tool_calls=False)
    run = s.store.get("runs", row["id"])
    assert run["tools"][0]["type"] == "function" and run["tools"][0]["function"]["name"] == "get_weather"
    assert run["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert run["parallel_tool_calls"] is False
    assert response["tools"][0]["name"] == "get_weather" and response["tool_choice"]["name"] == "get_weather"
    Response.model_validate(response)


@pytest.mark.parametrize("body, param", [
    ({"store": False, "background": True}, "background"),
    ({"conversation": "conv_x", "store": False}, "store"),
    ({"colour": "red"}, "colour"),
    ({"store": "yes"}, "store"),
    ({"input": 3}, "input"),
    ({"input": [{"type": "teleport"}]}, "input[0].type"),
    ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
    ({"input": [{"role": "user", "content": []}]}, "input[0].content"),
    ({"input": [{"type": "function_call", "name": "f"}]}, "input[0].call_id"),
    ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
    ({"tools": {"type": "function"}}, "tools"),
    ({"tools": [{"type": "code_interpreter"}]}, "tools[0].container"),
    ({"tools": [{"type": "file_search"}]}, "tools[0].vector_store_ids"),
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "name": "other"}}, "tool_choice.name"),
    ({"tool_choice": {"type": "file_search"}}, "tool_choice.type"),
    ({"tool_choice": "sometimes"}, "tool_choice"),
    ({"include": ["everything"]}, "include"),
    ({"include": "file_search_call.results"}, "include"),
    ({"text": {"format": {"type": "xml"}}}, "text.format.type"),
    ({"text": {"format": {"type": "json_object", "schema": {}}}}, "text.format.schema"),
    ({"text": "json"}, "text"),
    ({"truncation": "sometimes"}, "truncation"),
    ({"max_output_tokens": 8}, "max_output_tokens"),
    ({"max_tool_calls": 0}, "max_tool_calls"),
    ({"temperature": 3}, "temperature"),
    ({"top_logprobs": 21}, "top_logprobs"),
])
def test_a_bad_request_is_refused_before_anything_is_written(s, body, param):
    before = s.store.table_counts()
    with pytest.raises(InvalidRequestError) as err:
        s.create(**body)
    assert err.value.param == param
    assert s.store.table_counts() == before and s.enqueued == []


def test_an_unknown_field_is_named_with_openai_s_code(s):
    with pytest.raises(UnknownParameterError) as err:
        s.create(input="x", previous_response="resp_1")
    assert err.value.code == "unknown_parameter"


def test_conversation_and_previous_response_id_are_mutually_exclusive(s):
    with pytest.raises(InvalidRequestError) as err:
        s.create(conversation={"id": "conv_1"}, previous_response_id="resp_1")
    assert err.value.code == "mutually_exclusive_parameters" and err.value.param == "conversation"


@pytest.mark.parametrize("body, param", [
    ({"previous_response_id": "resp_missing"}, "previous_response_id"),
    ({"conversation": "conv_missing"}, "conversation"),
    ({"conversation": {"id": "conv_missing"}}, "conversation"),
    ({"input": [{"type": "function_call_output", "call_id": "call_nobody", "output": "1"}]}, "input[0].call_id"),
    ({"tools": [{"type": "file_search", "vector_store_ids": ["vs_missing"]}]}, "tools[0].vector_store_ids"),
])
def test_what_is_not_there_is_not_found_and_nothing_is_written(s, body, param):
    before = s.store.table_counts()
    with pytest.raises(NotFoundError) as err:
        s.create(**body)
    assert err.value.param == param
    assert s.store.table_counts() == before


def test_text_format_json_schema_is_normalised_for_the_run(s):
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}}
    response, row = s.create(text={"format": {"type": "json_schema", "name": "answer", "schema": schema}})
    assert row["text"] == {"format": {"type": "json_schema", "name": "answer", "schema": schema, "strict": False},
                           "verbosity": "medium"}
    assert s.store.get("runs", row["id"])["response_format"] == {
        "type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": False}}
    assert Response.model_validate(response).text.format.type == "json_schema"
    _, no_schema = s.create(text={"format": {"type": "json_schema", "name": "any", "strict": True}})
    assert no_schema["text"]["format"] == {"type": "json_schema", "name": "any", "strict": True,
                                           "schema": {"type": "object"}}
    _, obj = s.create(text={"format": {"type": "json_object"}, "verbosity": "low"})
    assert obj["text"] == {"format": {"type": "json_object"}, "verbosity": "low"}
    assert s.store.get("runs", obj["id"])["response_format"] == {"type": "json_object"}
    _, plain = s.create()
    assert plain["text"] == {"format": {"type": "text"}, "verbosity": "medium"}
    assert s.store.get("runs", plain["id"])["response_format"] == "auto"
    with pytest.raises(InvalidRequestError):
        s.create(text={"format": {"type": "json_schema", "name": "has space"}})
    with pytest.raises(UnknownParameterError):
        s.create(text={"format": {"type": "json_schema", "name": "a", "json_schema": {}}})


@pytest.mark.parametrize("fmt", [{"type": "json_schema"}, {"type": "json_schema", "name": "has space"}])
def test_a_bad_json_schema_format_names_the_responses_field(s, fmt):
    with pytest.raises(InvalidRequestError) as err:
        s.create(text={"format": fmt})
    assert err.value.param == "text.format.name"


def test_include_values_are_kept_once_each(s):
    _, row = s.create(include=["file_search_call.results", "code_interpreter_call.outputs",
                               "file_search_call.results"])
    assert row["include"] == ["file_search_call.results", "code_interpreter_call.outputs"]
    with pytest.raises(InvalidRequestError) as err:
        s.responses.retrieve(row["id"], ["reasoning.encrypted_content"])
    assert err.value.param == "include"


# -- chains of responses -------------------------------------------------------------------
def test_previous_response_id_appends_to_its_thread_while_the_chain_has_it_alone(s):
    first, a = s.create(input="one")
    with pytest.raises(InvalidRequestError) as err:  # still queued
        s.create(input="two", previous_response_id=first["id"])
    assert err.value.param == "previous_response_id"
    s.finish(first["id"], "answer one")
    second, b = s.create(input="two", previous_response_id=first["id"])
    assert b["thread_id"] == a["thread_id"] and b["previous_response_id"] == first["id"]
    assert Response.model_validate(second).previous_response_id == first["id"]
    assert [text_of(m) for m in s.thread_messages(a["thread_id"])] == ["one", "answer one", "two"]


def test_a_second_response_from_the_same_previous_one_forks_a_thread_with_a_parent(s):
    first, a = s.create(input="one")
    s.finish(first["id"], "answer one")
    answer = s.store.find("messages", run_id=first["id"])[-1]
    _, b = s.create(input="two", previous_response_id=first["id"])
    s.finish(b["id"], "answer two")
    _, c = s.create(input="two, otherwise", previous_response_id=first["id"])
    assert c["thread_id"] not in (a["thread_id"], b["thread_id"])
    fork = s.store.get("threads", c["thread_id"])
    assert fork["parent"] == {"thread_id": a["thread_id"], "message_id": answer["id"]}
    assert [text_of(m) for m in s.thread_messages(c["thread_id"])] == ["two, otherwise"]
    assert c["owns_thread"] is True
    # the first branch is untouched
    assert [text_of(m) for m in s.thread_messages(a["thread_id"])] == ["one", "answer one", "two", "answer two"]
    # a chain goes on from the fork's own last message
    s.finish(c["id"], "answer fork")
    _, d = s.create(input="three", previous_response_id=c["id"])
    assert d["thread_id"] == c["thread_id"]


def test_a_previous_response_with_no_answer_forks_after_its_last_input(s):
    first, a = s.create(input="one")
    s.recorder.run_to(s.recorder.run_to(s.store.get("runs", first["id"]), run_state.IN_PROGRESS),
                      run_state.FAILED, last_error={"code": "server_error", "message": "boom"})
    failed = s.responses.retrieve(first["id"])
    assert failed["status"] == "failed" and failed["error"] == {"code": "server_error", "message": "boom"}
    Response.model_validate(failed)
    s.messages.create(a["thread_id"], role="user", content="written later through the Assistants API")
    _, b = s.create(input="two", previous_response_id=first["id"])
    given = a["input_items"][0]["id"]
    assert s.store.get("threads", b["thread_id"])["parent"] == {"thread_id": a["thread_id"], "message_id": given}


def test_a_response_not_stored_never_appends_to_its_previous_thread(s):
    first, a = s.create(input="one")
    s.finish(first["id"])
    _, b = s.create(input="two", previous_response_id=first["id"], store=False)
    assert b["thread_id"] != a["thread_id"] and s.store.get("threads", b["thread_id"])["parent"]["thread_id"] == \
        a["thread_id"]


def test_a_response_on_a_conversation_runs_on_its_thread(s):
    conv = s.conversations.create(items=[{"role": "user", "content": "earlier"}])
    response, row = s.create(conversation=conv["id"], input="now")
    assert row["thread_id"] == conv["id"] and row["owns_thread"] is False
    assert response["conversation"] == {"id": conv["id"]}
    assert [text_of(m) for m in s.thread_messages(conv["id"])] == ["earlier", "now"]
    with pytest.raises(InvalidStateError):  # its run is active on the thread
        s.create(conversation={"id": conv["id"]}, input="again")


def test_an_output_may_answer_a_call_of_the_previous_response(s):
    first, a = s.create(input="weather?", tools=[WEATHER])
    run = s.recorder.run_to(s.store.get("runs", first["id"]), run_state.IN_PROGRESS)
    step = s.recorder.open_step(run, "tool_calls")
    call = {"id": "call_prev", "type": "function", "function": {"name": "get_weather", "arguments": "{}",
                                                                   "output": None}}
    step["step_details"]["tool_calls"].append(call)
    s.recorder.index_call(step, call)
    s.recorder.step_to(step, "completed")
    s.recorder.run_to(run, run_state.COMPLETED)
    assert [i["type"] for i in s.responses.retrieve(first["id"])["output"]] == ["function_call"]
    _, b = s.create(previous_response_id=first["id"], tools=[WEATHER],
                    input=[{"type": "function_call_output", "call_id": "call_prev", "output": "rain"}])
    (given,) = s.store.find("run_steps", run_id=b["id"])
    assert given["metadata"] == {"response_input": "true", "given_calls": ["call_prev"]}
    assert given["step_details"]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": "{}",
                                                                 "output": "rain"}
    assert b["input_items"] == [{"type": "function_call_output", "id": "fco_prev", "call_id": "call_prev",
                                 "output": "rain", "status": "completed"}]


def test_the_same_function_call_may_be_given_again_in_a_new_response(s):
    """A client that keeps the conversation itself sends the earlier call and its output
    with every request (``input += response.output``): each is a new response on a thread
    of its own."""
    turn = [{"role": "user", "content": "Weather?"},
            {"type": "function_call", "call_id": "call_same", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_same", "output": "sunny"}]
    s.create(input=turn, tools=[WEATHER])
    _, again = s.create(input=turn + [{"role": "user", "content": "And tomorrow?"}], tools=[WEATHER])
    assert [i["type"] for i in again["input_items"]][-1] == "message"


def test_two_branches_may_answer_the_same_call_of_their_previous_response(s):
    first, _ = s.create(input="weather?", tools=[WEATHER])
    run = s.recorder.run_to(s.store.get("runs", first["id"]), run_state.IN_PROGRESS)
    step = s.recorder.open_step(run, "tool_calls")
    call = {"id": "call_x", "type": "function", "function": {"name": "get_weather", "arguments": "{}",
                                                             "output": None}}
    step["step_details"]["tool_calls"].append(call)
    s.recorder.index_call(step, call)
    s.recorder.step_to(step, "completed")
    s.recorder.run_to(run, run_state.COMPLETED)
    output = [{"type": "function_call_output", "call_id": "call_x", "output": "rain"}]
    _, b = s.create(previous_response_id=first["id"], input=output, tools=[WEATHER])
    _, c = s.create(previous_response_id=first["id"], input=output, tools=[WEATHER])  # a retry: a branch
    assert c["thread_id"] != b["thread_id"]


# -- input items ---------------------------------------------------------------------------
def test_input_items_pages(s):
    _, row = s.create(input=[{"role": "user", "content": f"m{i}"} for i in range(5)])
    ids = [i["id"] for i in row["input_items"]]
    page = s.responses.input_items(row["id"])  # newest first by default
    assert [i["id"] for i in page["data"]] == ids[::-1] and page["has_more"] is False
    assert page["first_id"] == ids[-1] and page["last_id"] == ids[0]
    ResponseItemList.model_validate(page)
    asc = s.responses.input_items(row["id"], order="asc", limit=2)
    assert [i["id"] for i in asc["data"]] == ids[:2] and asc["has_more"] is True
    rest = s.responses.input_items(row["id"], order="asc", limit=2, after=asc["last_id"])
    assert [i["id"] for i in rest["data"]] == ids[2:4] and rest["has_more"] is True
    last = s.responses.input_items(row["id"], order="asc", limit=2, after=rest["last_id"])
    assert [i["id"] for i in last["data"]] == ids[4:] and last["has_more"] is False
    assert [i["id"] for i in s.responses.input_items(row["id"], order="asc", before=ids[2])["data"]] == ids[:2]
    assert [i["id"] for i in s.responses.input_items(row["id"], after=ids[2])["data"]] == [ids[1], ids[0]]
    with pytest.raises(NotFoundError):
        s.responses.input_items(row["id"], after="msg_nowhere")
    with pytest.raises(InvalidRequestError):
        s.responses.input_items(row["id"], limit=0)
    with pytest.raises(NotFoundError):
        s.responses.input_items("resp_missing")
    empty = s.responses.input_items(s.create()[1]["id"])
    assert empty == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


# -- cancel, delete, forget -------------------------------------------------------------------
def test_cancel_only_a_background_response(s):
    foreground, _ = s.create(input="x")
    with pytest.raises(InvalidRequestError) as err:
        s.responses.cancel(foreground["id"])
    assert "background" in str(err.value)
    assert s.store.get("runs", foreground["id"])["status"] == "queued"
    background, _ = s.create(input="y", background=True)
    cancelled = s.responses.cancel(background["id"])
    assert cancelled["status"] == "cancelled" and s.store.get("runs", background["id"])["status"] == "cancelled"
    Response.model_validate(cancelled)
    assert s.responses.cancel(background["id"])["status"] == "cancelled"  # again: the same answer
    done, _ = s.create(input="z", background=True)
    s.finish(done["id"])
    with pytest.raises(InvalidStateError):
        s.responses.cancel(done["id"])


def test_delete_forgets_every_row_of_a_response(s):
    before = s.store.table_counts()
    response, row = s.create(tools=[WEATHER], input=[
        {"role": "user", "content": "Weather?"},
        {"type": "function_call", "call_id": "call_d1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_d1", "output": "sunny"}])
    with pytest.raises(InvalidStateError):  # still queued
        s.responses.delete(response["id"])
    s.finish(response["id"], "Sunny.")
    s.store.append_event(response["id"], 0, "response.created", {"type": "response.created"}, 0)
    s.store.save_token_counts({m["id"]: 3 for m in s.thread_messages(row["thread_id"])}, "tok")
    assert s.store.table_counts() != before
    assert s.responses.delete(response["id"]) == {"id": response["id"], "object": "response", "deleted": True}
    assert s.store.table_counts() == before
    with pytest.raises(NotFoundError):
        s.responses.retrieve(response["id"])
    with pytest.raises(NotFoundError):
        s.responses.delete(response["id"])


def test_forget_leaves_a_conversation_and_its_other_items(s):
    conv = s.conversations.create(items=[{"role": "user", "content": "kept"}])
    before = s.store.table_counts()
    response, _ = s.create(conversation=conv["id"], input="forgotten")
    s.finish(response["id"], "forgotten too")
    s.responses.delete(response["id"])
    assert s.store.table_counts() == before
    assert [text_of(m) for m in s.thread_messages(conv["id"])] == ["kept"]
    assert [i["type"] for i in s.conversations.list_items(conv["id"])["data"]] == ["message"]


def test_a_thread_still_used_by_a_later_response_stays(s):
    first, a = s.create(input="one")
    s.finish(first["id"])
    second, b = s.create(input="two", previous_response_id=first["id"])
    s.finish(second["id"])
    s.responses.delete(first["id"])
    assert s.store.get("threads", a["thread_id"]) is not None
    assert [text_of(m) for m in s.thread_messages(a["thread_id"])] == ["two", "Done."]
    assert s.responses.retrieve(second["id"])["status"] == "completed"


def test_forget_unstored_only_forgets_what_was_not_to_be_stored(s):
    before = s.store.table_counts()
    kept, _ = s.create(input="kept")
    s.finish(kept["id"])
    after_kept = s.store.table_counts()
    gone, _ = s.create(input="gone", store=False)
    s.finish(gone["id"])
    s.responses.forget_unstored(kept["id"])
    s.responses.forget_unstored(gone["id"])
    s.responses.forget_unstored("resp_missing")  # nothing to do
    assert s.store.table_counts() == after_kept != before
    assert s.responses.retrieve(kept["id"])["status"] == "completed"


# -- views -----------------------------------------------------------------------------
def test_the_view_of_a_finished_response(s):
    response, _ = s.create(input="hi", max_output_tokens=64, user="u1", prompt_cache_key="k")
    s.finish(response["id"], "Hello!", usage={"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12,
                                               "prompt_tokens_details": {"cached_tokens": 4}})
    view = s.responses.retrieve(response["id"])
    parsed = Response.model_validate(view)
    assert parsed.status == "completed" and parsed.output_text == "Hello!"
    assert parsed.usage.input_tokens == 10 and parsed.usage.input_tokens_details.cached_tokens == 4
    assert (view["max_output_tokens"], view["user"], view["prompt_cache_key"]) == (64, "u1", "k")
    assert view["completed_at"] is not None


def test_an_incomplete_run_is_an_incomplete_response(s):
    response, _ = s.create(input="long")
    s.finish(response["id"], "Trunc", status=run_state.INCOMPLETE,
             incomplete_details={"reason": "max_completion_tokens"})
    view = s.responses.retrieve(response["id"])
    assert view["status"] == "incomplete" and view["incomplete_details"] == {"reason": "max_output_tokens"}
    assert view["completed_at"] is None
    Response.model_validate(view)


def test_run_container():
    assert run_container({"tools": [{"type": "function", "function": {}},
                                    {"type": "code_interpreter", "code_interpreter": {"container_id": "cntr_1"}}]}) \
        == "cntr_1"
    assert run_container({"tools": []}) is None


# -- input tokens and the context window ------------------------------------------------------
def count_chars(model, messages, instructions):
    return sum(len(m["content"]) for m in messages) + len(instructions), 100


def test_input_tokens_counts_the_history_and_the_input(tmp_path):
    s = Services(tmp_path, count_input=count_chars)
    assert s.responses.input_tokens({"input": "12345", "instructions": "abc"}) == {
        "object": "response.input_tokens", "input_tokens": 8}
    first, _ = s.create(input="hello")
    s.finish(first["id"], "world!")
    assert s.responses.input_tokens({"input": "x", "previous_response_id": first["id"]})["input_tokens"] == \
        len("hello") + len("world!") + 1
    with pytest.raises(UnknownParameterError):
        s.responses.input_tokens({"input": "x", "stream": True})
    with pytest.raises(NotFoundError):
        s.responses.input_tokens({"conversation": "conv_missing"})


def test_an_input_too_long_for_the_window_is_refused_unless_truncation_is_auto(tmp_path):
    s = Services(tmp_path, count_input=count_chars)
    before = s.store.table_counts()
    with pytest.raises(InvalidRequestError) as err:
        s.create(input="x" * 101)
    assert err.value.code == "context_length_exceeded" and err.value.param == "input"
    with pytest.raises(InvalidRequestError):  # the answer's room comes off the window
        s.create(input="x" * 80, max_output_tokens=30)
    assert s.store.table_counts() == before
    _, row = s.create(input="x" * 101, truncation="auto")
    assert row["truncation"] == "auto"
