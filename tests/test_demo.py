"""The Math Tutor demo (``make run-local``, ``local-assistants demo``): it streams the
quickstart, forces a code run, and reports and exits by what happened.  Run here on the
small test model whose turns say scripted text (through its real tokenizer and template;
the server, the SDK and the sandboxed kernel are real): the mechanics, not the tutoring,
are tested (tests/quality tests the default model's answers)."""

from __future__ import annotations

import pytest

from local_assistants import cli, demo, runtime
from local_assistants.catalog import TEST_MODEL

from conftest import KERNEL_PYTHON, Scripted, make_settings

TURNS = ["```python\nx = (14 - 11) / 3\nprint(x)\n```", "So x = 1.0.",
         "x = 1.0 solves 3x + 11 = 14.",
         "```python\nprint(3 * 1.0 + 11)\n```", "It checks out: 14.0."]
"""The quickstart's streamed run (code, then the answer), its second run, and the forced-code run."""

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _settings(tmp_path, **overrides):
    return make_settings(tmp_path, default_model=TEST_MODEL, default_max_completion_tokens=24, **overrides)


@pytest.mark.skipif(not KERNEL_PYTHON.exists(), reason="the kernels' Python is made by `make install`")
def test_the_demo_streams_the_quickstart_runs_code_and_exits_0(tmp_path, capsys, monkeypatch):
    real = runtime.llama_factory
    scripted = []

    def factory(settings):
        def make(resolved):
            model = Scripted(real(settings)(resolved))
            model.script[:] = list(TURNS)
            scripted.append(model)
            return model
        return make

    monkeypatch.setattr(runtime, "llama_factory", factory)
    assert demo.main(_settings(tmp_path)) == 0
    assert len(scripted) == 1 and scripted[0].script == []  # every scripted turn was asked for
    out = capsys.readouterr().out
    assert "--- second turn: tool_choice forces the code interpreter ---" in out
    head, second = out.split("--- second turn", 1)
    assert "\nassistant > " in head  # the streamed quickstart answer, or its code, was printed
    assert "x = (14 - 11) / 3" in head and "1.0" in head
    assert "\nassistant > code_interpreter\n" in second and "output >" in second  # the forced code and its logs
    assert "14.0" in second
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
