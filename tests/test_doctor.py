"""`local-assistants doctor`: where everything lives, what works here, each problem with the command
that fixes it, exit status 1 when something needed is broken."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from local_assistants.catalog import CATALOG
from local_assistants.doctor import FAIL, OK, _features, check_models, check_sandbox
from local_assistants.kernel_env import locate
from local_assistants.config import Settings

from conftest import KERNEL_PYTHON, MODELS_DIR, REPO

CLI = Path(sys.executable).parent / "local-assistants"
SMALL = "smollm2-135m-instruct"


def doctor(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), "doctor", *args], env=env, capture_output=True, text=True, timeout=120)


def _env(**changes) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCAL_ASSISTANTS_")}
    env.update(LOCAL_ASSISTANTS_DEFAULT_MODEL=SMALL, **changes)
    return env


def test_a_broken_setup_names_each_problem_and_its_fix(tmp_path):
    """No bubblewrap on the PATH and an empty home (no model, no kernels' Python)."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("setpriv", "prlimit"):  # everything the sandbox needs but bwrap
        if shutil.which(tool):
            os.symlink(shutil.which(tool), tools / tool)
    home = tmp_path / "empty-home"
    done = doctor(_env(PATH=str(tools), LOCAL_ASSISTANTS_HOME=str(home)))
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert f"home           {home}" in out
    problems = out[out.index("problems:"):]
    assert "bwrap is missing" in problems and "fix: apt-get install -y bubblewrap" in problems
    assert f"the default model {SMALL} is not present in {home / 'models'}" in problems
    assert f"fix: local-assistants models pull {SMALL}" in problems
    assert "kernels' Python" in problems and "fix: local-assistants setup" in problems
    assert not home.exists()  # looking changes nothing


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("bwrap") is None, reason="needs root and bubblewrap")
def test_a_working_setup_passes(tmp_path):
    """The repository as the home, as `make install models` leaves it."""
    done = doctor(_env(LOCAL_ASSISTANTS_HOME=str(REPO)))
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert f"ok    {SMALL}" in out and "sha256 ok (default)" in out
    assert "sandbox works here: uid drop, namespaces (bubblewrap), kernel Python run as the sandbox uid" in out
    assert "llama-cpp-python" in out and "build: " in out
    assert "free in" in out and "everything needed works" in out


def test_a_damaged_model_is_a_problem_with_its_fix(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    entry = CATALOG[SMALL]
    (models / entry.filename).write_bytes(b"not a gguf")
    settings = Settings(home=tmp_path, models_dir=models, default_model=SMALL)
    [finding] = [f for f in check_models(settings) if SMALL in f.what]
    assert finding.status == FAIL and "has 10 bytes" in finding.what
    assert finding.fix == f"local-assistants --models-dir {models} models pull --force {SMALL}"


def test_present_models_are_checked_by_sha256():
    settings = Settings(home=REPO, models_dir=MODELS_DIR, default_model=SMALL)
    [finding] = [f for f in check_models(settings) if f.what.startswith(SMALL)]
    assert finding.status == OK and "98.4 MB" in finding.what and "sha256 ok (default)" in finding.what


def test_llama_cpp_features_are_read_from_its_system_info():
    info = "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | REPACK = 1 | "
    assert _features(info) == {"SSE3": "1", "AVX": "1", "AVX2": "1", "AMX_INT8": "1", "LLAMAFILE": "1",
                               "REPACK": "1"}


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox uid matters only as root")
def test_a_kernel_python_the_sandbox_uid_cannot_read_is_a_problem(tmp_path):
    private = tmp_path / "private"
    (private / "env" / "bin").mkdir(parents=True)
    os.chmod(private, 0o700)
    python = private / "env" / "bin" / "python"
    python.symlink_to(KERNEL_PYTHON)  # a working Python, but behind a folder others cannot pass
    settings = Settings(home=tmp_path / "home", kernel_python=python)
    findings = check_sandbox(settings, locate(settings))
    [finding] = [f for f in findings if "not readable by the sandbox uid" in f.what]
    assert finding.status == FAIL and "is 0700)" in finding.what
    assert finding.fix == "local-assistants setup"
