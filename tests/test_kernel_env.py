"""The kernels' Python environment made by the package (`local-assistants setup`): from a Python the
sandbox uid can read, every file readable by others, kept when up to date, never made over a
folder that is not one."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from local_assistants.kernel_env import (
    STAMP,
    KernelEnvError,
    base_python,
    create_kernel_env,
    is_up_to_date,
    requirement_lines,
    unreadable_by_others,
)

from conftest import REPO

CLI = Path(sys.executable).parent / "local-assistants"


def test_the_requirements_ship_in_the_package():
    lines = requirement_lines()
    assert any(line.startswith("ipykernel") for line in lines)
    assert all(not line.startswith("#") for line in lines)
    assert requirement_lines("# c\nnumpy>=1  # why\n\nsympy\n") == ["numpy>=1", "sympy"]


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox uid matters only as root")
def test_the_base_python_is_one_the_sandbox_uid_can_read():
    python, why = base_python(need_reachable=True)
    assert python is not None, why
    assert unreadable_by_others(python) is None


def test_an_explicit_base_python_that_others_cannot_read_is_refused(tmp_path):
    private = tmp_path / "private"
    private.mkdir()
    os.chmod(private, 0o700)
    fake = private / "python3"
    fake.symlink_to(sys.executable)
    python, why = base_python(need_reachable=True, explicit=fake)
    assert python is None and str(fake) in why


def test_an_environment_is_made_readable_by_others_and_kept_when_up_to_date(tmp_path):
    base, _ = base_python(need_reachable=os.geteuid() == 0)
    env = tmp_path / "kenv"
    old = os.umask(0o077)  # a private umask must not leak into the environment's modes
    try:
        assert create_kernel_env(env, base, requirements=[], out=sys.stderr) is True
    finally:
        os.umask(old)
    assert is_up_to_date(env, base, [])
    for folder, dirs, files in os.walk(env):
        for name in [*dirs, *files]:
            st = os.lstat(os.path.join(folder, name))
            if stat.S_ISLNK(st.st_mode):
                continue
            assert st.st_mode & stat.S_IROTH, os.path.join(folder, name)
            if stat.S_ISDIR(st.st_mode):
                assert st.st_mode & stat.S_IXOTH, os.path.join(folder, name)
    ran = subprocess.run([str(env / "bin" / "python"), "-c", "import sys; print(sys.prefix)"],
                         capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == str(env)
    marker = env / "marker"
    marker.write_text("kept")
    assert create_kernel_env(env, base, requirements=[], out=sys.stderr) is False  # up to date: untouched
    assert marker.read_text() == "kept"
    (env / STAMP).unlink()  # an interrupted setup: done again, in the same environment
    assert create_kernel_env(env, base, requirements=[], out=sys.stderr) is True
    assert is_up_to_date(env, base, []) and marker.exists()


def test_a_folder_that_is_not_an_environment_is_never_replaced(tmp_path):
    base, _ = base_python(need_reachable=False)
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "precious.txt").write_text("keep me")
    with pytest.raises(KernelEnvError, match="not a virtual environment"):
        create_kernel_env(folder, base, requirements=[])
    assert (folder / "precious.txt").read_text() == "keep me"


def test_setup_keeps_an_up_to_date_environment(tmp_path):
    """What `make install` runs each time: the repository's environment is kept as it is."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCAL_ASSISTANTS_")}
    env["LOCAL_ASSISTANTS_HOME"] = str(REPO)
    done = subprocess.run([str(CLI), "setup", "--no-model"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(up to date;" in done.stdout
    assert list(tmp_path.iterdir()) == []
