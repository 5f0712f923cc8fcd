"""The Math Tutor demo (``make run-local``, ``local-assistants demo``): it streams the
quickstart, forces a code run, and reports and exits by what happened.  Run here on the
small test model with short answers: the mechanics, not the tutoring, are tested."""

from __future__ import annotations

import pytest

from local_assistants import cli, demo
from local_assistants.catalog import TEST_MODEL

from conftest import KERNEL_PYTHON, make_settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _settings(tmp_path, **overrides):
    return make_settings(tmp_path, default_model=TEST_MODEL, default_max_completion_tokens=24, **overrides)


@pytest.mark.skipif(not KERNEL_PYTHON.exists(), reason="the kernels' Python is made by `make install`")
def test_the_demo_streams_the_quickstart_runs_code_and_exits_0(tmp_path, capsys):
    assert demo.main(_settings(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "--- second turn: tool_choice forces the code interpreter ---" in out
    head, second = out.split("--- second turn", 1)
    assert "\nassistant > " in head  # the streamed quickstart answer, or its code, was printed
    assert "\nassistant > code_interpreter\n" in second and "output >" in second  # the forced code and its logs
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("demo finished: quickstart run ")
    assert "forced-code run " in summary and summary.endswith("code ran in the sandbox")
    assert "error:" not in out


def test_a_demo_whose_sandbox_cannot_run_says_why_and_exits_1(tmp_path, capsys):
    # No kernels' Python: the code interpreter cannot start, so every run of the tutor fails.
    code = demo.main(_settings(tmp_path, kernel_python=tmp_path / "no-such-python"))
    out = capsys.readouterr().out
    assert code == 1
    summary = next(line for line in out.splitlines() if line.startswith("demo finished:"))
    assert summary == "demo finished: quickstart run failed; forced-code run failed, code did not run"
    error = out.strip().splitlines()[-1]
    assert error.startswith("error: ") and len(error) > len("error: ")


def test_the_cli_runs_the_demo_on_its_own_settings(tmp_path, monkeypatch):
    """``local-assistants --home H --models-dir M demo`` runs the demo there (it used to build
    its settings afresh from the environment, ignoring the flags)."""
    given = []
    monkeypatch.setattr(demo, "main", lambda settings=None: given.append(settings) or 0)
    assert cli.main(["--home", str(tmp_path / "home"), "--models-dir", str(tmp_path / "models"), "demo"]) == 0
    (settings,) = given
    assert settings is not None
    assert settings.home == tmp_path / "home" and settings.models_dir == tmp_path / "models"
    assert settings.data_dir == tmp_path / "home" / "data"
