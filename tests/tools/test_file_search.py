"""The file_search tool in runs: which stores a run searches and with which options, the
step it records, what the API shows of it, the citations an answer gets, and the search
results replayed within a token budget."""

from __future__ import annotations

import json

from local_assistants.core.toolcalls import ParsedCall, ToolProtocol, call_text
from local_assistants.ports import SearchResult
from local_assistants.tools import file_search as fs


class Store:
    """The part of the ObjectStore port the tool reads: assistants, threads and run steps."""

    def __init__(self, rows: dict[tuple[str, str], dict], steps: list[dict] = ()):
        self.rows = rows
        self.steps = list(steps)

    def get(self, table, obj_id):
        return self.rows.get((table, obj_id))

    def find(self, table, **where):
        assert table == "run_steps"
        return [s for s in self.steps if s["run_id"] == where["run_id"]]


def _owner(*ids):
    return {"tool_resources": {"file_search": {"vector_store_ids": list(ids)}}}


STORE = Store({("assistants", "asst_1"): _owner("vs_a", "vs_b"), ("threads", "thread_1"): _owner("vs_b", "vs_c")})
RUN = {"id": "run_1", "assistant_id": "asst_1", "thread_id": "thread_1",
       "tools": [{"type": "function", "function": {"name": "f"}},
                 {"type": "file_search", "file_search": {"max_num_results": 2,
                                                         "ranking_options": {"score_threshold": 0.25}}}]}


class Searcher:
    def __init__(self):
        self.asked = []

    def search(self, vector_store_ids, query, *, max_num_results=20, score_threshold=0.0, **_):
        self.asked.append((vector_store_ids, query, max_num_results, score_threshold))
        return [SearchResult("vs_a", "file-1", "a.txt", 0.75, "Otters hold hands.", "chunk_1", 0)]


def test_a_run_searches_its_assistants_and_its_threads_stores_once_each():
    assert fs.vector_store_ids(STORE, RUN) == ["vs_a", "vs_b", "vs_c"]
    assert fs.vector_store_ids(Store({}), RUN) == []


def test_search_uses_the_runs_options_and_records_results_with_their_content():
    searcher = Searcher()
    ranking, results = fs.search(searcher, STORE, RUN, "otters")
    assert searcher.asked == [(["vs_a", "vs_b", "vs_c"], "otters", 2, 0.25)]
    assert ranking == {"ranker": "auto", "score_threshold": 0.25}
    assert results == [{"file_id": "file-1", "file_name": "a.txt", "score": 0.75,
                        "content": [{"type": "text", "text": "Otters hold hands."}]}]
    plain = dict(RUN, tools=[{"type": "file_search"}])
    fs.search(searcher, STORE, plain, "q")
    assert searcher.asked[-1][2:] == (fs.DEFAULT_MAX_RESULTS, 0.0)
    assert fs.search(searcher, Store({}), RUN, "q") == ({"ranker": "auto", "score_threshold": 0.25}, [])
    assert len(searcher.asked) == 2  # no stores: nothing searched


def _search_step(results):
    return {"id": "step_1", "run_id": "run_1", "type": "tool_calls", "step_details": {"type": "tool_calls", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}", "output": None}},
        {"id": "call_2", "type": "file_search", "file_search": {"query": "q", "results": results}}]}}


def test_strip_content_hides_result_content_without_touching_the_stored_step():
    results = [{"file_id": "file-1", "file_name": "a.txt", "score": 0.5, "content": [{"type": "text", "text": "x"}]}]
    step = _search_step(results)
    shown = fs.strip_content(step)
    assert shown["step_details"]["tool_calls"][1]["file_search"]["results"] == [
        {"file_id": "file-1", "file_name": "a.txt", "score": 0.5}]
    assert shown["step_details"]["tool_calls"][0] == step["step_details"]["tool_calls"][0]
    assert step["step_details"]["tool_calls"][1]["file_search"]["results"] == results  # unchanged
    message_step = {"type": "message_creation", "step_details": {}}
    assert fs.strip_content(message_step) is message_step


def _result(file_id, name, text):
    return {"file_id": file_id, "file_name": name, "score": 0.5, "content": [{"type": "text", "text": text}]}


RESULTS = [_result("file-1", "otters.txt", "Sea otters hold hands while sleeping in kelp forests."),
           _result("file-2", "codes.txt", "The launch code is 4471."),
           _result("file-3", "misc.txt", "Nothing related here at all.")]


def test_cite_marks_the_chunks_the_answer_draws_on():
    text, annotations = fs.cite("Otters hold hands when sleeping; the code is 4471.", RESULTS, 2)
    markers = "【2:0†otters.txt】【2:1†codes.txt】"
    assert text == "Otters hold hands when sleeping; the code is 4471." + markers
    assert [(a["file_citation"]["file_id"], text[a["start_index"]:a["end_index"]]) for a in annotations] == [
        ("file-1", "【2:0†otters.txt】"), ("file-2", "【2:1†codes.txt】")]
    assert all(a["type"] == "file_citation" and a["text"] == text[a["start_index"]:a["end_index"]]
               for a in annotations)


def test_cite_needs_a_shared_figure_or_two_distinctive_words():
    assert fs.cite("I do not know.", RESULTS) == ("I do not know.", [])
    assert fs.cite("Otters are nice.", RESULTS) == ("Otters are nice.", [])  # one word shared
    text, found = fs.cite("It is 4471.", RESULTS)
    assert [a["file_citation"]["file_id"] for a in found] == ["file-2"]
    many = [_result(f"file-{i}", f"f{i}.txt", "4471") for i in range(5)]
    assert len(fs.cite("4471", many)[1]) == 3  # at most ``limit``


def test_the_answer_cites_the_runs_last_search():
    first = _search_step([_result("file-9", "old.txt", "The launch code is 4471.")])
    last = _search_step(RESULTS)
    tool = fs.FileSearchTool(Store({}, [first, last]), Searcher())
    text, annotations = tool.answer({"id": "run_1"}).annotate("The code is 4471.")
    assert text == "The code is 4471.【1:1†codes.txt】"
    assert [a["file_citation"]["file_id"] for a in annotations] == ["file-2"]
    assert fs.FileSearchTool(Store({}), Searcher()).answer({"id": "run_1"}).annotate("4471") == ("4471", [])


def test_the_tool_is_offered_with_stores_declared_when_requested_and_claims_its_function():
    tool = fs.FileSearchTool(STORE, Searcher())
    assert tool.offered(RUN) and not tool.offered(dict(RUN, assistant_id="x", thread_id="y"))
    assert not fs.FileSearchTool(STORE, None).offered(RUN)
    assert list(tool.declare(RUN).functions) == [fs.FUNCTION]
    assert list(tool.declare(dict(RUN, tools=[])).functions) == []
    assert tool.claims(ParsedCall("function", "file_search", "{}"))
    assert not tool.claims(ParsedCall("function", "f", "{}"))


def test_a_call_is_recorded_with_its_query_and_run_with_the_runs_options():
    searcher = Searcher()
    tool = fs.FileSearchTool(STORE, searcher)
    stored, deltas = tool.record(ParsedCall("function", "file_search", '{"query": "otters"}'), "call_1", 3)
    assert stored["file_search"] == {"ranking_options": {"ranker": "auto", "score_threshold": 0.0},
                                     "results": [], "query": "otters"}
    assert deltas == [{"index": 3, "id": "call_1", "type": "file_search", "file_search": {}}]
    saved = []

    class Call:
        run, call = RUN, stored

        def save_step(self):
            saved.append(json.loads(json.dumps(stored)))

    assert tool.execute(Call()) is True
    assert searcher.asked[0][1] == "otters"
    assert saved[0]["file_search"]["ranking_options"]["score_threshold"] == 0.25
    assert saved[0]["file_search"]["results"][0]["file_id"] == "file-1"
    assert tool.parsed(stored) == ParsedCall("function", "file_search", '{"query": "otters"}')


def test_replay_keeps_the_best_results_that_fit_the_budget():
    tool = fs.FileSearchTool(Store({}), None)
    step = _search_step(RESULTS)
    call = step["step_details"]["tool_calls"][1]
    said = call_text(tool.parsed(call))
    first = "[0] otters.txt:\n" + RESULTS[0]["content"][0]["text"]
    budget = len(said) + 2 * 5 + len(first) + 1
    items = tool.replay(step, [call], len, 5, budget, ToolProtocol(native=False))
    assert [(i.id, i.role, i.group) for i in items] == [
        ("step_1:call_2:call", "assistant", "step_1:call_2"), ("step_1:call_2:results", "user", "step_1:call_2")]
    assert items[0].text == said
    assert items[1].text == "<tool_response>\n" + first + "\n</tool_response>"
    assert items[1].tokens == len(items[1].text) + 5
    more = tool.replay(step, [call], len, 5, 10_000, ToolProtocol(native=False))
    assert "[2] misc.txt:" in more[1].text
    none = tool.replay(step, [call], len, 5, 0, ToolProtocol(native=False))
    assert none[1].text == "<tool_response>\nNo results.\n</tool_response>"
