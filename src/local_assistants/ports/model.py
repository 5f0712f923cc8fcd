"""The chat-model port, as the run loop really uses a model: a template to lay out a
conversation, a tokenizer, and one generator method decoding after prompt tokens.

``adapters.llama.LlamaChatModel`` implements it over llama.cpp; ``testing.FakeChatModel``
with scripted turns and no GGUF, for fast tests of the run loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Protocol, Sequence, runtime_checkable

if TYPE_CHECKING:
    from ..core.prompt import ChatTemplate


@dataclass
class Completion:
    """What a model produced for one prompt."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" | "length" | "cancelled"
    cached_tokens: int = 0
    """Prompt tokens whose KV was reused (held in the sequence's slot, or restored from saved
    state), not evaluated again."""
    logprobs: list[dict] | None = None
    """With ``generate(logprobs=N)``, one entry per completion token, in order, in OpenAI's
    shape: ``{"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}
    x N]}``, the log-softmax of the model's raw logits (before temperature, top-p or a
    grammar); None when not asked for."""
    prompt_logprobs: list[dict] | None = None
    """With ``generate(prompt_logprobs=N)``, one entry per prompt token, in order, in the shape
    of ``logprobs``: each token's log-softmax given the tokens before it (raw logits), with the
    N most likely tokens at its position. The first prompt token has nothing before it: its
    entry's ``logprob`` and ``top_logprobs`` are None (as OpenAI's legacy ``echo`` shows
    it). None when not asked for."""


class Generation:
    """Iterates text pieces as they are decoded; ``completion`` is set when done."""

    def __init__(self, pieces: Iterator[str]):
        self._pieces = pieces
        self.completion: Completion | None = None

    def __iter__(self) -> Iterator[str]:
        return self._pieces

    def close(self) -> None:
        """Stop decoding now: the turn leaves the model's batch at its next step (a run that
        stopped reading must not go on taking a place in it)."""
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()


@runtime_checkable
class ChatModel(Protocol):
    """A loaded local model.

    ``name`` keys what is counted per tokenizer (a thread's token counts); ``sampling`` is
    the model's recommended sampling (``temperature``, ``top_p``...), for runs that set none.
    """

    name: str
    sampling: dict

    @property
    def n_ctx(self) -> int: ...

    @property
    def template(self) -> "ChatTemplate":
        """How the model lays out a conversation (and whether it declares tools itself)."""
        ...

    @property
    def json_object_grammar(self) -> str:
        """GBNF for any JSON object (``response_format: json_object``)."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def tokenize_prompt(self, prompt: str) -> list[int]:
        """The tokens of a formatted prompt, a leading BOS token added when the model wants one."""
        ...

    def format(self, messages: Sequence[dict], tools: Sequence[dict] | None = None) -> str:
        """The conversation as the model's template lays it out, ready for the assistant's turn."""
        ...

    def generate(self, prompt_tokens: list[int], *, max_tokens: int, temperature: float = 0.2,
                 top_p: float = 1.0, grammar: str | None = None, stop: Sequence[str] = (),
                 should_stop: Callable[[], bool] | None = None,
                 release_grammar: Callable[[str], bool] | None = None,
                 repeat_penalty: float | None = None, logprobs: int | None = None,
                 seed: int | None = None, presence_penalty: float = 0.0, frequency_penalty: float = 0.0,
                 logit_bias: dict[int, float] | None = None,
                 prompt_logprobs: int | None = None) -> Generation:
        """Decode up to ``max_tokens`` after ``prompt_tokens``: the returned ``Generation``
        yields text pieces, then holds the ``Completion``.  ``grammar`` (GBNF) constrains the
        output until ``release_grammar(text so far)`` is true; ``should_stop`` is polled
        between tokens (the completion then ends ``cancelled``); a ``stop`` string ends it
        ``stop``, cut from the text.  ``logprobs`` (0..20): record each token's logprob and
        its ``logprobs`` most likely alternatives (``Completion.logprobs``); None records
        nothing.

        ``seed``: this generation's own random draws (same seed, prompt and options, same
        text, alone or batched with others); None: the model's seed.  ``presence_penalty``
        and ``frequency_penalty`` (-2..2, OpenAI's): lower the logits of tokens already
        generated, once / per time each appeared.  ``logit_bias`` (token id -> -100..100):
        added to those tokens' logits before any other sampling step.
        ``prompt_logprobs`` (0..20): score the prompt itself (``Completion.prompt_logprobs``,
        for legacy completions' ``echo``); ``max_tokens=0`` then scores without generating."""
        ...

    def schema_to_grammar(self, schema: dict) -> str:
        """GBNF for a JSON schema."""
        ...

    def load(self) -> None:
        """Make the model ready (a no-op once loaded)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class ModelSource(Protocol):
    """Models by name (``services.models.ModelPool``: a name resolves to a file, loaded once)."""

    def get(self, name: str) -> ChatModel: ...
