"""core/ is pure: no module under it imports the adapters, the server, SQLite, llama.cpp or the web stack."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import local_assistants

PACKAGE_DIR = Path(local_assistants.__file__).resolve().parent
CORE_DIR = PACKAGE_DIR / "core"
FORBIDDEN = (
    "local_assistants.adapters",
    "local_assistants.server",
    "sqlite3",
    "sqlite_utils",
    "llama_cpp",
    "fastapi",
    "starlette",
)
CORE_MODULES = sorted(CORE_DIR.rglob("*.py"))


def _module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package_of(path: Path, root: Path) -> str:
    name = _module_name(path, root)
    return name if path.name == "__init__.py" else name.rsplit(".", 1)[0]


def imported_modules(path: Path, root: Path = PACKAGE_DIR.parent) -> set[str]:
    """Every absolute module name a file imports, relative imports resolved, `from x import y` as x and x.y."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _package_of(path, root)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts)
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__" and node.args:
            if isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


def _is_forbidden(module: str) -> bool:
    return any(module == f or module.startswith(f + ".") for f in FORBIDDEN)


def test_core_has_modules():
    names = {p.name for p in CORE_MODULES}
    assert {"__init__.py", "validation.py", "run_state.py"} <= names


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda p: str(p.relative_to(CORE_DIR)))
def test_core_module_imports_nothing_forbidden(path):
    bad = sorted(m for m in imported_modules(path) if _is_forbidden(m))
    assert bad == [], f"{path.name} imports {bad}"


# The checker itself must catch what it is meant to catch.
@pytest.mark.parametrize(
    "source",
    [
        "import sqlite3",
        "import sqlite_utils as su",
        "from llama_cpp import Llama",
        "from fastapi import FastAPI",
        "import starlette.requests",
        "from ..adapters import sqlite_store",
        "from ..adapters.sqlite_store import SQLiteStore",
        "from .. import adapters",
        "from .. import server",
        "from local_assistants.server.app import create_app",
        "import local_assistants.adapters.llama",
        "def f():\n    import sqlite3\n",
        "try:\n    from ..server import common\nexcept ImportError:\n    pass\n",
        "__import__('llama_cpp')",
    ],
)
def test_checker_catches_forbidden_imports(tmp_path, source):
    fake_core = tmp_path / "local_assistants" / "core"
    fake_core.mkdir(parents=True)
    path = fake_core / "bad.py"
    path.write_text(source + "\n")
    assert any(_is_forbidden(m) for m in imported_modules(path, root=tmp_path))


@pytest.mark.parametrize(
    "source",
    [
        "from ..errors import InvalidRequestError",
        "from . import validation",
        "from .validation import metadata",
        "import re, json",
        "from ..ids import new_id",
        "import sqlite3x",
        "from local_assistants.servers_extra import x",
    ],
)
def test_checker_allows_pure_imports(tmp_path, source):
    fake_core = tmp_path / "local_assistants" / "core"
    fake_core.mkdir(parents=True)
    path = fake_core / "ok.py"
    path.write_text(source + "\n")
    assert not any(_is_forbidden(m) for m in imported_modules(path, root=tmp_path))
