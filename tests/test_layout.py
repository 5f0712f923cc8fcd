"""tests/ mirrors src/: each source module with logic of its own has a test module of the
same name in the same place (``local_assistants/services/runs.py`` -> ``tests/services/test_runs.py``),
so a reader finds a module's tests without searching. The modules with no logic of their own
are listed here with the reason, and where their behaviour is tested."""

from __future__ import annotations

from pathlib import Path

import local_assistants

PACKAGE_DIR = Path(local_assistants.__file__).resolve().parent
TESTS_DIR = Path(__file__).resolve().parent

NO_LOGIC_OF_THEIR_OWN = {
    "ports/code.py": "a Protocol and its result dataclass; tests/test_ports.py checks the adapters against it",
    "ports/model.py": "Protocols; tests/test_ports.py checks the llama adapter and FakeChatModel against them",
    "ports/retrieval.py": "Protocols and dataclasses; tests/test_ports.py, SearchResult.to_api through tests/api",
    "ports/store.py": "Protocols; tests/test_ports.py checks the SQLite store; Page.to_body in test_sqlite_store.py",
    "tools/registry.py": "lists the three tool handlers; tests/tools/test_base.py checks what the toolbox supports",
    "server/routes_assistants.py": "reads a body and calls the service; tests/api/test_assistants.py over HTTP",
    "server/routes_threads.py": "reads a body and calls the service; tests/api/test_threads_messages.py over HTTP",
    "server/routes_models.py": "calls the models service; tests/api/test_models.py over HTTP",
    "server/playground.py": "serves the page's static files; tests/playground/test_page.py",
    "bench/code_bench.py": "times real sandboxed kernels; nothing to check without running them (make bench)",
    "bench/window_bench.py": "times window builds on a real runtime (make bench)",
}
"""Source modules (relative to the package) that need no test module of their own, and why."""

TEST_NAME_FOR = {"__main__": "test_main"}


def _source_modules() -> list[str]:
    return sorted(str(p.relative_to(PACKAGE_DIR)) for p in PACKAGE_DIR.rglob("*.py")
                  if p.name != "__init__.py" and "playground" not in p.relative_to(PACKAGE_DIR).parts[:-1])


def _test_module(rel: str) -> Path:
    path = Path(rel)
    name = TEST_NAME_FOR.get(path.stem, f"test_{path.stem}")
    return TESTS_DIR / path.parent / f"{name}.py"


def test_every_source_module_with_logic_has_its_test_module():
    missing = [rel for rel in _source_modules()
               if rel not in NO_LOGIC_OF_THEIR_OWN and not _test_module(rel).is_file()]
    assert missing == [], f"no tests/<same place>/test_<name>.py for {missing}"


def test_the_list_of_modules_without_logic_names_modules_that_exist_and_have_no_tests():
    modules = set(_source_modules())
    assert set(NO_LOGIC_OF_THEIR_OWN) <= modules, set(NO_LOGIC_OF_THEIR_OWN) - modules
    tested = [rel for rel in NO_LOGIC_OF_THEIR_OWN if _test_module(rel).is_file()]
    assert tested == [], f"{tested} have test modules now: take them off NO_LOGIC_OF_THEIR_OWN"


def test_every_test_module_in_a_mirrored_folder_names_a_source_module_or_a_subject():
    """A test module beside mirrored ones either mirrors a module or is about one subject that
    spans modules (tests/api, tests/playground, tests/quality and the end-to-end ones listed)."""
    modules = {_test_module(rel).relative_to(TESTS_DIR) for rel in _source_modules()}
    end_to_end = {"api", "playground", "quality"}
    orphans = []
    for test in TESTS_DIR.rglob("test_*.py"):
        rel = test.relative_to(TESTS_DIR)
        if rel.parts[0] in end_to_end or rel in modules:
            continue
        orphans.append(str(rel))
    assert sorted(orphans) == sorted(SUBJECT_TESTS), sorted(set(orphans) ^ set(SUBJECT_TESTS))


SUBJECT_TESTS = {
    "adapters/test_llama_sampling.py": "per-request sampling (seed, penalties, logit bias) and prompt logprobs in the "
                                       "llama adapter and its batch engine",
    "adapters/test_llama_logprobs.py": "per-token logprobs and cached-token counts from the llama adapter and its "
                                       "batch engine, against llama-cpp-python's own",
    "adapters/test_llama_logs.py": "llama.cpp's native log lines routed into Python logging",
    "adapters/test_parser_limits.py": "hostile documents against every document parser's limits",
    "adapters/test_sqlite_vector_tables.py": "the SQLite store's vector-store tables and chunks",
    "core/test_golden_prompts.py": "each catalog model's rendered prompt with each tool kind, from its GGUF template",
    "core/test_layering.py": "the import rules between the layers",
    "test_home.py": "the home folder and where each part of it goes",
    "test_layout.py": "this mirror of src/ in tests/",
    "test_installed_wheel.py": "the built wheel installed in a fresh venv and used from another folder",
    "test_model_pull.py": "a run that needs a catalog model not yet pulled",
    "test_ports.py": "every adapter checked against the ports it implements",
    "test_public_api.py": "the package's public names",
    "tools/test_sandbox_attacks.py": "model-written attacks through the code interpreter in the real sandbox",
    "tools/test_sandbox_files.py": "files into and out of the real sandbox",
}
"""Test modules outside tests/api, tests/playground and tests/quality that test a subject
spanning several modules rather than one module, with that subject."""
