"""Shared fixtures: a real server (embedded, loopback) on a temporary data folder,
and the official openai client talking to it with strict response validation."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from local_assistants import LocalAssistants, Settings

REPO = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO / "models"


KERNEL_PYTHON = REPO / ".venv-kernel" / "bin" / "python"
# Kernel folders must be reachable by the sandbox's unprivileged uid, which pytest's
# private temporary folders are not: tests keep theirs under the repository's sandbox/.
SANDBOX_ROOT = REPO / "sandbox" / ".tests"


def make_settings(tmp_path: Path, **overrides) -> Settings:
    values = dict(data_dir=tmp_path / "data", models_dir=MODELS_DIR,
                  sandbox_dir=SANDBOX_ROOT / f"{tmp_path.parent.name}-{tmp_path.name}", kernel_python=KERNEL_PYTHON)
    return Settings(**{**values, **overrides})


@pytest.fixture(scope="session", autouse=True)
def _clean_test_sandboxes():
    import shutil

    shutil.rmtree(SANDBOX_ROOT, ignore_errors=True)
    yield
    shutil.rmtree(SANDBOX_ROOT, ignore_errors=True)


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
