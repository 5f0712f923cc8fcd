"""Grammar-constrained sampling in llama.cpp's own order: the grammar checks the token the
sampler chose, and constrains the whole vocabulary only when it refuses that token.

llama-cpp-python puts the grammar in its sampler chain, so the grammar is applied to every
token of the vocabulary (150k for Qwen) at every step: a JSON answer decoded at 0.6-0.7x
of free decoding. llama.cpp's common sampler (``common_sampler_sample``) instead samples
with the chain alone, asks the grammar about that one token, and resamples with the grammar
first only when it is refused. Greedy decoding gives the same tokens either way (a token the
grammar accepts that has the highest logit is also the highest among those it accepts);
sampling at a temperature draws from the same constrained distribution once a token is
refused, as llama.cpp's own server does.

``GrammarFirstSampler`` has the one method llama-cpp-python's ``Llama.sample`` calls on its
sampler (``sample(ctx, idx)``, which also accepts the token), so ``grammar_first(llm)``
makes ``Llama.generate`` use it for a grammar without copying its decode loop.
"""

from __future__ import annotations

import ctypes
import math
from contextlib import contextmanager
from typing import Iterator

import llama_cpp as lc
import numpy as np
from llama_cpp import _internals

_TOKEN_DATA = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])


class GrammarFirstSampler:
    """A sampler chain without the grammar, and the grammar on its own."""

    def __init__(self, chain: _internals.LlamaSampler, grammar: _internals.LlamaSampler, n_vocab: int):
        assert ctypes.sizeof(lc.llama_token_data) == _TOKEN_DATA.itemsize
        self.chain = chain
        self.grammar = grammar
        self.n_vocab = n_vocab
        self._data = (lc.llama_token_data * n_vocab)()
        self._view = np.frombuffer(self._data, dtype=_TOKEN_DATA)
        self._ids = np.arange(n_vocab, dtype=np.int32)
        self._one = (lc.llama_token_data * 1)()
        self.accepted = 0
        """Tokens the grammar took as the chain chose them."""
        self.resampled = 0
        """Tokens the grammar refused, sampled again under it."""

    def _candidates(self, logits: np.ndarray) -> lc.llama_token_data_array:
        self._view["id"] = self._ids
        self._view["logit"] = logits
        self._view["p"] = 0.0
        return lc.llama_token_data_array(self._data, self.n_vocab, -1, False)

    def _allowed(self, token: int) -> bool:
        self._one[0].id, self._one[0].logit, self._one[0].p = token, 1.0, 0.0
        one = lc.llama_token_data_array(self._one, 1, -1, False)
        lc.llama_sampler_apply(self.grammar.sampler, ctypes.byref(one))
        return not math.isinf(self._one[0].logit)

    def sample(self, ctx: _internals.LlamaContext, idx: int = -1) -> int:
        logits = np.ctypeslib.as_array(lc.llama_get_logits_ith(ctx.ctx, idx), shape=(self.n_vocab,))
        cur = self._candidates(logits)
        lc.llama_sampler_apply(self.chain.sampler, ctypes.byref(cur))
        token = int(cur.data[cur.selected].id)  # a sampler may sort or shorten the array
        if self._allowed(token):
            self.accepted += 1
        else:
            self.resampled += 1
            cur = self._candidates(logits)
            lc.llama_sampler_apply(self.grammar.sampler, ctypes.byref(cur))
            lc.llama_sampler_apply(self.chain.sampler, ctypes.byref(cur))
            token = int(cur.data[cur.selected].id)
        lc.llama_sampler_accept(self.grammar.sampler, token)
        lc.llama_sampler_accept(self.chain.sampler, token)
        return token

    def accept(self, token: int) -> None:
        lc.llama_sampler_accept(self.grammar.sampler, token)
        lc.llama_sampler_accept(self.chain.sampler, token)

    def reset(self) -> None:
        lc.llama_sampler_reset(self.grammar.sampler)
        lc.llama_sampler_reset(self.chain.sampler)


@contextmanager
def grammar_first(llm) -> Iterator[list[GrammarFirstSampler]]:
    """While open, ``llm.generate(..., grammar=g)`` samples grammar-first; yields the
    samplers it made (for their counts). ``llm`` is a ``llama_cpp.Llama``."""
    made: list[GrammarFirstSampler] = []
    cls_init = type(llm)._init_sampler

    def init_sampler(**options):
        grammar = options.pop("grammar", None)
        chain = cls_init(llm, **options)
        if grammar is None:
            return chain
        alone = _internals.LlamaSampler()
        alone.add_grammar(llm._model, grammar)
        sampler = GrammarFirstSampler(chain, alone, llm.n_vocab())
        made.append(sampler)
        return sampler

    llm._init_sampler = init_sampler
    try:
        yield made
    finally:
        del llm._init_sampler
