"""Chat completions (``/v1/chat/completions``) on the engine every run uses.

A request is one model turn, planned as a run's turn is (``tools.turn.plan_turn``: the
model's own tool protocol, the grammar admitting an answer or calls of exactly the
declared functions, ``response_format``), decoded by the same batched engine and prefix
cache: its ``n`` choices are ``n`` generations submitted together, so they share
decode steps, and a later request with the same beginning reuses its KV.  ``store``
keeps the completion and its request messages (``chat_completions`` table).
"""

from __future__ import annotations

import queue
import random
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ..core import validation as v
from ..core.toolcalls import CallStream, ParsedCall
from ..core.window import WindowItem, render_items
from ..errors import InvalidRequestError, NotFoundError
from ..ids import Clock, now_s, system_clock
from ..ports import ChatModel, Generation, ListQuery, ModelSource, ObjectStore
from ..tools.functions import FunctionTool
from ..tools.turn import TurnPlan, generate_turn, plan_turn, system_messages
from .base import deleted, list_query

BODY_FIELDS = frozenset({
    "messages", "model", "frequency_penalty", "logit_bias", "logprobs", "max_completion_tokens", "max_tokens",
    "metadata", "n", "parallel_tool_calls", "presence_penalty", "response_format", "seed", "stop", "store",
    "stream", "stream_options", "temperature", "tool_choice", "tools", "top_logprobs", "top_p", "user",
    "service_tier", "safety_identifier", "prompt_cache_key", "reasoning_effort", "modalities", "verbosity",
})
MAX_N = 128
SCAN_PAGE = 100
MAX_STOP = 4
DEFAULT_TEMPERATURE = 1.0
FINGERPRINT = "local-assistants"


def new_completion_id() -> str:
    from ..ids import new_id

    return "chatcmpl-" + new_id("call")[len("call_"):]


@dataclass
class ChatRequest:
    """A checked request: the model, its prompt tokens, the turn's plan and sampling."""

    model: ChatModel
    model_name: str
    prompt: list[int]
    plan: TurnPlan
    n: int
    max_tokens: int
    sampling: dict
    logprobs: int | None
    stream: bool
    include_usage: bool
    store: bool
    metadata: dict
    messages: list[dict]
    stop: list[str] = field(default_factory=list)


@dataclass
class _Choice:
    index: int
    text: str = ""
    calls: list[ParsedCall] = field(default_factory=list)
    finish: str = "stop"
    completion_tokens: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    logprobs: list | None = None


class ChatCompletionsService:
    def __init__(self, store: ObjectStore, models: ModelSource, *, check_model: Callable[[str], None],
                 default_max_tokens: int, clock: Clock = system_clock):
        self.store = store
        self.models = models
        self.check_model = check_model
        self.default_max_tokens = default_max_tokens
        self.clock = clock
        self.functions = FunctionTool()

    # -- checking a request --------------------------------------------------------------
    def prepare(self, body: dict) -> ChatRequest:
        v.refuse_unknown(body, BODY_FIELDS)
        name = v.text(body.get("model"), "model", 256, required=True)
        self.check_model(name)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise InvalidRequestError("Invalid 'messages': empty array. Expected an array with minimum length 1, "
                                      "but got an empty array instead.", param="messages", code="empty_array")
        tools = _tools(body.get("tools"))
        choice = _tool_choice(body.get("tool_choice"), tools)
        parallel = body.get("parallel_tool_calls")
        if parallel is not None and not isinstance(parallel, bool):
            raise InvalidRequestError("Invalid type for 'parallel_tool_calls': expected a boolean.",
                                      param="parallel_tool_calls")
        response_format = v.response_format(body.get("response_format"))
        n = v.positive_int(body.get("n"), "n", 1) or 1
        if n > MAX_N:
            raise InvalidRequestError(f"Invalid 'n': integer above maximum value. Expected a value <= {MAX_N}, "
                                      f"but got {n} instead.", param="n", code="integer_above_max_value")
        max_tokens = v.positive_int(body.get("max_completion_tokens"), "max_completion_tokens", 1)
        if max_tokens is None:
            max_tokens = v.positive_int(body.get("max_tokens"), "max_tokens", 1)
        temperature = v.number(body.get("temperature"), "temperature", 0, 2)
        top_p = v.number(body.get("top_p"), "top_p", 0, 1)
        presence = v.number(body.get("presence_penalty"), "presence_penalty", -2, 2)
        frequency = v.number(body.get("frequency_penalty"), "frequency_penalty", -2, 2)
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InvalidRequestError("Invalid type for 'seed': expected an integer.", param="seed")
        logprobs = body.get("logprobs")
        if logprobs is not None and not isinstance(logprobs, bool):
            raise InvalidRequestError("Invalid type for 'logprobs': expected a boolean.", param="logprobs")
        top = body.get("top_logprobs")
        if top is not None:
            if isinstance(top, bool) or not isinstance(top, int):
                raise InvalidRequestError("Invalid type for 'top_logprobs': expected an integer.",
                                          param="top_logprobs")
            if top > 20:
                raise InvalidRequestError(f"Invalid 'top_logprobs': integer above maximum value. Expected a value "
                                          f"<= 20, but got {top} instead.", param="top_logprobs",
                                          code="integer_above_max_value")
            if top < 0:
                raise InvalidRequestError(f"Invalid 'top_logprobs': integer below minimum value. Expected a value "
                                          f">= 0, but got {top} instead.", param="top_logprobs",
                                          code="integer_below_min_value")
            if not logprobs:
                raise InvalidRequestError("Invalid value for 'top_logprobs': 'logprobs' must be true when "
                                          "'top_logprobs' is given.", param="top_logprobs")
        stop = _stop(body.get("stop"))
        stream, include_usage = stream_flags(body)
        store = body.get("store")
        if store is not None and not isinstance(store, bool):
            raise InvalidRequestError("Invalid type for 'store': expected a boolean.", param="store")
        metadata = v.metadata(body.get("metadata")) or {}
        v.text(body.get("user"), "user", 512)
        bias = _logit_bias(body.get("logit_bias"))

        model = self.models.get(name)
        run_like = {"tools": tools, "tool_choice": choice, "response_format": response_format,
                    "parallel_tool_calls": True if parallel is None else parallel}
        plan = plan_turn(run_like, model, rounds_done=0, tools=[self.functions])
        chat = _chat_messages(messages, plan)
        system = system_messages("", plan)
        if system:
            if chat and chat[0]["role"] == "system":
                chat[0] = dict(chat[0], content=f"{chat[0]['content']}\n\n{system[0]['content']}")
            else:
                chat.insert(0, system[0])
        prompt = model.tokenize_prompt(model.format(chat, tools=plan.tools))
        limit = max_tokens or min(self.default_max_tokens, max(1, model.n_ctx - len(prompt)))
        if len(prompt) + (max_tokens or 1) > model.n_ctx:
            raise InvalidRequestError(
                f"This model's maximum context length is {model.n_ctx} tokens. However, you requested "
                f"{len(prompt) + (max_tokens or 0)} tokens ({len(prompt)} in the messages, {max_tokens or 0} in the "
                "completion). Please reduce the length of the messages or completion.", param="messages",
                code="context_length_exceeded")
        recommended = model.sampling or {}
        sampling: dict = {
            "temperature": temperature if temperature is not None else recommended.get("temperature",
                                                                                        DEFAULT_TEMPERATURE),
            "top_p": top_p if top_p is not None else recommended.get("top_p", 1.0),
        }
        extra = {"seed": seed, "presence_penalty": presence, "frequency_penalty": frequency, "logit_bias": bias}
        sampling["extra"] = {k: val for k, val in extra.items() if val}
        if seed is None and n > 1:
            seed = random.randrange(1 << 30)  # n choices of one request differ, as OpenAI's do
        if seed is not None:
            sampling["extra"]["seed"] = seed
        return ChatRequest(model=model, model_name=name, prompt=prompt, plan=plan, n=n, max_tokens=limit,
                           sampling=sampling, logprobs=(top or 0) if logprobs else None, stream=stream,
                           include_usage=include_usage, store=bool(store),
                           metadata=metadata, messages=messages, stop=stop)

    # -- decoding ---------------------------------------------------------------------------
    def _generations(self, req: ChatRequest) -> Iterator[tuple[int, str | None, object]]:
        """Every choice decoded at once (``decode_together``); choice i draws with ``seed`` + i."""

        def start(index: int):
            extra = dict(req.sampling["extra"])
            if "seed" in extra:
                extra["seed"] = extra["seed"] + index  # choice i is the single choice of seed + i
            return lambda should_stop: generate_turn(
                req.model, req.prompt, req.plan, max_tokens=req.max_tokens, temperature=req.sampling["temperature"],
                top_p=req.sampling["top_p"], should_stop=should_stop, logprobs=req.logprobs, stop=req.stop, **extra)

        return decode_together([(i, start(i)) for i in range(req.n)])

    def create(self, req: ChatRequest) -> dict:
        """The whole completion (``stream`` false)."""
        choices = [_Choice(i) for i in range(req.n)]
        for index, piece, end in self._generations(req):
            if end is not None:
                self._end(req, choices[index], end)
        return self._finish(req, choices)

    def stream(self, req: ChatRequest) -> Iterator[dict]:
        """The completion as chunks, OpenAI's order: each choice's role, its content or tool
        call deltas, its finish reason; then, with ``include_usage``, the usage alone."""
        cid, created = new_completion_id(), now_s(self.clock)
        choices = [_Choice(i) for i in range(req.n)]
        heads = ["" for _ in range(req.n)]
        calling = [None for _ in range(req.n)]  # None: not known yet; True: tool calls; False: text
        readers = [CallStream() for _ in range(req.n)]
        sent_calls = [0 for _ in range(req.n)]

        def chunk(index: int, delta: dict, finish: str | None = None, logprobs: dict | None = None) -> dict:
            return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": req.model_name,
                    "system_fingerprint": FINGERPRINT, "service_tier": "default",
                    "choices": [{"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}]}

        for i in range(req.n):
            yield chunk(i, {"role": "assistant", "content": "", "refusal": None})
        protocol = req.plan.protocol
        for index, piece, end in self._generations(req):
            if piece is not None:
                if calling[index] is None:
                    heads[index] += piece
                    opens = protocol.opens_call(heads[index]) if req.plan.can_call else False
                    if opens is None:
                        continue
                    calling[index] = bool(opens)
                    piece, heads[index] = heads[index], ""
                if calling[index]:
                    for event in readers[index].feed(piece):
                        if event.kind == "end":
                            call = protocol.read(event.call)
                            n = sent_calls[index]
                            sent_calls[index] += 1
                            yield chunk(index, {"tool_calls": [
                                {"index": n, "id": _call_id(cid, index, n), "type": "function",
                                 "function": {"name": call.name, "arguments": ""}}]})
                            yield chunk(index, {"tool_calls": [{"index": n, "function": {"arguments": call.arguments}}]})
                elif piece:
                    yield chunk(index, {"content": piece})
                continue
            choice = choices[index]
            if calling[index] is None and heads[index]:  # too short to tell: it was text
                yield chunk(index, {"content": heads[index]})
            self._end(req, choice, end)
            if calling[index] and not choice.calls and choice.text:  # it opened like a call, then was cut
                yield chunk(index, {"content": choice.text})
            lp = {"content": choice.logprobs, "refusal": None} if req.logprobs is not None else None
            yield chunk(index, {}, choice.finish, lp)
        if req.include_usage:
            final = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": req.model_name,
                     "system_fingerprint": FINGERPRINT, "service_tier": "default", "choices": [],
                     "usage": _usage(choices)}
            yield final
        if req.store:
            self._save(req, self._object(req, choices, cid, created))

    def _end(self, req: ChatRequest, choice: _Choice, completion) -> None:
        choice.prompt_tokens = completion.prompt_tokens
        choice.completion_tokens = completion.completion_tokens
        choice.cached_tokens = completion.cached_tokens
        choice.logprobs = completion.logprobs
        text = completion.text
        protocol = req.plan.protocol
        if req.plan.can_call and protocol.opens_call(text):
            reader = CallStream()
            for event in reader.feed(text):
                if event.kind == "end":
                    choice.calls.append(protocol.read(event.call))
        if choice.calls:
            choice.finish = "tool_calls"
        else:
            choice.text = text
            choice.finish = "length" if completion.finish_reason == "length" else "stop"

    def _finish(self, req: ChatRequest, choices: list[_Choice]) -> dict:
        obj = self._object(req, choices, new_completion_id(), now_s(self.clock))
        if req.store:
            self._save(req, obj)
        return obj

    def _object(self, req: ChatRequest, choices: list[_Choice], cid: str, created: int) -> dict:
        out = []
        for c in choices:
            message: dict = {"role": "assistant", "content": None if c.calls else c.text, "refusal": None,
                             "annotations": []}
            if c.calls:
                message["tool_calls"] = [{"id": _call_id(cid, c.index, n), "type": "function",
                                          "function": {"name": call.name, "arguments": call.arguments}}
                                         for n, call in enumerate(c.calls)]
            out.append({"index": c.index, "message": message, "finish_reason": c.finish,
                        "logprobs": {"content": c.logprobs, "refusal": None} if req.logprobs is not None else None})
        obj = {"id": cid, "object": "chat.completion", "created": created, "model": req.model_name,
               "choices": out, "usage": _usage(choices), "system_fingerprint": FINGERPRINT,
               "service_tier": "default"}
        if req.store:
            obj["metadata"] = req.metadata
        return obj

    # -- stored completions ---------------------------------------------------------------------
    def _save(self, req: ChatRequest, obj: dict) -> None:
        messages = [{"id": f"{obj['id']}-{i}", **_stored_message(m)} for i, m in enumerate(req.messages)]
        self.store.insert("chat_completions", {"id": obj["id"], "completion": obj, "messages": messages},
                          model=obj["model"])

    def _row(self, completion_id: str) -> dict:
        row = self.store.get("chat_completions", completion_id)
        if row is None:
            raise NotFoundError(f"Chat completion with id '{completion_id}' not found.")
        return row

    def retrieve(self, completion_id: str) -> dict:
        return self._row(completion_id)["completion"]

    def update(self, completion_id: str, *, metadata: Any = None) -> dict:
        if metadata is None:
            raise v.missing("metadata")
        row = self._row(completion_id)
        row["completion"]["metadata"] = v.metadata(metadata) or {}
        self.store.update("chat_completions", row)
        return row["completion"]

    def delete(self, completion_id: str) -> dict:
        self._row(completion_id)
        self.store.delete("chat_completions", completion_id)
        return deleted(completion_id, "chat.completion.deleted")

    def list(self, *, limit: Any = None, order: Any = None, after: str | None = None,
             metadata: dict[str, str] | None = None, model: str | None = None) -> dict:
        """Stored completions, a page at a time (the metadata filter reads the store a page at a
        time too: never every row at once)."""
        query = list_query(limit, order or "asc", after, None, where={"model": model} if model else None)
        found: list[dict] = []
        cursor = query.after
        while len(found) <= query.limit:
            page = self.store.list("chat_completions", ListQuery(limit=SCAN_PAGE, order=query.order, after=cursor,
                                                                 where=query.where))
            found += [r["completion"] for r in page.data
                      if all((r["completion"].get("metadata") or {}).get(k) == val
                             for k, val in (metadata or {}).items())]
            if not page.has_more:
                break
            cursor = page.data[-1]["id"]
        data = found[: query.limit]
        return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None, "has_more": len(found) > query.limit}

    def messages(self, completion_id: str, *, limit: Any = None, order: Any = None, after: str | None = None) -> dict:
        query = list_query(limit, order or "asc", after, None)
        return _page(self._row(completion_id)["messages"], query)


def stream_flags(body: dict) -> tuple[bool, bool]:
    """``stream`` and ``stream_options.include_usage`` of a request, checked as OpenAI does."""
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequestError("Invalid type for 'stream': expected a boolean.", param="stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise InvalidRequestError("Invalid type for 'stream_options': expected an object.", param="stream_options")
    if options and not stream:
        raise InvalidRequestError("The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                                  param="stream_options")
    return bool(stream), bool((options or {}).get("include_usage"))


def decode_together(starts: list[tuple[int, Callable[[Callable[[], bool]], Generation]]]
                    ) -> Iterator[tuple[int, str | None, object]]:
    """Start every generation at once (each read on a thread of its own, so that the engine
    admits them together and they share its decode steps): yields ``(index, piece, None)`` as
    pieces come and ``(index, None, completion)`` as each ends. A reader that stops early
    stops them all (``start(should_stop)`` makes a generation that polls it)."""
    out: queue.Queue = queue.Queue()
    stop = threading.Event()

    def read(index: int, start) -> None:
        gen = start(stop.is_set)
        try:
            for piece in gen:
                out.put((index, piece, None))
            out.put((index, None, gen.completion))
        except BaseException as err:  # noqa: BLE001 - handed to the reader
            out.put((index, None, err))
        finally:
            gen.close()

    for index, start in starts:
        threading.Thread(target=read, args=(index, start), daemon=True, name=f"choice-{index}").start()
    left = len(starts)
    try:
        while left:
            index, piece, end = out.get()
            if piece is None:
                left -= 1
                if isinstance(end, BaseException):
                    raise end
            yield index, piece, end
    finally:
        stop.set()


def _page(rows: list[dict], query) -> dict:
    if query.order == "desc":
        rows = list(reversed(rows))
    if query.after is not None:
        ids = [r["id"] for r in rows]
        if query.after not in ids:
            raise NotFoundError(f"No object found with id '{query.after}'.", param="after")
        rows = rows[ids.index(query.after) + 1:]
    data = rows[: query.limit]
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": len(rows) > query.limit}


def _call_id(completion_id: str, choice: int, n: int) -> str:
    return f"call_{completion_id[len('chatcmpl-'):][:18]}{choice:02d}{n:02d}"


def _usage(choices: list[_Choice]) -> dict:
    prompt = choices[0].prompt_tokens if choices else 0  # counted once, whatever n is
    completion = sum(c.completion_tokens for c in choices)
    cached = max((c.cached_tokens for c in choices), default=0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}


def _stored_message(m: dict) -> dict:
    content = m.get("content")
    text = content if isinstance(content, str) or content is None else _parts_text(content, "messages")
    return {"role": m.get("role"), "content": text, "name": m.get("name"), "tool_calls": m.get("tool_calls"),
            "content_parts": None, **({"tool_call_id": m["tool_call_id"]} if m.get("tool_call_id") else {})}


def _parts_text(content: Any, param: str) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequestError(f"Invalid type for '{param}': expected a string or an array of content parts.",
                                  param=param)
    pieces = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            pieces.append(v.text(part.get("text"), f"{param}[{j}].text", v.MAX_INPUT_CHARS, required=True))
        elif kind == "image_url":
            url = (part.get("image_url") or {}).get("url")
            pieces.append(f"[image {url}]")
        elif kind in ("refusal",):
            pieces.append(part.get("refusal") or "")
        else:
            raise InvalidRequestError(f"Invalid value for '{param}[{j}].type': expected 'text' or 'image_url'.",
                                      param=f"{param}[{j}].type")
    return "\n".join(pieces)


def _chat_messages(messages: list, plan: TurnPlan) -> list[dict]:
    """The request's messages as the model's template reads them: system and developer as
    system, an assistant's tool calls and the tool results in the model's tool protocol."""
    protocol = plan.protocol
    items: list[WindowItem] = []
    system: list[dict] = []
    calls: dict[str, str] = {}
    for i, m in enumerate(messages):
        p = f"messages[{i}]"
        if not isinstance(m, dict):
            raise InvalidRequestError(f"Invalid type for '{p}': expected an object.", param=p)
        role = m.get("role")
        if role in ("system", "developer"):
            text = _parts_text(m.get("content"), f"{p}.content")
            if items:
                items.append(WindowItem(f"m{i}", "user", f"[{role}] {text}", 0))
            else:
                system.append({"role": "system", "content": text})
        elif role == "user":
            if m.get("content") is None:
                raise v.missing(f"{p}.content")
            items.append(WindowItem(f"m{i}", "user", _parts_text(m["content"], f"{p}.content"), 0))
        elif role == "assistant":
            text = _parts_text(m.get("content") or "", f"{p}.content")
            tool_calls = m.get("tool_calls") or []
            if not isinstance(tool_calls, list):
                raise InvalidRequestError(f"Invalid type for '{p}.tool_calls': expected an array.",
                                          param=f"{p}.tool_calls")
            parsed = []
            for j, call in enumerate(tool_calls):
                fn = call.get("function") if isinstance(call, dict) else None
                if not isinstance(call, dict) or not isinstance(call.get("id"), str):
                    raise v.missing(f"{p}.tool_calls[{j}].id")
                if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                    raise v.missing(f"{p}.tool_calls[{j}].function.name")
                calls[call["id"]] = fn["name"]
                parsed.append(ParsedCall("function", fn["name"], fn.get("arguments") or "{}"))
            if text:
                items.append(WindowItem(f"m{i}", "assistant", text, 0))
            if parsed:
                said, chat = protocol.calls_message(parsed)
                items.append(WindowItem(f"m{i}:calls", "assistant", said, 0, chat=chat))
            if not text and not parsed:
                items.append(WindowItem(f"m{i}", "assistant", "", 0))
        elif role == "tool":
            call_id = m.get("tool_call_id")
            if not isinstance(call_id, str):
                raise v.missing(f"{p}.tool_call_id")
            if call_id not in calls:
                raise InvalidRequestError(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
                    "with 'tool_calls'.", param=p)
            output = _parts_text(m.get("content") or "", f"{p}.content")
            text, chat = protocol.result_message(calls[call_id], output)
            items.append(WindowItem(f"m{i}", "user", text, 0, chat=chat))
        else:
            raise InvalidRequestError(f"Invalid value for '{p}.role': expected one of 'system', 'developer', "
                                      "'user', 'assistant' or 'tool'.", param=f"{p}.role")
    if system:
        system = [{"role": "system", "content": "\n\n".join(s["content"] for s in system)}]
    return render_items(system, items)


def _tools(value: Any) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequestError("Invalid type for 'tools': expected an array.", param="tools")
    for i, tool in enumerate(value):
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise InvalidRequestError(f"Invalid value for 'tools[{i}].type': expected 'function'.",
                                      param=f"tools[{i}].type")
    return v.tools(value)


def _tool_choice(value: Any, tools: list[dict]) -> Any:
    if value is None:
        return "auto"
    if value in ("none", "auto", "required"):
        return value
    if isinstance(value, dict) and value.get("type") == "function":
        name = (value.get("function") or {}).get("name")
        if not any(t["function"]["name"] == name for t in tools):
            raise InvalidRequestError(f"Invalid 'tool_choice': no function named '{name}' among the tools.",
                                      param="tool_choice")
        return {"type": "function", "function": {"name": name}}
    raise InvalidRequestError("Invalid 'tool_choice': expected 'none', 'auto', 'required' or a named function.",
                              param="tool_choice")


def _stop(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(s, str) and s for s in value):
        raise InvalidRequestError("Invalid 'stop': expected a string or an array of strings.", param="stop")
    if len(value) > MAX_STOP:
        raise InvalidRequestError(f"Invalid 'stop': array too long. Expected an array with maximum length {MAX_STOP}, "
                                  f"but got an array with length {len(value)} instead.", param="stop")
    return value


def _logit_bias(value: Any) -> dict[int, float] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequestError("Invalid type for 'logit_bias': expected an object.", param="logit_bias")
    out = {}
    for key, bias in value.items():
        try:
            token = int(key)
        except (TypeError, ValueError):
            raise InvalidRequestError(f"Invalid key in 'logit_bias': {key!r} is not a token id.",
                                      param="logit_bias") from None
        if isinstance(bias, bool) or not isinstance(bias, (int, float)) or not -100 <= bias <= 100:
            raise InvalidRequestError(f"Invalid value for 'logit_bias.{key}': expected a number from -100 to 100.",
                                      param="logit_bias")
        out[token] = float(bias)
    return out or None

