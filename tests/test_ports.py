"""The adapters implement the ports they stand behind: every member of each Protocol is
there, and each method accepts every way the Protocol allows calling it.

``isinstance`` with a ``runtime_checkable`` Protocol only checks names (and, on Python
3.11, evaluates properties: a model would load), so members are read statically and
signatures compared here.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Protocol

import pytest

from local_assistants import ports


def protocol_members(proto: type) -> dict[str, object]:
    """Each member a Protocol declares (its own and its bases'), with its declaration."""
    members: dict[str, object] = {}
    for cls in reversed(proto.__mro__):
        if cls in (Protocol, object) or not getattr(cls, "_is_protocol", False):
            continue
        for name in getattr(cls, "__annotations__", {}):
            members[name] = None
        for name, value in vars(cls).items():
            if name.startswith("_") and name not in ("__call__", "__len__"):
                continue
            members[name] = value
    return members


def incompatibilities(proto: type, obj: object) -> list[str]:
    """What ``obj`` lacks or gets wrong of ``proto``: missing members, and methods that
    refuse a call the Protocol allows (a missing parameter, a different kind, a default
    the Protocol has and the method lacks, a required parameter the Protocol lacks)."""
    problems = []
    for name, declared in protocol_members(proto).items():
        try:
            found = inspect.getattr_static(obj, name)
        except AttributeError:
            problems.append(f"{name}: missing")
            continue
        if not inspect.isfunction(declared):
            continue  # an attribute or a property: being there is the contract
        if not callable(found) and not isinstance(found, (staticmethod, classmethod)):
            problems.append(f"{name}: not a method")
            continue
        want = list(inspect.signature(declared).parameters.values())[1:]  # without self
        have = inspect.signature(getattr(obj, name)).parameters
        var_kw = any(p.kind is p.VAR_KEYWORD for p in have.values())
        var_pos = any(p.kind is p.VAR_POSITIONAL for p in have.values())
        for p in want:
            if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                if not any(h.kind is p.kind for h in have.values()):
                    problems.append(f"{name}: takes no {p}")
                continue
            h = have.get(p.name)
            if h is None:
                if not (var_kw or (var_pos and p.kind is p.POSITIONAL_ONLY)):
                    problems.append(f"{name}: no parameter {p.name!r}")
                continue
            if h.kind is not p.kind and not (h.kind is h.POSITIONAL_OR_KEYWORD and p.kind is not p.VAR_KEYWORD):
                problems.append(f"{name}: {p.name!r} is {h.kind.description}, the port says {p.kind.description}")
            if p.default is not p.empty and h.default is h.empty:
                problems.append(f"{name}: {p.name!r} needs a default")
        wanted = {p.name for p in want}
        for h in have.values():
            if h.name not in wanted and h.default is h.empty and h.kind not in (h.VAR_KEYWORD, h.VAR_POSITIONAL):
                problems.append(f"{name}: requires {h.name!r}, which the port never passes")
    return problems


def _sqlite(tmp_path: Path):
    from local_assistants.adapters.sqlite_store import SQLiteStore

    return SQLiteStore(tmp_path / "db.sqlite")


def _llama(tmp_path: Path):
    from local_assistants.adapters.llama import LlamaChatModel

    return LlamaChatModel(tmp_path / "absent.gguf", name="absent")  # loads lazily: never here


def _fake_model(tmp_path: Path):
    from local_assistants.testing import FakeChatModel

    return FakeChatModel()


def _model_pool(tmp_path: Path):
    from local_assistants.services.models import ModelPool

    return ModelPool(None, lambda resolved: None)


def _embedder(tmp_path: Path):
    from local_assistants.adapters.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


def _faiss(tmp_path: Path):
    from local_assistants.adapters.faiss_index import FaissIndex

    return FaissIndex(4, tmp_path / "index.faiss")


def _code_interpreter(tmp_path: Path):
    from local_assistants.tools.code_interpreter import CodeInterpreter

    return CodeInterpreter(None, None, None, timeout_s=1, availability=lambda: None)


def _search(tmp_path: Path):
    from local_assistants.services.search import SearchService

    return SearchService(None, None, None, None)


def _parser(tmp_path: Path):
    from local_assistants.adapters.parsers import parse_file

    return parse_file


ADAPTERS = [
    (ports.Store, _sqlite),
    (ports.ThreadStore, _sqlite),
    (ports.FileSearchStore, _sqlite),
    (ports.ChatModel, _llama),
    (ports.ChatModel, _fake_model),
    (ports.ModelSource, _model_pool),
    (ports.Embedder, _embedder),
    (ports.VectorIndex, _faiss),
    (ports.CodeRunner, _code_interpreter),
    (ports.Searcher, _search),
    (ports.DocumentParser, _parser),
]


@pytest.mark.parametrize("proto, make", ADAPTERS, ids=lambda x: getattr(x, "__name__", "").lstrip("_"))
def test_adapter_implements_its_port(proto, make, tmp_path):
    obj = make(tmp_path)
    assert incompatibilities(proto, obj) == []


def test_store_is_every_store_concern():
    assert set(protocol_members(ports.Store)) == set().union(*(protocol_members(p) for p in (
        ports.ObjectStore, ports.TokenCountStore, ports.VectorStoreFileStore, ports.ChunkStore,
        ports.EventLogStore)))


def test_the_check_catches_what_does_not_conform():
    class Incomplete:
        name = "x"

        def count_tokens(self, text, extra):  # a required parameter the port never passes
            return 0

        def format(self, messages):  # no ``tools``
            return ""

        def generate(self, prompt_tokens, *, max_tokens, temperature, **kw):  # no default for temperature
            raise NotImplementedError

    problems = "\n".join(incompatibilities(ports.ChatModel, Incomplete()))
    assert "sampling: missing" in problems
    assert "template: missing" in problems
    assert "count_tokens: requires 'extra'" in problems
    assert "format: no parameter 'tools'" in problems
    assert "generate: 'temperature' needs a default" in problems
    assert "generate: no parameter 'grammar'" not in problems  # **kw takes it
