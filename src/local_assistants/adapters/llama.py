"""The ChatModel port (``ports.model``) over llama-cpp-python.

One ``Llama`` per GGUF file, loaded lazily and kept warm; generation is
serialised by a lock (one context, one decode at a time).

KV prefix reuse: llama-cpp-python already reuses the common prefix of the
previous prompt that is still in the context.  So that reuse also holds when
threads interleave, the model state after each generation is kept in a small
LRU (bounded in bytes) keyed by its token sequence; before a generation the
longest matching saved prefix is restored when it beats what the context holds.
Only the KV state is kept (not llama-cpp-python's logits copy, which is 100 MB
at the default batch size): the next decode re-evaluates one token instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from ..core.prompt import ChatTemplate
from ..errors import ModelError
from ..ports import Completion, Generation

log = logging.getLogger(__name__)


@dataclass
class _Saved:
    tokens: tuple[int, ...]
    state: bytes


class StateCache:
    """LRU of model states keyed by token sequences, bounded in bytes."""

    def __init__(self, capacity_bytes: int):
        self.capacity = capacity_bytes
        self.entries: OrderedDict[tuple[int, ...], _Saved] = OrderedDict()
        self.size = 0

    def longest_prefix(self, tokens: Sequence[int]) -> tuple[_Saved | None, int]:
        best, best_len = None, 0
        for saved in self.entries.values():
            n = _common_prefix(saved.tokens, tokens)
            if n > best_len:
                best, best_len = saved, n
        if best is not None:
            self.entries.move_to_end(best.tokens)
        return best, best_len

    def put(self, saved: _Saved) -> None:
        old = self.entries.pop(saved.tokens, None)
        if old is not None:
            self.size -= len(old.state)
        # A state whose tokens extend an older entry's supersedes it.
        for key in [k for k in self.entries if len(k) < len(saved.tokens) and saved.tokens[: len(k)] == k]:
            self.size -= len(self.entries.pop(key).state)
        self.entries[saved.tokens] = saved
        self.size += len(saved.state)
        while self.size > self.capacity and len(self.entries) > 1:
            _, evicted = self.entries.popitem(last=False)
            self.size -= len(evicted.state)


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


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
        level = last[0] if level == 5 else _LEVELS.get(level, logging.DEBUG)  # 5: continues the last line
        last[0] = level
        if _LLAMA_LOG.isEnabledFor(level):
            _LLAMA_LOG.log(level, "%s", text.decode("utf-8", "replace").rstrip("\n"))

    _log_callback = forward
    llama_cpp.llama_log_set(forward, ctypes.c_void_p(0))


class LlamaChatModel:
    """A GGUF model behind the ChatModel port."""

    def __init__(self, path: Path, *, name: str, chat_format: str | None = None, n_ctx: int = 8192,
                 n_threads: int = 0, n_gpu_layers: int = 0, seed: int = 0,
                 kv_cache_bytes: int = 1 << 30, repeat_penalty: float = 1.1, sampling: dict | None = None):
        self.path = Path(path)
        self.name = name
        self.chat_format = chat_format
        self.requested_ctx = n_ctx
        # 0: half the cores, llama-cpp-python's own default. Decode threads spin at
        # barriers, so they must not compete with the server and client threads:
        # on 2 cores, 1 thread decoded 127 tokens/s through the server, 2 threads 62.
        self.n_threads = n_threads or max(1, (os.cpu_count() or 2) // 2)
        self.n_gpu_layers = n_gpu_layers
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
        self._template: ChatTemplate | None = None
        self.stats = {"prefix_reused_tokens": 0, "prompt_tokens": 0, "restored_states": 0}

    # -- loading ------------------------------------------------------------
    @property
    def llm(self):
        if self._llm is None:
            self.load()
        return self._llm

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
                self._llm = Llama(
                    model_path=str(self.path),
                    n_ctx=self.requested_ctx,
                    n_threads=self.n_threads,
                    n_gpu_layers=self.n_gpu_layers,
                    seed=self.seed,
                    verbose=False,
                )
            except Exception as err:  # llama.cpp reports a bad file as ValueError/RuntimeError
                raise ModelError(f"Could not load model {self.path.name}: {err}") from err
            meta = self._llm.metadata
            vocab = self._llm
            bos = vocab.detokenize([vocab.token_bos()], special=True).decode("utf-8", "ignore") \
                if vocab.token_bos() >= 0 else ""
            eos = vocab.detokenize([vocab.token_eos()], special=True).decode("utf-8", "ignore") \
                if vocab.token_eos() >= 0 else ""
            self._template = ChatTemplate.from_metadata(meta, chat_format=self.chat_format, bos_token=bos,
                                                        eos_token=eos)
            self._add_bos = meta.get("tokenizer.ggml.add_bos_token", "true") != "false"
            self._bos_text = bos
            log.info("loaded %s (n_ctx=%d, threads=%d, gpu_layers=%d)", self.path.name,
                     self._llm.n_ctx(), self.n_threads, self.n_gpu_layers)

    @property
    def template(self) -> ChatTemplate:
        self.llm  # known once loaded
        return self._template

    @property
    def n_ctx(self) -> int:
        return self.llm.n_ctx()

    # -- tokens -------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def tokenize_prompt(self, prompt: str) -> list[int]:
        add_bos = self._add_bos and not (self._bos_text and prompt.startswith(self._bos_text))
        return self.llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)

    def format(self, messages: Sequence[dict], tools: Sequence[dict] | None = None) -> str:
        return self.template.render(messages, add_generation_prompt=True, tools=tools)

    # -- generation ---------------------------------------------------------
    def generate(self, prompt_tokens: list[int], *, max_tokens: int, temperature: float = 0.2,
                 top_p: float = 1.0, grammar: str | None = None, stop: Sequence[str] = (),
                 should_stop: Callable[[], bool] | None = None,
                 release_grammar: Callable[[str], bool] | None = None,
                 repeat_penalty: float | None = None) -> Generation:
        """Decode up to ``max_tokens`` after ``prompt_tokens``, streaming text pieces.

        ``grammar`` (GBNF) constrains the output; once ``release_grammar(text so far)``
        is true, decoding goes on unconstrained (grammar sampling checks the whole
        vocabulary at every token, which roughly halves the decode rate).
        ``repeat_penalty`` overrides the model's until the grammar is released (tool
        calls repeat their own framing tokens, which a penalty would discourage).
        """
        gen = Generation(iter(()))
        gen._pieces = self._decode(gen, list(prompt_tokens), max_tokens, temperature, top_p, grammar,
                                   list(stop) or self.template.stop, should_stop, release_grammar,
                                   self.repeat_penalty if repeat_penalty is None else repeat_penalty)
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

    def _decode(self, gen: Generation, prompt: list[int], max_tokens: int, temperature: float,
                top_p: float, grammar_text: str | None, stop: list[str],
                should_stop: Callable[[], bool] | None,
                release_grammar: Callable[[str], bool] | None, penalty: float) -> Iterator[str]:
        with self.lock, self._grammar_sampling():
            llm = self.llm
            if len(prompt) + 1 > llm.n_ctx():
                raise ModelError(f"The prompt has {len(prompt)} tokens; the context holds {llm.n_ctx()}.")
            max_tokens = max(0, min(max_tokens, llm.n_ctx() - len(prompt)))
            self._restore_best_state(prompt)
            reused = _common_prefix(llm._input_ids[: llm.n_tokens].tolist(), prompt)
            self.stats["prefix_reused_tokens"] += reused
            self.stats["prompt_tokens"] += len(prompt)
            grammar = None
            if grammar_text:
                from llama_cpp import LlamaGrammar

                grammar = LlamaGrammar.from_string(grammar_text, verbose=False)
            llm.set_seed(self.seed)

            import llama_cpp as lc

            vocab = llm._model.vocab
            out_tokens: list[int] = []
            pending = b""  # bytes of an incomplete UTF-8 sequence
            held = ""  # text held back because it might begin a stop string
            text = ""
            finish = "length"
            if max_tokens == 0:
                gen.completion = Completion("", len(prompt), 0, "length")
                return
            tokens = llm.generate(prompt, temp=temperature, top_p=top_p, top_k=self.top_k, grammar=grammar,
                                  repeat_penalty=penalty)
            constrained = grammar is not None
            for token in _follow(lambda: tokens):
                if lc.llama_vocab_is_eog(vocab, token):
                    finish = "stop"
                    break
                out_tokens.append(token)
                prev = (prompt[-4:] + out_tokens[-5:-1])[-4:]  # enough context for leading spaces
                pending += llm.detokenize([token], prev_tokens=prev)
                try:
                    piece = pending.decode("utf-8")
                    pending = b""
                except UnicodeDecodeError:
                    piece = ""
                    if len(pending) > 8:  # not a split character: give up on it
                        piece, pending = pending.decode("utf-8", "replace"), b""
                held += piece
                cut = _find_stop(held, stop)
                if cut is not None:
                    held = held[:cut]
                    finish = "stop"
                    break
                safe = len(held) - _stop_prefix_len(held, stop)
                if safe > 0:
                    text += held[:safe]
                    yield held[:safe]
                    held = held[safe:]
                if len(out_tokens) >= max_tokens:
                    break
                if should_stop is not None and should_stop():
                    finish = "cancelled"
                    break
                if constrained and release_grammar is not None and release_grammar(text + held):
                    # Continue from the same context (the KV prefix is reused) without the grammar.
                    tokens.close()
                    tokens = llm.generate(prompt + out_tokens, temp=temperature, top_p=top_p, top_k=self.top_k,
                                          repeat_penalty=self.repeat_penalty)
                    constrained = False
            if held:
                text += held
                yield held
            self._save_state()
            gen.completion = Completion(text, len(prompt), len(out_tokens), finish)

    def _grammar_sampling(self):
        """A grammar checks the token sampled without it first (llama.cpp's order), unless
        ``grammar_first`` is off (the grammar then filters the whole vocabulary each step)."""
        if not self.grammar_first:
            return contextlib.nullcontext()
        from .grammar_first import grammar_first

        return grammar_first(self.llm)

    def _restore_best_state(self, prompt: list[int]) -> None:
        llm = self._llm
        in_context = _common_prefix(llm._input_ids[: llm.n_tokens].tolist(), prompt)
        saved, n = self.states.longest_prefix(prompt)
        if saved is None or n <= in_context:
            return
        buf = (ctypes.c_uint8 * len(saved.state)).from_buffer_copy(saved.state)
        import llama_cpp as lc

        if lc.llama_state_set_data(llm._ctx.ctx, buf, len(saved.state)) != len(saved.state):
            log.warning("could not restore a saved model state; evaluating the prompt in full")
            llm.reset()
            return
        llm.input_ids[: len(saved.tokens)] = saved.tokens
        llm.n_tokens = len(saved.tokens)
        llm._requires_eval = True
        self.stats["restored_states"] += 1

    def _save_state(self) -> None:
        llm = self._llm
        import llama_cpp as lc

        # Keyed by what the context really holds (the last sampled token is not evaluated).
        tokens = tuple(llm._input_ids[: llm.n_tokens].tolist())
        size = lc.llama_state_get_size(llm._ctx.ctx)
        buf = (ctypes.c_uint8 * size)()
        written = lc.llama_state_get_data(llm._ctx.ctx, buf, size)
        self.states.put(_Saved(tokens, bytes(memoryview(buf)[:written])))

    def close(self) -> None:
        with self.lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None


def _follow(current: Callable[[], Iterator[int]]) -> Iterator[int]:
    """Tokens from whichever generator ``current()`` names now (it may be swapped mid-way)."""
    while True:
        try:
            yield next(current())
        except StopIteration:
            return


def _find_stop(text: str, stops: Sequence[str]) -> int | None:
    hits = [text.find(s) for s in stops if s and s in text]
    return min(hits) if hits else None


def _stop_prefix_len(text: str, stops: Sequence[str]) -> int:
    """Length of the longest end of ``text`` that begins some stop string."""
    best = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                best = max(best, k)
                break
    return best
