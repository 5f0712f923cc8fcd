"""One home: a runtime keeps models, data and the kernels' folders under it, never in the caller's
working directory; the kernels' folders move where the sandbox uid can reach them when the home is
private.  (How the settings find the home and its paths: ``test_config.py``.)"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from local_assistants import Runtime, Settings
from local_assistants.kernel_env import (
    SHARED_ROOT,
    KernelEnvError,
    blocking_folder,
    locate,
    make_dirs,
    prepare,
    shared_root_for,
)

from conftest import KERNEL_PYTHON, MODELS_DIR, SANDBOX_ROOT

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox drops to its uid only as root")


# -- where a runtime keeps its things (the settings themselves: test_config.py) ------------
def test_a_runtime_leaves_the_working_directory_alone(tmp_path, monkeypatch):
    """The issue: `data/` and `sandbox/` appeared in whatever folder the program ran from."""
    cwd = tmp_path / "my-project"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    home = tmp_path / "home"
    settings = Settings.from_env(environ={"LOCAL_ASSISTANTS_HOME": str(home)})
    with Runtime(settings, start_worker=False) as rt:
        assert rt.threads  # a working runtime
        sandbox_dir = rt.kernel_place.sandbox_dir
    try:
        assert list(cwd.iterdir()) == []
        assert (home / "data" / "local_assistants.db").is_file()
        assert sandbox_dir.is_dir()
    finally:
        if rt.kernel_place.moved:
            shutil.rmtree(rt.kernel_place.root, ignore_errors=True)


# -- the kernels' folders -------------------------------------------------------------
def test_new_folders_are_reachable_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        make_dirs(tmp_path / "a" / "b" / "c")
    finally:
        os.umask(old)
    for folder in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o755


@as_root
def test_blocking_folder():
    base = SANDBOX_ROOT / "blocking"  # reachable by the sandbox uid, as the tests' kernels' folders are
    make_dirs(base / "private")
    try:
        assert blocking_folder(base / "private" / "home" / "sandbox") is None
        os.chmod(base / "private", 0o700)
        assert blocking_folder(base / "private" / "home" / "sandbox") == base / "private"
        assert blocking_folder(base / "private") == base / "private"
        os.chmod(base / "private", 0o711)  # others may pass without listing it
        assert blocking_folder(base / "private" / "home" / "sandbox") is None
    finally:
        shutil.rmtree(base)
    assert blocking_folder(Path("/usr/bin")) is None


@pytest.fixture
def private_home(tmp_path):
    """A home under a folder others cannot pass (as root's home is 0700)."""
    private = tmp_path / "private"
    private.mkdir()
    os.chmod(private, 0o700)
    home = private / "home"
    yield home
    shutil.rmtree(shared_root_for(home), ignore_errors=True)


@as_root
def test_a_private_home_moves_the_kernels_to_a_root_of_their_own(private_home):
    settings = Settings(home=private_home)
    place = locate(settings)
    assert place.moved and place.blocked_by is not None
    assert place.root == shared_root_for(private_home) and place.root.parent == SHARED_ROOT
    assert place.sandbox_dir == place.root / "sandbox"
    assert place.kernel_python == place.root / ".venv-kernel" / "bin" / "python"
    assert str(place.root) in place.describe() and str(place.blocked_by) in place.describe()
    prepare(place)
    for folder in (SHARED_ROOT, place.root, place.sandbox_dir):
        st = os.lstat(folder)
        assert stat.S_ISDIR(st.st_mode) and st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o755
    assert (place.root / "HOME").read_text() == f"{private_home}\n"
    assert blocking_folder(place.sandbox_dir) is None
    prepare(place)  # again: nothing to do, nothing breaks
    # Paths that were set are used as given.
    explicit = locate(Settings(home=private_home, sandbox_dir=private_home / "sb", kernel_python=KERNEL_PYTHON))
    assert explicit.sandbox_dir == private_home / "sb" and explicit.kernel_python == KERNEL_PYTHON


@as_root
def test_a_moved_root_that_is_a_link_or_someone_elses_is_refused(private_home, tmp_path):
    place = locate(Settings(home=private_home))
    SHARED_ROOT.mkdir(mode=0o755, exist_ok=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    place.root.symlink_to(elsewhere)
    try:
        with pytest.raises(KernelEnvError, match="not a folder"):
            prepare(place)
    finally:
        place.root.unlink()
    place.root.mkdir()
    os.chown(place.root, 12345, 12345)
    with pytest.raises(KernelEnvError, match="belongs to uid 12345"):
        prepare(place)
    assert list(elsewhere.iterdir()) == []


@as_root
def test_code_runs_sandboxed_when_the_home_is_private(private_home):
    """The kernels' folders follow the home into a private folder the sandbox uid cannot pass:
    the runtime puts them elsewhere, and code still runs, as the sandbox uid."""
    settings = Settings(home=private_home, models_dir=MODELS_DIR, kernel_python=KERNEL_PYTHON)
    with Runtime(settings, start_worker=False) as rt:
        assert rt.kernel_place.moved
        assert rt.code_interpreter._availability() is None
        kernel, _ = rt.kernels.kernel_for("thread_home")
        done = kernel.execute("import os; print(6 * 7, os.getuid() != 0, os.getcwd())")
        assert done.stdout.split() == ["42", "True", "/mnt/data"]
        assert rt.kernels.workspaces.root == shared_root_for(private_home) / "sandbox"


@as_root
def test_an_unreachable_folder_that_was_set_fails_the_code_interpreter_with_the_reason(private_home):
    """Never silently: a sandbox folder set explicitly under a private folder is used as given,
    and the code interpreter says why it cannot run there."""
    settings = Settings(home=private_home, models_dir=MODELS_DIR, kernel_python=KERNEL_PYTHON,
                        sandbox_dir=private_home / "sb")
    with Runtime(settings, start_worker=False) as rt:
        why = rt.code_interpreter._availability()
    assert why is not None and "reachable by its sandbox uid" in why and str(private_home.parent) in why
