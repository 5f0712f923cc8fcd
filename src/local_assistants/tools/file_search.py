"""The file_search tool in runs: the model asks with a query (a grammar-constrained
call), the server searches the run's vector stores, the results enter the prompt
through the window, and the answer cites the chunks it drew on.

The model sees file search as a function ``file_search(query)``; the run step
records it as OpenAI does, a ``file_search`` tool call with ``results``.
"""

from __future__ import annotations

import json
import re

from ..core.toolcalls import ParsedCall, ToolProtocol
from ..core.window import WindowItem
from ..ports import ObjectStore, Searcher
from .base import Answer, Call, Declared, ToolHandler

FUNCTION = {
    "name": "file_search",
    "description": "Search the user's files for passages relevant to a query. Use it for questions about "
                   "the content of uploaded files or documents.",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
}
DEFAULT_MAX_RESULTS = 20

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-.']*")
_STOP = frozenset("""a an and are as at be by for from has have in is it its of on or that the this to was were
will with which what when where who how why your you i we they he she them their there here not no yes can
could would should about into than then also just only more most some such these those do does did""".split())


def vector_store_ids(store, run: dict) -> list[str]:
    """The stores this run searches: the assistant's and the thread's, and those its tool
    names itself (a response's ``file_search`` tool)."""
    ids: list[str] = list(tool_options(run).get("vector_store_ids") or [])
    for table, key in (("assistants", "assistant_id"), ("threads", "thread_id")):
        owner = store.get(table, run[key]) or {}
        ids += ((owner.get("tool_resources") or {}).get("file_search") or {}).get("vector_store_ids") or []
    return list(dict.fromkeys(ids))


def tool_options(run: dict) -> dict:
    return next((t.get("file_search") or {} for t in run["tools"] if t["type"] == "file_search"), {})


def search(searcher, store, run: dict, query: str) -> tuple[dict, list[dict]]:
    """Search the run's stores with ``searcher`` (the search service); returns the ranking
    options used and the results as a run step records them (content included; the API
    shows it only when asked)."""
    options = tool_options(run)
    ranking = options.get("ranking_options") or {}
    threshold = float(ranking.get("score_threshold") or 0.0)
    max_results = int(options.get("max_num_results") or DEFAULT_MAX_RESULTS)
    ids = vector_store_ids(store, run)
    found = searcher.search(ids, query, max_num_results=max_results, score_threshold=threshold,
                            filters=options.get("filters")) if ids else []
    results = [{"file_id": r.file_id, "file_name": r.filename, "score": float(r.score),
                "content": [{"type": "text", "text": r.text}], **({"attributes": r.attributes} if r.attributes else {})}
               for r in found]
    return {"ranker": ranking.get("ranker") or "auto", "score_threshold": threshold}, results


def strip_content(step: dict) -> dict:
    """A step as the API shows it without ``include[]=...file_search.results[*].content``."""
    if step.get("type") != "tool_calls":
        return step
    calls = step["step_details"]["tool_calls"]
    if not any(c["type"] == "file_search" for c in calls):
        return step
    out = dict(step, step_details=dict(step["step_details"], tool_calls=[]))
    for c in calls:
        if c["type"] == "file_search":
            fs = dict(c["file_search"])
            fs["results"] = [{k: v for k, v in r.items() if k != "content"} for r in fs.get("results") or []]
            c = dict(c, file_search=fs)
        out["step_details"]["tool_calls"].append(c)
    return out


def _words(text: str) -> set[str]:
    return {w.lower().strip(".'") for w in _WORD.findall(text) if w.lower() not in _STOP}


def cite(text: str, results: list[dict], step_index: int = 0, *, limit: int = 3) -> tuple[str, list[dict]]:
    """Add ``【step:result†file】`` markers, annotated with ``file_citation``, for the retrieved
    chunks the answer draws on: those sharing a figure or at least two distinctive words
    with it, best first.  Nothing is cited when the answer uses none of them."""
    answer = _words(text)
    cited = []
    for i, result in enumerate(results):
        chunk = _words(" ".join(part["text"] for part in result.get("content") or []))
        shared = answer & chunk
        if any(any(ch.isdigit() for ch in w) for w in shared) or len({w for w in shared if len(w) > 3}) >= 2:
            cited.append((i, result))
        if len(cited) >= limit:
            break
    annotations = []
    for i, result in cited:
        marker = f"【{step_index}:{i}†{result['file_name']}】"
        start = len(text.rstrip())
        text = text.rstrip() + marker
        annotations.append({"type": "file_citation", "text": marker, "start_index": start,
                            "end_index": start + len(marker), "file_citation": {"file_id": result["file_id"]}})
    return text, annotations


class FileSearchTool(ToolHandler):
    """File search in runs: offered when the run has vector stores, declared as the function
    ``file_search(query)``, carried out here; the answer cites what it drew on."""

    kind = "file_search"
    replayed_in_history = False  # a later run sees the answer, which carries what was found

    def __init__(self, store: ObjectStore, searcher: Searcher | None):
        self.store = store
        self.searcher = searcher

    @property
    def available(self) -> bool:
        return self.searcher is not None

    def offered(self, run: dict) -> bool:
        return self.available and bool(vector_store_ids(self.store, run))

    def declare(self, run: dict) -> Declared:
        return Declared(functions=[FUNCTION]) if self.requested(run) else Declared()

    def claims(self, call: ParsedCall) -> bool:
        return call.name == FUNCTION["name"]

    def record(self, call: ParsedCall, call_id: str, index: int) -> tuple[dict, list[dict]]:
        query = json.loads(call.arguments).get("query", "")
        stored = {"id": call_id, "type": "file_search",
                  "file_search": {"ranking_options": {"ranker": "auto", "score_threshold": 0.0},
                                  "results": [], "query": query}}
        # As OpenAI streams it: the call appears, its results are in the completed step.
        return stored, [{"index": index, "id": call_id, "type": "file_search", "file_search": {}}]

    def execute(self, call: Call) -> bool:
        found = call.call["file_search"]
        ranking, results = search(self.searcher, self.store, call.run, found["query"])
        found.update(ranking_options=ranking, results=results)
        call.save_step()
        return True

    def answer(self, run: dict) -> Answer:
        def annotate(text: str) -> tuple[str, list[dict]]:
            """file_citation annotations for the chunks the run's last search found and the answer used."""
            searches = [c for s in self.store.find("run_steps", run_id=run["id"]) if s["type"] == "tool_calls"
                        for c in s["step_details"]["tool_calls"] if c["type"] == "file_search"]
            if not searches:
                return text, []
            return cite(text, searches[-1]["file_search"].get("results") or [], len(searches) - 1)

        return Answer(annotate=annotate)

    def parsed(self, call: dict) -> ParsedCall:
        return ParsedCall("function", FUNCTION["name"], json.dumps({"query": call["file_search"].get("query") or ""}))

    def replay(self, step: dict, calls: list[dict], count, overhead: int, budget: int,
               protocol: ToolProtocol) -> list[WindowItem]:
        """Each search call and its results, one group: the results, best first, as many as
        fit in ``budget`` tokens (the weakest are left out, not the whole search)."""
        items: list[WindowItem] = []
        for c in calls:
            said, call_chat = protocol.calls_message([self.parsed(c)])
            group = f"{step['id']}:{c['id']}"
            parts, used = [], count(said) + 2 * overhead
            for i, r in enumerate(c["file_search"].get("results") or []):
                part = f"[{i}] {r['file_name']}:\n" + " ".join(p["text"] for p in r.get("content") or [])
                cost = count(part) + 1
                if used + cost > budget:
                    break
                parts.append(part)
                used += cost
            text, chat = protocol.result_message("", "\n\n".join(parts) or "No results.")
            items.append(WindowItem(group + ":call", "assistant", said, count(said) + overhead, group=group,
                                    chat=call_chat))
            items.append(WindowItem(group + ":results", "user", text, count(text) + overhead, group=group,
                                    chat=chat))
        return items
