"""Sampled tokens to streamed text: UTF-8 sequences split across tokens are held until
whole, and text that might begin a stop string is held until it cannot.

One ``TokenText`` per generation; ``feed(token)`` returns the text that is safe to show and
whether a stop string ended the turn. Pure (the detokenizer is given), so the batch engine
runs it on its own thread for every sequence.
"""

from __future__ import annotations

from typing import Callable, Sequence

Detokenize = Callable[[list[int], list[int]], bytes]
"""``(tokens, previous tokens) -> bytes`` (the previous ones decide a leading space)."""


class TokenText:
    def __init__(self, detokenize: Detokenize, prompt: Sequence[int], stop: Sequence[str]):
        self.detokenize = detokenize
        self.context = list(prompt[-4:])  # enough context for leading spaces
        self.stop = [s for s in stop if s]
        self.tokens = 0
        self.text = ""
        """What has been shown so far."""
        self._pending = b""  # bytes of an incomplete UTF-8 sequence
        self._held = ""  # text held back because it might begin a stop string
        self.stopped = False

    def feed(self, token: int) -> str:
        """The text now safe to show; ``stopped`` is set when a stop string appeared (the
        text before it is shown, the rest dropped)."""
        self.tokens += 1
        self._pending += self.detokenize([token], self.context[-4:])
        self.context = (self.context + [token])[-4:]
        try:
            piece = self._pending.decode("utf-8")
            self._pending = b""
        except UnicodeDecodeError:
            piece = ""
            if len(self._pending) > 8:  # not a split character: give up on it
                piece, self._pending = self._pending.decode("utf-8", "replace"), b""
        self._held += piece
        cut = _find_stop(self._held, self.stop)
        if cut is not None:
            self.stopped = True
            out, self._held = self._held[:cut], ""
        else:
            safe = len(self._held) - _stop_prefix_len(self._held, self.stop)
            out, self._held = self._held[:safe], self._held[safe:]
        self.text += out
        return out

    @property
    def so_far(self) -> str:
        """Shown and held text: what the model has written up to now."""
        return self.text + self._held

    def flush(self) -> str:
        """The held text, shown at the end of the turn."""
        out, self._held = self._held, ""
        self.text += out
        return out


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
