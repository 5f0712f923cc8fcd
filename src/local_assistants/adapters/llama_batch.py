"""Continuous batching: several generations share each llama.cpp decode step.

One llama.cpp context holds ``slots`` sequences, each in a KV stream of its own
(``kv_unified`` off: a token attends to its own sequence only). One engine thread
loops: it admits waiting generations into free slots, builds one batch from every
decoding sequence's last token plus a chunk of newly arrived prompts, decodes it, and
samples each sequence with its own sampler (and grammar). A generation joins or leaves
between steps; a cancelled one leaves at the next step.

Prefill is chunked: while other sequences decode, a step takes at most
``prefill_chunk`` prompt tokens, so a long new prompt delays the others' next token by
a chunk's compute, not the whole prompt's.

A newcomer does not wait for the others: a generation whose first token is at most a
chunk away (its prompt mostly held already, or the last chunk of a long one) gets a step
of its own, the decoding sequences sitting that one short step out; and a step under way
when such a generation arrives is cut short (llama.cpp's abort callback; the step's
tokens are evaluated again next step). Sequences that decode never starve: once a step of
theirs is cut, their next step is not, so however fast newcomers come, they get a token at
least every other step of theirs.

KV prefix reuse: a finished sequence's slot keeps what it holds. A new generation takes
the free slot sharing the longest prefix with its prompt (a thread's follow-up turn finds
its own earlier turn); a slot handed to another prompt first saves its state into the
model's ``StateCache`` (by token sequence, bounded in bytes), and a prompt whose longest
known prefix is in that cache is restored from it into its slot.

Logprobs, when a generation asks for them: the logits row of its sequence is read before
its sampler runs, and the chosen token's log-softmax recorded with the most likely ones
(nothing is read for a generation that did not ask). Prompt logprobs (legacy completions'
``echo``) need a row for every prompt position: such a generation takes no held prefix (its
slot starts empty; nothing is restored) and its prefill chunks ask llama.cpp for every
position's logits, each row read right after its step.

Each generation's sampler is its own chain (llama.cpp's, as llama-cpp-python builds it): logit
bias first, then the penalties (repeat, frequency, presence), then greedy or top-k, typical,
top-p, min-p, temperature and a random draw seeded by the generation's seed (the model's when
it gives none): the same seed draws the same numbers whatever else is in the batch.
"""

from __future__ import annotations

import ctypes
import logging
import queue
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Sequence

from ..errors import ModelError
from ..ports import Completion
from .kv_states import Saved, common_prefix

log = logging.getLogger(__name__)

_END = object()


def _flag_reader():
    """A C function for llama.cpp's abort callback that returns the byte its data points at:
    ``strlen`` of a two-byte buffer is 0 or 1. A Python callback would take the GIL at
    every graph node of every step."""
    try:
        import llama_cpp as lc

        return ctypes.cast(ctypes.CDLL(None).strlen, lc.ggml_abort_callback)
    except (OSError, AttributeError):  # no C library to look it up in: steps are not cut short
        return None


@dataclass
class SamplerSpec:
    """How one generation samples (llama-cpp-python's chain, for the same tokens)."""

    temperature: float
    top_p: float
    top_k: int
    repeat_penalty: float
    grammar: str | None = None
    grammar_first: bool = True
    released_penalty: float = 1.0
    """The penalty once ``release_grammar`` frees the sequence of its grammar."""
    seed: int | None = None
    """The random draws' seed (llama.cpp's is 32 bits); None: the engine's."""
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: dict[int, float] | None = None
    """Token id -> added to its logit, before the other samplers."""


@dataclass
class Request:
    """One generation: a prompt, its limits and how its text is judged."""

    prompt: list[int]
    max_tokens: int
    sampler: SamplerSpec
    text: object  # TokenText
    should_stop: Callable[[], bool] | None = None
    release_grammar: Callable[[str], bool] | None = None
    logprobs: int | None = None
    """Alternatives to record with each token's logprob (0..20); None: no logprobs."""
    token_logprobs: list[dict] = field(default_factory=list)
    """One entry per token the text took (``Completion.logprobs``)."""
    prompt_logprobs: int | None = None
    """Alternatives to record with each prompt token's logprob (0..20); None: the prompt is
    not scored (and may reuse a held prefix)."""
    prompt_entries: list[dict] = field(default_factory=list)
    """One entry per prompt token scored so far (``Completion.prompt_logprobs``)."""
    cached_tokens: int = 0
    """Prompt tokens held at admission, not evaluated again."""
    out: "queue.SimpleQueue" = field(default_factory=queue.SimpleQueue)
    completion: Completion | None = None
    error: BaseException | None = None
    cancelled: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    arrived: float = field(default_factory=time.monotonic)

    def cancel(self) -> None:
        """Leave the batch at the next step (the reader stopped reading)."""
        self.cancelled = True

    def end(self, error: BaseException | None = None) -> None:
        """The generation is over (``error``: why it failed); its reader stops waiting."""
        self.error = error
        self.out.put(_END)
        self.done.set()


class _Slot:
    def __init__(self, seq_id: int):
        self.seq_id = seq_id
        self.tokens: list[int] = []
        """What this slot's KV stream holds, position by position."""
        self.request: Request | None = None
        self.todo: list[int] = []
        """Prompt tokens still to evaluate (prefill), then the one sampled token to feed."""
        self.sampler = None
        self.constrained = False
        self.generated = 0
        self.last_used = 0.0


class BatchEngine:
    """The decode loop of one model: ``submit(request)`` and read ``request.out``."""

    def __init__(self, llm, *, slots: int, n_ctx_slot: int, n_threads: int, n_threads_batch: int,
                 states, stats: dict, seed: int = 0, n_batch: int = 512, prefill_chunk: int = 64):
        import llama_cpp as lc
        from llama_cpp import _internals

        self.llm = llm
        self.slots_n = slots
        self.n_ctx_slot = n_ctx_slot
        self.n_batch = n_batch
        self.prefill_chunk = prefill_chunk
        self.states = states
        self.stats = stats
        self.seed = seed
        # llama-cpp-python's own choices for its context (flash attention off: on this CPU
        # it made each token at 2,760 tokens of context 1.7x slower), then the batch's.
        params = lc.llama_context_params.from_buffer_copy(llm.context_params)
        params.n_ctx = n_ctx_slot * slots
        params.n_batch = n_batch
        params.n_ubatch = n_batch
        params.n_seq_max = slots
        params.n_threads = n_threads
        params.n_threads_batch = n_threads_batch
        params.kv_unified = False
        self._abort_flag = ctypes.create_string_buffer(2)
        self._flag_reader = _flag_reader()
        if self._flag_reader is not None:
            params.abort_callback = self._flag_reader
            params.abort_callback_data = ctypes.cast(self._abort_flag, ctypes.c_void_p)
        self._abortable = False
        """The step under way (others decoding in it, their last step not cut) may be cut
        short for a newcomer."""
        self._cut_since_progress = False
        """A step of the decoding sequences was cut since they last got a token: the next one
        is not cut (a time bound instead refused newcomers right after a batch had grown,
        judging a step of eight by the last step of one)."""
        try:
            self.ctx = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
        except Exception as err:
            raise ModelError(f"Could not make a context of {slots} sequences x {n_ctx_slot} tokens: {err}") from err
        self.memory = lc.llama_get_memory(self.ctx.ctx)
        self.batch = lc.llama_batch_init(n_batch, 0, 1)
        self.n_vocab = llm.n_vocab()
        self.vocab = llm._model.vocab
        self._token_bytes: dict[int, bytes] = {}
        """Each token's piece, as logprobs show it (read once per token)."""
        self.slots = [_Slot(i) for i in range(slots)]
        self.waiting: deque[Request] = deque()
        self._chores: deque[tuple[Callable[[], None], threading.Event]] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"decode-{llm.model_path.rsplit('/', 1)[-1]}",
                                        daemon=True)
        self._thread.start()

    # -- the readers' side ----------------------------------------------------
    def submit(self, request: Request) -> None:
        if len(request.prompt) + 1 > self.n_ctx_slot:
            raise ModelError(f"The prompt has {len(request.prompt)} tokens; the context holds {self.n_ctx_slot}.")
        request.max_tokens = max(0, min(request.max_tokens, self.n_ctx_slot - len(request.prompt)))
        with self._cond:
            if self._closed:
                raise ModelError("The model was closed.")
            self.waiting.append(request)
            if (self._abortable and len(self.waiting) <= self.slots_n - self.busy
                    and self._near(request.prompt, whole=request.prompt_logprobs is not None)):
                self.cut_step()  # a slot is free for it: its own step comes next
            self._cond.notify()

    def cut_step(self) -> bool:
        """Stop the step under way, if it may be cut short (others are decoding in it): no
        token of it is kept, they are all decoded again in the next step."""
        with self._cond:
            if not self._abortable:
                return False
            self._abort_flag[0] = 1
            self._abortable = False
            return True

    def _near(self, prompt: list[int], *, whole: bool = False) -> bool:
        """Whether a prompt's first token is at most a chunk away (what a free slot or a saved
        state holds of it; nothing when the ``whole`` prompt is evaluated). Asked while the
        engine thread is inside a decode."""
        need = len(prompt) - self.prefill_chunk
        if whole:
            return need <= 0
        held = [s.tokens for s in self.slots if s.request is None] + list(self.states.entries)
        return need <= 0 or any(common_prefix(tokens, prompt) >= need for tokens in held)

    def forget(self) -> None:
        """Empty every free slot (a cold start follows), between steps."""
        import llama_cpp as lc

        def chore():
            for slot in self.slots:
                if slot.request is None and slot.tokens:
                    lc.llama_memory_seq_rm(self.memory, slot.seq_id, -1, -1)
                    slot.tokens = []

        done = threading.Event()
        with self._cond:
            if self._closed:
                return
            self._chores.append((chore, done))
            self._cond.notify()
        done.wait()

    @contextmanager
    def paused(self):
        """No step starts while this is held; the generations submitted meanwhile are admitted
        together when it ends (a batch of a known make-up, for tests and measurements)."""
        holding, release, done = threading.Event(), threading.Event(), threading.Event()

        def chore():
            holding.set()
            release.wait()

        with self._cond:
            if self._closed:
                raise ModelError("The model was closed.")
            self._chores.append((chore, done))
            self._cond.notify()
        while not holding.wait(0.01):
            if done.is_set():  # the engine stopped before it came to the chore
                raise ModelError("The model was closed.")
        try:
            yield
        finally:
            release.set()

    @property
    def busy(self) -> int:
        """Sequences decoding now."""
        return sum(1 for s in self.slots if s.request is not None)

    def close(self) -> None:
        """Finish the generations already submitted, then free the context (later ones are
        refused: the model makes a new engine for them)."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()
        import llama_cpp as lc

        lc.llama_batch_free(self.batch)
        self.ctx.close()

    # -- the engine thread ----------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as err:  # never leave a reader waiting on a dead engine
            log.exception("the decode engine stopped")
            with self._cond:
                self._closed = True
                leaving = list(self.waiting) + [s.request for s in self.slots if s.request is not None]
                self.waiting.clear()
                chores = list(self._chores)
                self._chores.clear()
            for _, done in chores:
                done.set()
            for request in leaving:
                if not request.done.is_set():
                    request.end(ModelError(f"The decode engine stopped: {err}"))

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not (self._closed or self.waiting or self._chores or self.busy):
                    self._cond.wait()
                chores = list(self._chores)
                self._chores.clear()
                if self._closed and not self.waiting and not self.busy:
                    for _, done in chores:
                        done.set()
                    return
                arrivals = []
                while self.waiting and len(arrivals) < self.slots_n - self.busy:
                    arrivals.append(self.waiting.popleft())
            for chore, done in chores:
                try:
                    chore()
                finally:
                    done.set()
            for request in arrivals:
                self._guard(request, self._admit, request)
            try:
                self._step()
            except Exception as err:  # a failed decode fails the sequences in it, not the engine
                log.exception("decode step failed")
                for slot in self.slots:
                    if slot.request is not None:
                        self._finish(slot, "stop", error=ModelError(f"Decoding failed: {err}"))

    def _guard(self, request: Request, fn, *args) -> None:
        try:
            fn(*args)
        except BaseException as err:  # delivered to the reader, who raises it
            slot = next((s for s in self.slots if s.request is request), None)
            if slot is not None:
                self._finish(slot, "stop", error=err)
            else:
                request.end(err)

    def _admit(self, request: Request) -> None:
        scored = request.prompt_logprobs is not None
        if request.max_tokens == 0 and not (scored and request.prompt):
            request.completion = Completion("", len(request.prompt), 0, "length",
                                            logprobs=None if request.logprobs is None else [],
                                            prompt_logprobs=[] if scored else None)
            request.end()
            return
        prompt = request.prompt
        free = [s for s in self.slots if s.request is None]
        # A slot mostly holding this prompt's beginning (a thread's earlier turn); else one
        # next to the busy ones (see _groups_with), empty if it can be, else the one used
        # least recently (what it holds is saved first). A prompt to score is evaluated
        # whole: it leaves the slots holding its beginning to later prompts.
        ours = [] if scored else [s for s in free if s.tokens and common_prefix(s.tokens, prompt) * 2 >= len(s.tokens)]
        if ours:
            slot = max(ours, key=lambda s: common_prefix(s.tokens, prompt))
        else:
            slot = min(free, key=lambda s: (self._groups_with(s), bool(s.tokens), s.last_used))
        held = 0 if scored else common_prefix(slot.tokens, prompt)
        saved, known = (None, 0) if scored else self.states.longest_prefix(prompt)
        if saved is not None and known > held:
            self._evict(slot, keep=0)
            held = self._restore(slot, saved, prompt)
        if scored and prompt:  # the first token has nothing before it to be scored by
            request.prompt_entries = [{**self._token_logprob(prompt[0], 0.0), "logprob": None, "top_logprobs": None}]
        keep = min(held, len(prompt) - 1)  # the last prompt token is evaluated again for its logits
        self._evict(slot, keep=keep)
        self.stats["prefix_reused_tokens"] += held
        request.cached_tokens = keep
        self.stats["prompt_tokens"] += len(prompt)
        slot.request = request
        slot.todo = prompt[keep:]
        slot.generated = 0
        slot.sampler, slot.constrained = self._sampler(request.sampler, grammar=True)

    def _groups_with(self, slot: _Slot) -> int:
        """Runs of consecutive sequence ids among the busy slots and ``slot``. With a KV stream
        per sequence, llama.cpp decodes a step in one micro-batch per such run (its
        ``split_equal`` takes increasing, consecutive ids only): sequences 0, 1, 2, 3 decode
        in one graph, 0, 3, 5, 9 in four, each reading all the weights again."""
        ids = sorted([s.seq_id for s in self.slots if s.request is not None] + [slot.seq_id])
        return 1 + sum(1 for a, b in zip(ids, ids[1:]) if b != a + 1)

    def _restore(self, slot: _Slot, saved, prompt: list[int]) -> int:
        """A saved state into an empty slot; how many prompt tokens it holds."""
        import llama_cpp as lc

        buf = (ctypes.c_uint8 * len(saved.state)).from_buffer_copy(saved.state)
        if lc.llama_state_seq_set_data(self.ctx.ctx, buf, len(saved.state), slot.seq_id) == 0:
            log.warning("could not restore a saved sequence state; evaluating the prompt in full")
            lc.llama_memory_seq_rm(self.memory, slot.seq_id, -1, -1)
            return 0
        slot.tokens = list(saved.tokens)
        self.stats["restored_states"] += 1
        return common_prefix(slot.tokens, prompt)

    def _evict(self, slot: _Slot, *, keep: int) -> None:
        """Cut a slot back to its first ``keep`` tokens; what goes is saved first (unless the
        cache has it), so that conversation can be restored when it comes back."""
        import llama_cpp as lc

        if len(slot.tokens) > keep and tuple(slot.tokens) not in self.states.entries:
            size = lc.llama_state_seq_get_size(self.ctx.ctx, slot.seq_id)
            buf = (ctypes.c_uint8 * size)()
            written = lc.llama_state_seq_get_data(self.ctx.ctx, buf, size, slot.seq_id)
            if written:
                self.states.put(Saved(tuple(slot.tokens), bytes(memoryview(buf)[:written])))
        lc.llama_memory_seq_rm(self.memory, slot.seq_id, keep, -1)  # and whatever a failed step left
        del slot.tokens[keep:]

    def _sampler(self, spec: SamplerSpec, *, grammar: bool):
        """A sampler for one sequence, and whether a grammar holds it."""
        from llama_cpp import LlamaGrammar, _internals

        from .grammar_first import GrammarFirstSampler

        text = spec.grammar if grammar else None
        chain = _internals.LlamaSampler()
        if spec.logit_bias:
            chain.add_logit_bias(self.n_vocab, spec.logit_bias)
        chain.add_penalties(n_vocab=self.n_vocab, penalty_last_n=self.llm.last_n_tokens_size,
                            penalty_repeat=spec.repeat_penalty if text else spec.released_penalty,
                            penalty_freq=spec.frequency_penalty, penalty_present=spec.presence_penalty)
        parsed = LlamaGrammar.from_string(text, verbose=False) if text else None
        if parsed is not None and not spec.grammar_first:
            chain.add_grammar(self.llm._model, parsed)
        if spec.temperature == 0.0:
            chain.add_greedy()
        else:
            chain.add_top_k(spec.top_k)
            chain.add_typical(1.0, 1)
            chain.add_top_p(spec.top_p, 1)
            chain.add_min_p(0.05, 1)
            chain.add_temp(spec.temperature)
            chain.add_dist(seed32(self.seed if spec.seed is None else spec.seed))
        if parsed is not None and spec.grammar_first:
            alone = _internals.LlamaSampler()
            alone.add_grammar(self.llm._model, parsed)
            return GrammarFirstSampler(chain, alone, self.n_vocab), True
        return chain, parsed is not None

    def _step(self) -> None:
        import llama_cpp as lc

        for slot in self.slots:
            if slot.request is not None and slot.request.cancelled:
                self._finish(slot, "cancelled")
        active = [s for s in self.slots if s.request is not None]
        if not active:
            return
        decoding = [s for s in active if s.generated > 0]
        if not decoding:
            self._cut_since_progress = False  # nobody left to protect
        prefilling = sorted((s for s in active if s.generated == 0), key=lambda s: s.request.arrived)
        near = [s for s in prefilling if len(s.todo) <= self.prefill_chunk]
        if decoding and near:  # newcomers one short step from their first token: theirs alone
            decoding, prefilling = [], near
        fed: list[tuple[_Slot, int]] = [(slot, 1) for slot in decoding]
        budget = self.n_batch - len(fed)
        if decoding:
            budget = min(budget, self.prefill_chunk)
        for slot in prefilling:
            if budget <= 0:
                break
            take = min(budget, len(slot.todo))
            if slot.request.prompt_logprobs is not None:  # a logits row per token: a chunk at a time
                take = min(take, self.prefill_chunk)
            fed.append((slot, take))
            budget -= take
        fed.sort(key=lambda f: f[0].seq_id)  # in id order, or llama.cpp splits the step (see _groups_with)
        batch, n = self.batch, 0
        sample_at: list[tuple[_Slot, int]] = []
        score_at: list[tuple[_Slot, int, int]] = []
        for slot, take in fed:
            n = self._put(batch, n, slot, take, logits_last=take == len(slot.todo), sample_at=sample_at,
                          score_at=score_at)
        batch.n_tokens = n
        with self._cond:
            self._abort_flag[0] = 0
            self._abortable = bool(decoding) and not self._cut_since_progress and self._flag_reader is not None
        try:
            code = lc.llama_decode(self.ctx.ctx, batch)
        finally:
            with self._cond:
                self._abortable = False
        if code == 2:  # cut short for a newcomer: nothing of it is kept, its tokens go again
            for slot, _ in fed:
                lc.llama_memory_seq_rm(self.memory, slot.seq_id, len(slot.tokens), -1)
            self.stats["steps_cut_short"] += 1
            self._cut_since_progress = True
            return
        if code != 0:
            raise ModelError(f"llama_decode returned {code}")
        if decoding:  # the decoding sequences got their tokens
            self._cut_since_progress = False
        for slot, k in fed:
            slot.tokens.extend(slot.todo[:k])
            del slot.todo[:k]
        for slot, index, position in score_at:
            self._guard(slot.request, self._score_prompt, slot, index, position)
        for slot, index in sample_at:
            if slot.request is not None:  # (scoring its prompt may have failed it)
                self._guard(slot.request, self._sample, slot, index)

    def _put(self, batch, n: int, slot: _Slot, k: int, *, logits_last: bool, sample_at: list,
             score_at: list) -> int:
        start = len(slot.tokens)
        request = slot.request
        # Prefill of a prompt to score: every position's logits, each scoring the next prompt token.
        scoring = slot.generated == 0 and request.prompt_logprobs is not None
        last = len(request.prompt) - 1
        for j in range(k):
            batch.token[n] = slot.todo[j]
            batch.pos[n] = start + j
            batch.n_seq_id[n] = 1
            batch.seq_id[n][0] = slot.seq_id
            batch.logits[n] = (logits_last and j == k - 1) or (scoring and start + j < last)
            if scoring and start + j < last:
                score_at.append((slot, n, start + j + 1))
            n += 1
        if logits_last:
            sample_at.append((slot, n - 1))
        return n

    def _score_prompt(self, slot: _Slot, index: int, position: int) -> None:
        """The entry of prompt token ``position``, from the logits at batch ``index`` (those
        after the token before it)."""
        request = slot.request
        if request is None or slot.generated:
            return
        scores = self._scores(index, request.prompt_logprobs)
        request.prompt_entries.append(self._logprob_entry(scores, request.prompt[position]))

    def _sample(self, slot: _Slot, index: int) -> None:
        import llama_cpp as lc

        request = slot.request
        if request.max_tokens == 0:  # only the prompt was to be scored
            return self._finish(slot, "length")
        scores = self._scores(index, request.logprobs) if request.logprobs is not None else None
        token = slot.sampler.sample(self.ctx, index)
        slot.generated += 1
        if lc.llama_vocab_is_eog(self.vocab, token):
            return self._finish(slot, "stop")
        if scores is not None:  # the text takes this token (an end-of-generation one it does not)
            request.token_logprobs.append(self._logprob_entry(scores, token))
        text = request.text
        piece = text.feed(token)
        if piece:
            request.out.put(piece)
        if text.stopped:
            return self._finish(slot, "stop")
        if text.tokens >= request.max_tokens:
            return self._finish(slot, "length")
        if request.cancelled or (request.should_stop is not None and request.should_stop()):
            return self._finish(slot, "cancelled")
        if slot.constrained and request.release_grammar is not None and request.release_grammar(text.so_far):
            slot.sampler, slot.constrained = self._sampler(request.sampler, grammar=False)
        slot.todo = [token]

    def _scores(self, index: int, top: int):
        """The log-softmax normaliser of the logits at batch ``index``, a copy of them, and the
        ``top`` most likely tokens, most likely first; read before the sampler runs."""
        import llama_cpp as lc
        import numpy as np

        row = np.ctypeslib.as_array(lc.llama_get_logits_ith(self.ctx.ctx, index), shape=(self.n_vocab,))
        logits = row.astype(np.float64)
        peak = logits.max()
        norm = peak + np.log(np.exp(logits - peak).sum())
        if top > 0:
            ids = np.argpartition(logits, -top)[-top:]
            ids = ids[np.argsort(-logits[ids], kind="stable")]
        else:
            ids = ()
        return logits, norm, ids

    def _logprob_entry(self, scores, token: int) -> dict:
        logits, norm, ids = scores
        entry = self._token_logprob(token, logits[token] - norm)
        entry["top_logprobs"] = [self._token_logprob(int(i), logits[i] - norm) for i in ids]
        return entry

    def _token_logprob(self, token: int, logprob: float) -> dict:
        piece = self._token_bytes.get(token)
        if piece is None:
            piece = self._token_bytes[token] = self._piece(token)
        return {"token": piece.decode("utf-8", "replace"), "logprob": float(logprob), "bytes": list(piece)}

    def _piece(self, token: int) -> bytes:
        """A token's own text, special tokens spelled out (llama-cpp-python's
        ``token_to_piece`` returns its whole 32-byte buffer, zeros and all)."""
        import llama_cpp as lc

        size = 32
        while True:
            buf = ctypes.create_string_buffer(size)
            n = lc.llama_token_to_piece(self.vocab, token, buf, size, 0, True)
            if n >= 0:
                return buf.raw[:n]
            size = -n

    def _finish(self, slot: _Slot, reason: str, *, error: BaseException | None = None) -> None:
        request = slot.request
        text = request.text
        tail = text.flush() if error is None else ""
        if tail:
            request.out.put(tail)
        if error is None:
            request.completion = Completion(text.text, len(request.prompt), text.tokens, reason,
                                            cached_tokens=request.cached_tokens,
                                            logprobs=None if request.logprobs is None else request.token_logprobs,
                                            prompt_logprobs=None if request.prompt_logprobs is None
                                            else request.prompt_entries)
        # What the stream holds: prompt and evaluated tokens (a sampled last token is not).
        slot.todo = []
        slot.request = None
        slot.sampler = None
        slot.last_used = time.monotonic()
        request.end(error)


def seed32(seed: int) -> int:
    """A seed as llama.cpp's random draws take it: 32 bits, never ``LLAMA_DEFAULT_SEED``
    (0xFFFFFFFF, which asks for a random one)."""
    seed %= 1 << 32
    return 0xFFFFFFFE if seed == 0xFFFFFFFF else seed


def pieces(engine: BatchEngine, request: Request):
    """The reader's side: text pieces as the engine decodes them; a reader that stops
    (the generator closed) takes its sequence out of the batch."""
    engine.submit(request)
    try:
        while True:
            item = request.out.get()
            if item is _END:
                break
            yield item
    finally:
        if not request.done.is_set():
            request.cancel()
    if request.error is not None:
        raise request.error

