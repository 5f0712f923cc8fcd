"""A chat model for tests: the ChatModel port with scripted turns, no GGUF, no llama.cpp.

``FakeChatModel`` says the texts it is given, one turn per ``generate`` call, so the
run loop (answers, tool calls, requires_action, code and file search) can be tested in
milliseconds.  Its tokenizer is one token per character (a prompt's tokens are its
characters' code points), its template ChatML unless another is given: counts and
windows are exact and easy to reason about.  Asked for logprobs, it is sure of every piece
(logprob 0.0, the alternatives far behind), and of every prompt character after the first
when asked for prompt logprobs; sampling options it cannot honour (seed, penalties, logit
bias) are checked and recorded in ``calls`` when given; its cached tokens are the longest prefix a prompt
shares with an earlier one, as a prefix cache would hold.  The real model keeps its own tests; this
stands beside them, never instead (see ``tests/services/test_executor.py``).
"""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

from .core.prompt import CHATML, ChatTemplate
from .ports import Completion, Generation

ANY_JSON_OBJECT = 'root ::= "{" [^}]* "}"'


class FakeChatModel:
    """Scripted turns (``script``, consumed in order); records what it was asked.

    A turn is a text, or a function of the prompt (as text) returning one.  A run that asks
    for more turns than scripted fails (``LookupError``), as a broken model would fail it.
    ``piece`` is how many characters each streamed piece holds (one token each).
    """

    def __init__(self, script: Sequence[str | Callable[[str], str]] = (), *, name: str = "fake-model",
                 n_ctx: int = 32768, template: ChatTemplate | None = None, sampling: dict | None = None,
                 piece: int = 1):
        self.name = name
        self.sampling = dict(sampling or {})
        self.script = list(script)
        self.piece = piece
        self._n_ctx = n_ctx
        self._template = template or ChatTemplate(builtin=CHATML)
        self.prompts: list[str] = []
        """Each prompt it was given, as text."""
        self.calls: list[dict] = []
        """Each ``generate``'s options (``grammar``, ``max_tokens``, ``temperature``...)."""
        self.loaded = self.closed = False

    def say(self, *turns: str | Callable[[str], str]) -> None:
        """Replace the script: the next turns say these."""
        self.script[:] = list(turns)

    # -- the port ---------------------------------------------------------------
    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @property
    def template(self) -> ChatTemplate:
        return self._template

    @property
    def json_object_grammar(self) -> str:
        return ANY_JSON_OBJECT

    def count_tokens(self, text: str) -> int:
        return len(text)

    def tokenize_prompt(self, prompt: str) -> list[int]:
        return [ord(ch) for ch in prompt]

    def format(self, messages: Sequence[dict], tools: Sequence[dict] | None = None) -> str:
        return self.template.render(messages, add_generation_prompt=True, tools=tools)

    def generate(self, prompt_tokens: list[int], *, max_tokens: int, temperature: float = 0.2,
                 top_p: float = 1.0, grammar: str | None = None, stop: Sequence[str] = (),
                 should_stop: Callable[[], bool] | None = None,
                 release_grammar: Callable[[str], bool] | None = None,
                 repeat_penalty: float | None = None, logprobs: int | None = None,
                 seed: int | None = None, presence_penalty: float = 0.0, frequency_penalty: float = 0.0,
                 logit_bias: dict[int, float] | None = None,
                 prompt_logprobs: int | None = None) -> Generation:
        for name, value in (("logprobs", logprobs), ("prompt_logprobs", prompt_logprobs)):
            if value is not None and not 0 <= value <= 20:
                raise ValueError(f"{name} must be between 0 and 20, not {value}")
        for name, value in (("presence_penalty", presence_penalty), ("frequency_penalty", frequency_penalty)):
            if not -2.0 <= value <= 2.0:
                raise ValueError(f"{name} must be between -2 and 2, not {value}")
        if logit_bias and not all(-100.0 <= v <= 100.0 for v in logit_bias.values()):
            raise ValueError("logit_bias values must be between -100 and 100")
        prompt = "".join(chr(t) for t in prompt_tokens)
        cached = max((_common_prefix(prompt, earlier) for earlier in self.prompts), default=0)
        self.prompts.append(prompt)
        call = dict(max_tokens=max_tokens, temperature=temperature, top_p=top_p, grammar=grammar,
                    stop=list(stop), repeat_penalty=repeat_penalty)
        options = dict(logprobs=logprobs, seed=seed, logit_bias=logit_bias, prompt_logprobs=prompt_logprobs)
        call.update({k: v for k, v in options.items() if v is not None})
        call.update({k: v for k, v in (("presence_penalty", presence_penalty),
                                       ("frequency_penalty", frequency_penalty)) if v})
        self.calls.append(call)
        if not self.script:
            raise LookupError(f"{self.name}: no scripted turn left")
        turn = self.script.pop(0)
        text = turn(prompt) if callable(turn) else turn
        gen = Generation(iter(()))
        # The last prompt token is evaluated again, as the engine does, for the first token's logits.
        gen._pieces = self._decode(gen, text, len(prompt_tokens), max_tokens, should_stop,
                                   cached=min(cached, max(0, len(prompt_tokens) - 1)), logprobs=logprobs)
        if prompt_logprobs is not None:  # scored whole, as the engine does: nothing held
            gen._pieces = self._scored(gen, gen._pieces, prompt, prompt_logprobs)
        return gen

    def schema_to_grammar(self, schema: dict) -> str:
        return ANY_JSON_OBJECT

    def load(self) -> None:
        self.loaded = True

    def close(self) -> None:
        self.closed = True

    # -------------------------------------------------------------------------------
    def _decode(self, gen: Generation, text: str, prompt_tokens: int, max_tokens: int,
                should_stop: Callable[[], bool] | None, *, cached: int = 0,
                logprobs: int | None = None) -> Iterator[str]:
        """As the llama adapter decodes: a piece, then the token limit, then ``should_stop``."""
        said, finish = 0, "stop"
        if max_tokens <= 0 and text:
            finish = "length"
        while said < len(text) and said < max_tokens:
            piece = text[said:min(said + self.piece, max_tokens)]
            said += len(piece)
            yield piece
            if said >= len(text):
                break
            if said >= max_tokens:
                finish = "length"
                break
            if should_stop is not None and should_stop():
                finish = "cancelled"
                break
        gen.completion = Completion(text[:said], prompt_tokens, said, finish, cached_tokens=cached,
                                    logprobs=None if logprobs is None else [_sure(ch, logprobs) for ch in text[:said]])


    @staticmethod
    def _scored(gen: Generation, pieces: Iterator[str], prompt: str, top: int) -> Iterator[str]:
        yield from pieces
        entries = [{**_sure(ch, top), "logprob": None, "top_logprobs": None} if i == 0 else _sure(ch, top)
                   for i, ch in enumerate(prompt)]
        gen.completion.prompt_logprobs = entries
        gen.completion.cached_tokens = 0


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _sure(token: str, top: int) -> dict:
    """A logprobs entry (OpenAI's shape) for a token the model is sure of: logprob 0.0, the
    ``top`` most likely being itself, then other letters far behind."""
    def entry(piece: str, logprob: float) -> dict:
        return {"token": piece, "logprob": logprob, "bytes": list(piece.encode("utf-8", "replace"))}

    others = [ch for ch in "abcdefghijklmnopqrstuvwxyz" if ch != token][:max(0, top - 1)]
    alternatives = [entry(token, 0.0)] + [entry(ch, -100.0 * k) for k, ch in enumerate(others, 1)]
    return {**entry(token, 0.0), "top_logprobs": alternatives[:top]}
