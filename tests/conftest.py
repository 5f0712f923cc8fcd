"""Shared fixtures: a real server (embedded, loopback) on a temporary data folder,
and the official openai client talking to it with strict response validation."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import openai
import pytest

from local_assistants import LocalAssistants, Settings
from local_assistants.catalog import TEST_MODEL
from local_assistants.kernel_env import locate

REPO = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO / "models"
# The repository is the tests' home (as `make` sets it), never the user's own.
os.environ.setdefault("LOCAL_ASSISTANTS_HOME", str(REPO))

# The kernels' Python made by `make install` (`local-assistants setup`), and their folders:
# they must be reachable by the sandbox's unprivileged uid, which pytest's private temporary
# folders are not, so tests keep theirs where the runtime keeps the repository's.
_PLACE = locate(Settings(home=REPO))
KERNEL_PYTHON = _PLACE.kernel_python
# One folder per test session: two sessions on one checkout (a second terminal, an editor
# running tests) must not wipe each other's kernels' folders.
SANDBOX_ROOT = _PLACE.sandbox_dir / ".tests" / str(os.getpid())


def make_settings(tmp_path: Path, **overrides) -> Settings:
    values = dict(data_dir=tmp_path / "data", models_dir=MODELS_DIR, default_model=TEST_MODEL,
                  sandbox_dir=SANDBOX_ROOT / f"{tmp_path.parent.name}-{tmp_path.name}", kernel_python=KERNEL_PYTHON)
    return Settings(**{**values, **overrides})


@pytest.fixture(scope="session", autouse=True)
def _clean_test_sandboxes():
    import shutil

    if SANDBOX_ROOT.parent.is_dir():  # folders of sessions that died, never a live one's
        for folder in SANDBOX_ROOT.parent.iterdir():
            if not (folder.name.isdigit() and _process_alive(int(folder.name))):
                shutil.rmtree(folder, ignore_errors=True)
    yield
    shutil.rmtree(SANDBOX_ROOT, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sdk_client(base_url: str, **kwargs) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="test-key", max_retries=0,
                         _strict_response_validation=True, **kwargs)


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One server per test module, for tests that do not need an empty database."""
    with LocalAssistants(make_settings(tmp_path_factory.mktemp("shared"))) as la:
        yield la


@pytest.fixture(scope="module")
def shared_client(shared_server):
    c = sdk_client(shared_server.base_url)
    yield c
    c.close()


@pytest.fixture
def server(tmp_path):
    with LocalAssistants(make_settings(tmp_path)) as la:
        yield la


@pytest.fixture
def client(server):
    c = sdk_client(server.base_url)
    yield c
    c.close()


def wait_for(fn, timeout=60.0, interval=0.02):
    """Poll ``fn`` until it returns something truthy; return that."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not reached in time")


QUESTION = "I need to solve the equation `3x + 11 = 14`. Can you help me?"


class Scripted:
    """The real model, except that its next turns say the given texts (through the real
    tokenizer and template): for tests that need exact code or an exact search query."""

    def __init__(self, inner):
        self.inner = inner
        self.script: list[str] = []

    def generate(self, prompt_tokens, **kwargs):
        from local_assistants.adapters.llama import Generation
        from local_assistants.ports import Completion

        if not self.script:
            return self.inner.generate(prompt_tokens, **kwargs)
        text = self.script.pop(0)
        pieces = [text[i:i + 7] for i in range(0, len(text), 7)]
        gen = Generation(iter(pieces))
        gen.completion = Completion(text, len(prompt_tokens), len(pieces), "stop")
        return gen

    def __getattr__(self, name):
        return getattr(self.inner, name)


@contextlib.contextmanager
def serve_scripted(folder: Path, wrap=Scripted, **overrides):
    """A real server whose model is the test model wrapped by ``wrap`` (``server.scripted``);
    ``overrides`` are settings (``api_key=...``)."""
    from local_assistants.runtime import llama_factory

    settings = make_settings(folder, **overrides)
    with LocalAssistants(settings) as server:
        server.scripted = wrap(llama_factory(settings)(server.runtime.models.resolve(settings.default_model)))
        server.runtime.model_pool.factory = lambda resolved: server.scripted
        yield server


@pytest.fixture(scope="module")
def scripted_server(tmp_path_factory):
    """A real server whose model can be given scripted turns: ``say(server, *texts)``."""
    with serve_scripted(tmp_path_factory.mktemp("scripted")) as server:
        yield server


@pytest.fixture(scope="module")
def scripted_client(scripted_server):
    c = sdk_client(scripted_server.base_url)
    yield c
    c.close()


def say(server, *texts: str) -> None:
    server.scripted.script[:] = list(texts)
