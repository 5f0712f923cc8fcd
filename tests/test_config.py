"""Settings: one home (LOCAL_ASSISTANTS_HOME, else the XDG data folder) whose paths each can
point elsewhere, every field read from its LOCAL_ASSISTANTS_<FIELD> variable as its type."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_assistants.config import HOME_LAYOUT, Settings, default_home


def test_default_home_is_the_xdg_data_folder():
    s = Settings.from_env(environ={"HOME": "/h"})
    assert s.home == Path("/h/.local/share/local-assistants")
    assert s.models_dir == s.home / "models"
    assert s.data_dir == s.home / "data"
    assert s.database_path == s.home / "data" / "local_assistants.db"
    assert s.sandbox_dir == s.home / "sandbox"
    assert s.kernel_python == s.home / ".venv-kernel" / "bin" / "python"


def test_xdg_data_home_then_local_assistants_home():
    assert Settings.from_env(environ={"HOME": "/h", "XDG_DATA_HOME": "/x"}).home == Path("/x/local-assistants")
    # The XDG spec: a relative XDG_DATA_HOME is ignored.
    assert Settings.from_env(environ={"HOME": "/h", "XDG_DATA_HOME": "rel"}).home == \
        Path("/h/.local/share/local-assistants")
    env = {"HOME": "/h", "XDG_DATA_HOME": "/x", "LOCAL_ASSISTANTS_HOME": "/srv/la"}
    assert Settings.from_env(environ=env).home == Path("/srv/la")
    assert Settings.from_env(environ=env).models_dir == Path("/srv/la/models")
    # An empty value is unset, not the current directory.
    assert Settings.from_env(environ={"HOME": "/h", "LOCAL_ASSISTANTS_HOME": "",
                                      "LOCAL_ASSISTANTS_DATA_DIR": ""}).data_dir == \
        Path("/h/.local/share/local-assistants/data")


def test_each_path_can_point_elsewhere():
    s = Settings.from_env(environ={"LOCAL_ASSISTANTS_HOME": "/srv/la", "LOCAL_ASSISTANTS_MODELS_DIR": "/big/gguf",
                                   "LOCAL_ASSISTANTS_KERNEL_PYTHON": "/opt/k/bin/python"})
    assert s.models_dir == Path("/big/gguf") and not s.follows_home("models_dir")
    assert s.kernel_python == Path("/opt/k/bin/python")
    assert s.data_dir == Path("/srv/la/data") and s.follows_home("data_dir")
    assert Settings.from_env(environ={"LOCAL_ASSISTANTS_HOME": "/srv/la"}, data_dir="/d").data_dir == Path("/d")


def test_relative_paths_are_fixed_when_the_settings_are_made(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = Settings.from_env(environ={"LOCAL_ASSISTANTS_HOME": "la-home"}, data_dir="d")
    monkeypatch.chdir("/")
    assert s.home == tmp_path / "la-home" and s.models_dir == tmp_path / "la-home" / "models"
    assert s.data_dir == tmp_path / "d"


def test_settings_made_directly_read_the_home_too(monkeypatch):
    monkeypatch.setenv("LOCAL_ASSISTANTS_HOME", "/srv/direct")
    assert Settings().models_dir == Path("/srv/direct/models")
    assert Settings(models_dir=Path("/m")).models_dir == Path("/m")


def test_replace_moves_what_follows_the_home_and_keeps_what_was_set():
    s = Settings(home=Path("/a"), models_dir=Path("/models"))
    t = s.replace(home=Path("/b"))
    assert t.data_dir == Path("/b/data") and t.sandbox_dir == Path("/b/sandbox")
    assert t.models_dir == Path("/models")
    u = t.replace(n_ctx=1024)
    assert u.follows_home("data_dir") and not u.follows_home("models_dir")
    assert u.replace(home=Path("/c")).data_dir == Path("/c/data")


def test_each_field_is_read_from_its_variable_as_its_type():
    s = Settings.from_env(environ={
        "LOCAL_ASSISTANTS_HOME": "/srv/la", "LOCAL_ASSISTANTS_N_CTX": "1024",
        "LOCAL_ASSISTANTS_SHUTDOWN_GRACE_S": "2.5", "LOCAL_ASSISTANTS_API_KEY": "k 1",
        "LOCAL_ASSISTANTS_AUTO_PULL": "0", "LOCAL_ASSISTANTS_UNSAFE_KERNEL": " Yes ",
        "LOCAL_ASSISTANTS_SANDBOX_DIR": "/sb", "OTHER_N_CTX": "7"})
    assert s.n_ctx == 1024 and isinstance(s.n_ctx, int)
    assert s.shutdown_grace_s == 2.5
    assert s.api_key == "k 1"
    assert s.auto_pull is False and s.unsafe_kernel is True
    assert s.sandbox_dir == Path("/sb") and not s.follows_home("sandbox_dir")
    assert s.database_path == Path("/srv/la/data/local_assistants.db")
    assert s.files_dir == Path("/srv/la/data/files")


@pytest.mark.parametrize("raw, value", [("1", True), ("true", True), ("on", True), ("0", False),
                                        ("no", False), ("", False), ("off", False)])
def test_a_flag_is_on_only_when_it_says_so(raw, value):
    assert Settings.from_env(environ={"HOME": "/h", "LOCAL_ASSISTANTS_ALLOW_NO_API_KEY": raw}).allow_no_api_key \
        is value


def test_a_number_that_is_not_one_is_refused():
    with pytest.raises(ValueError):
        Settings.from_env(environ={"HOME": "/h", "LOCAL_ASSISTANTS_MAX_KERNELS": "four"})


def test_overrides_win_over_the_environment_and_none_is_no_override():
    env = {"HOME": "/h", "LOCAL_ASSISTANTS_N_CTX": "1024", "LOCAL_ASSISTANTS_MODELS_DIR": "/m"}
    s = Settings.from_env(environ=env, n_ctx=2048, models_dir=None, data_dir="/d")
    assert s.n_ctx == 2048 and s.models_dir == Path("/m") and s.data_dir == Path("/d")


def test_every_path_of_the_layout_follows_the_home_when_unset():
    s = Settings(home=Path("/a"))
    for name, inside in HOME_LAYOUT.items():
        assert getattr(s, name) == Path("/a") / inside and s.follows_home(name)
    assert default_home({"HOME": "/h", "LOCAL_ASSISTANTS_HOME": "~/la"}) == Path("~/la").expanduser()


def test_concurrent_runs_is_the_setting_or_sized_to_the_machine(monkeypatch):
    from local_assistants.config import Settings

    assert Settings(max_concurrent_runs=3).concurrent_runs == 3
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert Settings(max_kernels=8).concurrent_runs == 4
    assert Settings(max_kernels=3).concurrent_runs == 3
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert Settings(max_kernels=8).concurrent_runs == 2
    monkeypatch.setenv("LOCAL_ASSISTANTS_MAX_CONCURRENT_RUNS", "1")
    assert Settings.from_env().concurrent_runs == 1
