"""Prefixed object ids as OpenAI spells them, and an injectable clock."""

from __future__ import annotations

import secrets
import time
from typing import Callable

PREFIXES = {
    "assistant": "asst_",
    "thread": "thread_",
    "message": "msg_",
    "run": "run_",
    "step": "step_",
    "file": "file-",
    "vector_store": "vs_",
    "call": "call_",
    "batch": "vsfb_",
    "response": "resp_",
    "conversation": "conv_",
    "container": "cntr_",
    "container_file": "cfile_",
    "function_call": "fc_",
    "code_interpreter_call": "ci_",
    "file_search_call": "fs_",
}

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def new_id(kind: str) -> str:
    """A new id such as ``asst_3fQk...``: prefix plus 24 random base-62 characters."""
    return PREFIXES[kind] + "".join(secrets.choice(_ALPHABET) for _ in range(24))


Clock = Callable[[], float]


def system_clock() -> float:
    return time.time()


def now_s(clock: Clock = system_clock) -> int:
    """Integer Unix seconds, the type of every OpenAI ``*_at`` field."""
    return int(clock())
