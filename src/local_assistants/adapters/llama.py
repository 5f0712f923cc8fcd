"""The ChatModel port (``ports.model``) over llama-cpp-python.

One model per GGUF file, loaded lazily and kept warm. Its ``Llama`` gives the vocabulary
(tokens, text, template); generations decode together in one batch engine
(``adapters/llama_batch.py``: a context of ``slots`` sequences, one decode step for all).

KV prefix reuse: a sequence's slot keeps what it holds after its turn, and a new prompt
takes the slot sharing its longest prefix. A slot handed to another conversation saves
its state first into a small LRU (bounded in bytes) keyed by token sequence; a prompt
whose longest known prefix is saved there is restored from it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import threading
from pathlib import Path
from typing import Callable, Iterator, Sequence

from ..core.prompt import ChatTemplate
from ..errors import InvalidRequestError, ModelError
from ..ports import Generation
from .kv_states import StateCache
from .llama_batch import BatchEngine, Request, SamplerSpec, pieces
from .token_text import TokenText

log = logging.getLogger(__name__)


class _NoRedirect:
    """Stands in for llama-cpp-python's ``suppress_stdout_stderr``, which, with
    ``verbose=False``, points the whole process's file descriptors 1 and 2 at /dev/null
    while a model loads: every thread's output (the server's start line, its access log)
    was lost meanwhile. llama.cpp is silenced through its log callback instead."""

    def __init__(self, disable: bool = True):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_LLAMA_LOG = logging.getLogger("llama_cpp")
# ggml_log_level as the vendored llama.cpp defines it (llama-cpp-python's own comment is older):
# NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5. Its INFO is loading chatter: DEBUG here;
# its warnings are about model files' quirks (Qwen's "control-looking token" at every load): INFO.
_LEVELS = {0: logging.DEBUG, 1: logging.DEBUG, 2: logging.DEBUG, 3: logging.INFO, 4: logging.ERROR}
_log_callback = None  # kept referenced: llama.cpp holds a pointer to it
_CUT_SHORT = re.compile(r"compute status: 1$|graph_compute_async failed with error 1$|failed to decode, ret = 2$"
                        r"|removing memory module entries for seq_id")
"""What llama.cpp says of a step the batch engine cut short on purpose (GGML_STATUS_ABORTED
is 1, llama_decode's "aborted" 2): DEBUG, not errors."""


def quiet_llama_cpp() -> None:
    """llama.cpp's own log to Python logging (``llama_cpp`` logger; its chatter at DEBUG),
    never by redirecting the process's file descriptors. Idempotent."""
    global _log_callback
    if _log_callback is not None:
        return
    import llama_cpp
    from llama_cpp import _internals, llama as llama_module, llama_chat_format

    for module in (llama_module, _internals, llama_chat_format):
        module.suppress_stdout_stderr = _NoRedirect
    last = [logging.DEBUG]

    @llama_cpp.llama_log_callback
    def forward(level, text, user_data):
        line = text.decode("utf-8", "replace").rstrip("\n")
        level = last[0] if level == 5 else _LEVELS.get(level, logging.DEBUG)  # 5: continues the last line
        if _CUT_SHORT.search(line):
            level = logging.DEBUG
        last[0] = level
        if _LLAMA_LOG.isEnabledFor(level):
            _LLAMA_LOG.log(level, "%s", line)

    _log_callback = forward
    llama_cpp.llama_log_set(forward, ctypes.c_void_p(0))


class LlamaChatModel:
    """A GGUF model behind the ChatModel port."""

    def __init__(self, path: Path, *, name: str, chat_format: str | None = None, n_ctx: int = 8192,
                 n_threads: int = 0, n_gpu_layers: int = 0, seed: int = 0,
                 kv_cache_bytes: int = 1 << 30, repeat_penalty: float = 1.1, sampling: dict | None = None,
                 slots: int = 4, prefill_chunk: int = 64, n_threads_batch: int = 0):
        self.path = Path(path)
        self.name = name
        self.chat_format = chat_format
        self.requested_ctx = n_ctx
        # 0: half the cores, llama-cpp-python's own default. Decode threads spin at
        # barriers, so they must not compete with the server and client threads:
        # on 2 cores, 1 thread decoded 127 tokens/s through the server, 2 threads 62.
        self.n_threads = n_threads or max(1, (os.cpu_count() or 2) // 2)
        # Steps of several tokens (a prompt, several sequences' next tokens) use all the
        # cores: the work is big enough to pay for the threads' barriers.
        self.n_threads_batch = n_threads_batch or max(1, os.cpu_count() or 1)
        self.n_gpu_layers = n_gpu_layers
        self.slots = max(1, slots)
        """Sequences decoded together (one per run that can be in a turn at once)."""
        self.prefill_chunk = prefill_chunk
        self.seed = seed
        self.sampling = dict(sampling or {})
        """The model's recommended sampling, for runs that set none (see CatalogModel.sampling)."""
        self.repeat_penalty = self.sampling.get("repeat_penalty", repeat_penalty)
        self.top_k = int(self.sampling.get("top_k", 40))  # 40: llama.cpp's default
        self.states = StateCache(kv_cache_bytes)
        self.grammar_first = True
        """Grammar-constrained decoding in llama.cpp's order (see adapters/grammar_first.py)."""
        self.lock = threading.RLock()
        self._llm = None
        self._engine: BatchEngine | None = None
        self._template: ChatTemplate | None = None
        self.stats = {"prefix_reused_tokens": 0, "prompt_tokens": 0, "restored_states": 0, "steps_cut_short": 0}

    # -- loading ------------------------------------------------------------
    @property
    def llm(self):
        if self._llm is None:
            self.load()
        return self._llm

    @property
    def engine(self) -> BatchEngine:
        if self._engine is None:
            self.load()
        return self._engine

    def load(self) -> None:
        with self.lock:
            if self._llm is not None:
                return
            if not self.path.is_file():
                raise ModelError(
                    f"Model file {self.path} is not there. Fetch it with "
                    f"`local-assistants models pull` or point at an existing .gguf file.",
                    code="model_not_found",
                )
            from llama_cpp import Llama

            quiet_llama_cpp()
            try:
                # Its own context only serves direct use (a benchmark's raw baseline): small.
                llm = Llama(
                    model_path=str(self.path),
                    n_ctx=min(self.requested_ctx, 1024),
                    n_threads=self.n_threads,
                    n_gpu_layers=self.n_gpu_layers,
                    seed=self.seed,
                    verbose=False,
                )
            except Exception as err:  # llama.cpp reports a bad file as ValueError/RuntimeError
                raise ModelError(f"Could not load model {self.path.name}: {err}") from err
            meta = llm.metadata
            bos = llm.detokenize([llm.token_bos()], special=True).decode("utf-8", "ignore") \
                if llm.token_bos() >= 0 else ""
            eos = llm.detokenize([llm.token_eos()], special=True).decode("utf-8", "ignore") \
                if llm.token_eos() >= 0 else ""
            try:
                self._template = ChatTemplate.from_metadata(meta, chat_format=self.chat_format, bos_token=bos,
                                                            eos_token=eos)
                self._engine = BatchEngine(llm, slots=self.slots, n_ctx_slot=self.requested_ctx,
                                           n_threads=self.n_threads,
                                           n_threads_batch=self.n_threads_batch,
                                           states=self.states, stats=self.stats, seed=self.seed,
                                           prefill_chunk=self.prefill_chunk)
            except Exception:
                llm.close()
                raise
            self._add_bos = meta.get("tokenizer.ggml.add_bos_token", "true") != "false"
            self._bos_text = bos
            self._llm = llm  # last: the model counts as loaded once all of it is ready
            log.info("loaded %s (%d sequences of %d tokens, threads=%d/%d, gpu_layers=%d)", self.path.name,
                     self.slots, self.requested_ctx, self.n_threads, self.n_threads_batch,
                     self.n_gpu_layers)

    @property
    def template(self) -> ChatTemplate:
        self.llm  # known once loaded
        return self._template

    @property
    def n_ctx(self) -> int:
        """The context of one sequence."""
        return self.engine.n_ctx_slot

    # -- tokens -------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def tokenize_prompt(self, prompt: str) -> list[int]:
        llm = self.llm  # loaded first: whether the model wants a BOS token is known once it is
        add_bos = self._add_bos and not (self._bos_text and prompt.startswith(self._bos_text))
        return llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)

    def format(self, messages: Sequence[dict], tools: Sequence[dict] | None = None) -> str:
        return self.template.render(messages, add_generation_prompt=True, tools=tools)

    # -- generation ---------------------------------------------------------
    def generate(self, prompt_tokens: list[int], *, max_tokens: int, temperature: float = 0.2,
                 top_p: float = 1.0, grammar: str | None = None, stop: Sequence[str] = (),
                 should_stop: Callable[[], bool] | None = None,
                 release_grammar: Callable[[str], bool] | None = None,
                 repeat_penalty: float | None = None, logprobs: int | None = None,
                 seed: int | None = None, presence_penalty: float = 0.0, frequency_penalty: float = 0.0,
                 logit_bias: dict[int, float] | None = None,
                 prompt_logprobs: int | None = None) -> Generation:
        """Decode up to ``max_tokens`` after ``prompt_tokens``, streaming text pieces.

        ``grammar`` (GBNF) constrains the output; once ``release_grammar(text so far)``
        is true, decoding goes on unconstrained (grammar sampling checks the whole
        vocabulary at every token, which roughly halves the decode rate).
        ``repeat_penalty`` overrides the model's until the grammar is released (tool
        calls repeat their own framing tokens, which a penalty would discourage).
        ``logprobs`` (0..20): each token's logprob and that many alternatives in
        ``Completion.logprobs``, from the raw logits.
        ``seed``: this generation's random draws (None: the model's ``seed``);
        ``presence_penalty``/``frequency_penalty`` (-2..2) and ``logit_bias`` (token id ->
        -100..100, applied first) go to llama.cpp's samplers of those names.
        ``prompt_logprobs`` (0..20): every prompt token's logprob given those before it
        (``Completion.prompt_logprobs``); the prompt is then evaluated whole, no prefix of it
        reused, and ``max_tokens=0`` scores it without generating.
        """
        for name, value in (("logprobs", logprobs), ("prompt_logprobs", prompt_logprobs)):
            if value is not None and not 0 <= value <= 20:
                raise InvalidRequestError(f"{name} must be between 0 and 20, not {value}.", param=name)
        for name, value in (("presence_penalty", presence_penalty), ("frequency_penalty", frequency_penalty)):
            if not -2.0 <= value <= 2.0:
                raise InvalidRequestError(f"{name} must be between -2 and 2, not {value}.", param=name)
        bias = None
        if logit_bias:
            bias = {}
            for token, value in logit_bias.items():
                if not -100.0 <= float(value) <= 100.0:
                    raise InvalidRequestError(f"logit_bias values must be between -100 and 100, not {value}.",
                                              param="logit_bias")
                bias[int(token)] = float(value)
        spec = SamplerSpec(temperature=temperature, top_p=top_p, top_k=self.top_k,
                           repeat_penalty=self.repeat_penalty if repeat_penalty is None else repeat_penalty,
                           grammar=grammar, grammar_first=self.grammar_first, released_penalty=self.repeat_penalty,
                           seed=None if seed is None else int(seed), presence_penalty=float(presence_penalty),
                           frequency_penalty=float(frequency_penalty), logit_bias=bias)
        gen = Generation(iter(()))

        def run() -> Iterator[str]:
            engine = self.engine  # this one until the turn ends, even if the model is closed meanwhile
            if bias and not all(0 <= token < engine.n_vocab for token in bias):
                raise InvalidRequestError(f"logit_bias names a token the model does not have (it has "
                                          f"{engine.n_vocab}).", param="logit_bias")
            detokenize = engine.llm.detokenize
            text = TokenText(lambda tokens, previous: detokenize(tokens, prev_tokens=previous), prompt_tokens,
                             list(stop) or self.template.stop)
            request = Request(list(prompt_tokens), max_tokens, spec, text, should_stop=should_stop,
                              release_grammar=release_grammar, logprobs=logprobs,
                              prompt_logprobs=prompt_logprobs)
            yield from pieces(engine, request)
            gen.completion = request.completion

        gen._pieces = run()
        return gen

    def schema_to_grammar(self, schema: dict) -> str:
        """GBNF for a JSON schema, by llama.cpp's own converter."""
        import json

        from llama_cpp.llama_grammar import json_schema_to_gbnf

        return json_schema_to_gbnf(json.dumps(schema))

    @property
    def json_object_grammar(self) -> str:
        from llama_cpp.llama_grammar import JSON_GBNF

        return JSON_GBNF

    def forget_cached(self) -> None:
        """Drop every kept KV state: the next prompt is evaluated from its first token."""
        self.states.entries.clear()
        self.states.size = 0
        if self._engine is not None:
            self._engine.forget()

    def close(self) -> None:
        """Free the model once the generations under way are done (a later one loads it
        again)."""
        with self.lock:
            engine, llm = self._engine, self._llm
            self._engine = self._llm = None
        if engine is not None:
            engine.close()
        if llm is not None:
            llm.close()


