"""Legacy completions (``/v1/completions``): raw text after a raw prompt, on the engine
every run uses, with what likelihood-based evaluation needs: ``echo`` with
``logprobs`` scores the prompt's own tokens (``max_tokens: 0`` scores without
generating); ``suffix`` is filled in the middle where the model has FIM tokens."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ..core import validation as v
from ..errors import InvalidRequestError
from ..ids import Clock, new_id, now_s, system_clock
from ..ports import ChatModel, ModelSource
from .chat_completions import FINGERPRINT, MAX_N, _logit_bias, _stop, decode_together, stream_flags

BODY_FIELDS = frozenset({
    "model", "prompt", "max_tokens", "echo", "logprobs", "stop", "n", "best_of", "stream", "stream_options",
    "suffix", "temperature", "top_p", "seed", "presence_penalty", "frequency_penalty", "logit_bias", "user",
})
DEFAULT_MAX_TOKENS = 16  # OpenAI's default for completions
MAX_PROMPTS = 2048
FIM_STYLES = (("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),  # Qwen2.5-Coder
              ("<fim_prefix>", "<fim_suffix>", "<fim_middle>"))  # StarCoder's, SmolLM2's


@dataclass
class CompletionRequest:
    model: ChatModel
    model_name: str
    prompts: list[list[int]]
    n: int
    max_tokens: int
    echo: bool
    logprobs: int | None
    stop: list[str]
    sampling: dict
    stream: bool
    include_usage: bool


def n_vocab(model) -> int | None:
    """The model's vocabulary size, where the model tells it (token prompts are checked against it)."""
    size = getattr(model, "n_vocab", None)
    if callable(size):
        size = size()
    if size is None and hasattr(model, "llm"):
        size = model.llm.n_vocab()
    return size


class CompletionsService:
    def __init__(self, models: ModelSource, *, check_model: Callable[[str], None], clock: Clock = system_clock):
        self.models = models
        self.check_model = check_model
        self.clock = clock

    def prepare(self, body: dict) -> CompletionRequest:
        v.refuse_unknown(body, BODY_FIELDS)
        name = v.text(body.get("model"), "model", 256, required=True)
        self.check_model(name)
        model = self.models.get(name)
        prompts = self._prompts(model, body.get("prompt"), body.get("suffix"))
        n = v.positive_int(body.get("n"), "n", 1) or 1
        best_of = v.positive_int(body.get("best_of"), "best_of", 1)
        if n > MAX_N:
            raise InvalidRequestError(f"Invalid 'n': expected a value <= {MAX_N}, but got {n} instead.", param="n")
        if best_of is not None and best_of != n:
            raise InvalidRequestError("'best_of' other than 'n' is not supported here: every choice is returned.",
                                      param="best_of")
        max_tokens = body.get("max_tokens")
        if max_tokens is None:
            max_tokens = DEFAULT_MAX_TOKENS
        elif isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0:
            raise InvalidRequestError("Invalid 'max_tokens': expected an integer of at least 0.", param="max_tokens")
        echo = body.get("echo")
        if echo is not None and not isinstance(echo, bool):
            raise InvalidRequestError("Invalid type for 'echo': expected a boolean.", param="echo")
        logprobs = body.get("logprobs")
        if logprobs is not None and (isinstance(logprobs, bool) or not isinstance(logprobs, int)
                                     or not 0 <= logprobs <= 5):
            raise InvalidRequestError("Invalid 'logprobs': expected an integer from 0 to 5.", param="logprobs")
        longest = max(len(p) for p in prompts)
        if longest + max_tokens > model.n_ctx:
            raise InvalidRequestError(
                f"This model's maximum context length is {model.n_ctx} tokens, however you requested "
                f"{longest + max_tokens} tokens ({longest} in your prompt; {max_tokens} for the completion). "
                "Please reduce your prompt; or completion length.", param="prompt", code="context_length_exceeded")
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InvalidRequestError("Invalid type for 'seed': expected an integer.", param="seed")
        if seed is None and n > 1:
            seed = random.randrange(1 << 30)
        extra = {"seed": seed,
                 "presence_penalty": v.number(body.get("presence_penalty"), "presence_penalty", -2, 2),
                 "frequency_penalty": v.number(body.get("frequency_penalty"), "frequency_penalty", -2, 2),
                 "logit_bias": _logit_bias(body.get("logit_bias"))}
        temperature = v.number(body.get("temperature"), "temperature", 0, 2)
        top_p = v.number(body.get("top_p"), "top_p", 0, 1)
        stream, include_usage = stream_flags(body)
        v.text(body.get("user"), "user", 512)
        return CompletionRequest(
            model=model, model_name=name, prompts=prompts, n=n, max_tokens=max_tokens, echo=bool(echo),
            logprobs=logprobs, stop=_stop(body.get("stop")),
            sampling={"temperature": 1.0 if temperature is None else temperature,
                      "top_p": 1.0 if top_p is None else top_p,
                      "extra": {k: val for k, val in extra.items()
                                if val is not None and (k == "seed" or val != 0.0)}},
            stream=stream, include_usage=include_usage)

    def _prompts(self, model: ChatModel, value: Any, suffix: Any) -> list[list[int]]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            raise InvalidRequestError("Invalid 'prompt': expected a string, an array of strings, an array of tokens "
                                      "or an array of token arrays.", param="prompt")
        if all(isinstance(x, int) and not isinstance(x, bool) for x in value):
            value = [value]
        if len(value) > MAX_PROMPTS:
            raise InvalidRequestError(f"Invalid 'prompt': at most {MAX_PROMPTS} prompts.", param="prompt")
        fim = None
        if suffix is not None:
            v.text(suffix, "suffix", v.MAX_INPUT_CHARS)
            fim = self._fim(model)
            if fim is None:
                raise InvalidRequestError("'suffix' is not supported by this model: it has no fill-in-the-middle "
                                          "tokens.", param="suffix")
        size = n_vocab(model)
        out = []
        for i, p in enumerate(value):
            if isinstance(p, str):
                v.text(p, f"prompt[{i}]", v.MAX_INPUT_CHARS)
                text = f"{fim[0]}{p}{fim[1]}{suffix}{fim[2]}" if fim is not None else p
                tokens = model.tokenize_prompt(text)
                if not tokens:  # a model without a BOS token has nothing to decode after
                    raise InvalidRequestError(f"Invalid 'prompt[{i}]': the prompt is empty.", param=f"prompt[{i}]")
                out.append(tokens)
            elif isinstance(p, list) and p and all(isinstance(t, int) and not isinstance(t, bool) for t in p):
                if size is not None and any(not 0 <= t < size for t in p):
                    raise InvalidRequestError(f"Invalid 'prompt[{i}]': token ids must be from 0 to {size - 1}.",
                                              param=f"prompt[{i}]")
                if suffix is not None:
                    raise InvalidRequestError("'suffix' needs text prompts.", param="suffix")
                out.append(list(p))
            else:
                raise InvalidRequestError(f"Invalid 'prompt[{i}]': expected a string or a non-empty array of "
                                          "tokens.", param=f"prompt[{i}]")
        return out

    @staticmethod
    def _fim(model: ChatModel) -> tuple[str, str, str] | None:
        """The model's fill-in-the-middle tokens (each one token of its vocabulary), if it has any."""
        bare = len(model.tokenize_prompt(""))
        for style in FIM_STYLES:
            if all(len(model.tokenize_prompt(t)) == bare + 1 for t in style):
                return style
        return None

    # -- decoding ----------------------------------------------------------------------------
    def _generations(self, req: CompletionRequest) -> Iterator[tuple[int, str | None, object]]:
        """Every prompt's n choices decoded at once (``decode_together``), choice
        ``prompt * n + i`` drawing with ``seed`` + i."""

        def start(prompt: list[int], i: int):
            extra = dict(req.sampling["extra"])
            if "seed" in extra:
                extra["seed"] += i
            if req.logprobs is not None:
                extra["logprobs"] = req.logprobs
            if req.echo:
                extra["prompt_logprobs"] = req.logprobs or 0
            return lambda should_stop: req.model.generate(
                prompt, max_tokens=req.max_tokens, temperature=req.sampling["temperature"],
                top_p=req.sampling["top_p"], stop=req.stop, should_stop=should_stop, repeat_penalty=1.0, **extra)

        return decode_together([(p * req.n + i, start(prompt, i))
                                for p, prompt in enumerate(req.prompts) for i in range(req.n)])

    def create(self, req: CompletionRequest) -> dict:
        ends: dict[int, object] = {}
        for index, piece, end in self._generations(req):
            if end is not None:
                ends[index] = end
        choices = [self._choice(req, index, ends[index]) for index in sorted(ends)]
        return {"id": "cmpl-" + new_id("call")[5:], "object": "text_completion", "created": now_s(self.clock),
                "model": req.model_name, "choices": choices, "usage": _usage(req, ends),
                "system_fingerprint": FINGERPRINT}

    def stream(self, req: CompletionRequest) -> Iterator[dict]:
        cid, created = "cmpl-" + new_id("call")[5:], now_s(self.clock)

        def chunk(choice: dict) -> dict:
            return {"id": cid, "object": "text_completion", "created": created, "model": req.model_name,
                    "system_fingerprint": FINGERPRINT, "choices": [choice]}

        ends: dict[int, object] = {}
        for index, piece, end in self._generations(req):
            if piece is not None:
                if piece:
                    yield chunk({"index": index, "text": piece, "logprobs": None, "finish_reason": None})
                continue
            ends[index] = end
            done = self._choice(req, index, end)
            yield chunk({"index": index, "text": "", "logprobs": done["logprobs"],
                         "finish_reason": done["finish_reason"]})
        if req.include_usage:
            yield {"id": cid, "object": "text_completion", "created": created, "model": req.model_name,
                   "system_fingerprint": FINGERPRINT, "choices": [], "usage": _usage(req, ends)}

    def _choice(self, req: CompletionRequest, index: int, completion) -> dict:
        prompt_entries = (completion.prompt_logprobs or []) if req.echo else []
        echoed = "".join(_text(e) for e in prompt_entries) if req.echo else ""
        text = echoed + completion.text
        logprobs = None
        if req.logprobs is not None:
            entries = [*prompt_entries, *(completion.logprobs or [])]
            tokens, token_logprobs, tops, offsets = [], [], [], []
            at = 0
            for e in entries:
                piece = _text(e)
                tokens.append(piece)
                token_logprobs.append(e.get("logprob"))
                tops.append({_text(t): t["logprob"] for t in e.get("top_logprobs") or []}
                            if e.get("logprob") is not None else None)
                offsets.append(at)
                at += len(piece)
            logprobs = {"tokens": tokens, "token_logprobs": token_logprobs, "top_logprobs": tops,
                        "text_offset": offsets}
        finish = "length" if completion.finish_reason == "length" else "stop"
        return {"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish}


def _text(entry: dict) -> str:
    raw = entry.get("bytes")
    return bytes(raw).decode("utf-8", errors="replace") if raw is not None else entry.get("token", "")


def _usage(req: CompletionRequest, ends: dict[int, object]) -> dict:
    prompt = sum(len(p) for p in req.prompts)
    completion = sum(e.completion_tokens for e in ends.values())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
