"""core/ is pure: no module under it imports the adapters, the server, SQLite, llama.cpp or the web stack.
The server's modules import one another without a cycle: route modules never import the app."""

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
SERVER_DIR = PACKAGE_DIR / "server"
ROUTE_MODULES = sorted(SERVER_DIR.glob("routes_*.py"))


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


# -- the server: no import cycle ---------------------------------------------------------------

def import_graph(package_dir: Path, root: Path = PACKAGE_DIR.parent) -> dict[str, set[str]]:
    """Which modules of a package each of its modules imports, at module level or inside a
    function.  The package itself is left out: ``from . import x`` names ``x``."""
    modules = {_module_name(p, root): p for p in sorted(package_dir.glob("*.py")) if p.name != "__init__.py"}
    return {name: {m for m in imported_modules(path, root) if m in modules and m != name}
            for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (its modules in order, the first repeated at the end), or None."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return path[path.index(name):] + [name]
        if name in done:
            return None
        for dep in sorted(graph[name]):
            cycle = visit(dep, path + [name])
            if cycle:
                return cycle
        done.add(name)
        return None

    for name in sorted(graph):
        cycle = visit(name, [])
        if cycle:
            return cycle
    return None


def test_server_has_route_modules():
    assert len(ROUTE_MODULES) >= 6


@pytest.mark.parametrize("path", ROUTE_MODULES, ids=lambda p: p.name)
def test_route_module_does_not_import_the_app(path):
    assert "local_assistants.server.app" not in imported_modules(path)


def test_server_modules_import_no_cycle():
    assert find_cycle(import_graph(SERVER_DIR)) is None


def test_cycle_finder_sees_routes_importing_the_app(tmp_path):
    server = tmp_path / "local_assistants" / "server"
    server.mkdir(parents=True)
    (server / "__init__.py").write_text("from .app import create_app\n")
    (server / "app.py").write_text("def create_app():\n    from . import routes_x, helpers\n")
    (server / "helpers.py").write_text("import json\n")
    (server / "routes_x.py").write_text("from .app import json_body\nfrom .helpers import call\n")
    assert find_cycle(import_graph(server, root=tmp_path)) == [
        "local_assistants.server.app", "local_assistants.server.routes_x", "local_assistants.server.app"]
    (server / "routes_x.py").write_text("from .helpers import call, json_body\n")
    assert find_cycle(import_graph(server, root=tmp_path)) is None
