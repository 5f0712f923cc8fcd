"""The sandbox chain as built, before anything runs: what the kernel is started through, what
its bubblewrap options say (read from the descriptor they travel by), which host paths show,
and why the sandbox says it cannot run.  (What code inside cannot do:
``tests/tools/test_sandbox_attacks.py``.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import KERNEL_PYTHON
from local_assistants.adapters.sandbox import (CHAIN_ENV, KERNEL_NICE, CpuGroup, Launch, Limits, SandboxSpec,
                                               check_available, env_root, restore_priority)


def _bwrap_args(launch: Launch) -> list[str]:
    fd = int(launch.cmd[launch.cmd.index("--args") + 1])
    assert fd == launch.fds[-1]
    data = os.pread(fd, 1 << 20, 0)
    return [a.decode() for a in data.split(b"\0")[:-1]]


def _pairs(args: list[str], option: str) -> list[tuple[str, str]]:
    return [(args[i + 1], args[i + 2]) for i, a in enumerate(args) if a == option]


@pytest.fixture
def launch(tmp_path):
    spec = SandboxSpec(kernel_python=KERNEL_PYTHON, limits=Limits(address_space=1 << 30, processes=7))
    made = spec.launch([spec.kernel_python_inside(), "-c", "pass"], uid=61234, workdir=tmp_path / "work",
                       conn_dir=tmp_path / "conn", env_dir=tmp_path / "env")
    yield made
    made.close()


def test_the_chain_drops_to_the_uid_under_limits_with_nothing_of_the_servers_environment(launch):
    cmd = launch.cmd
    assert cmd[:3] == ["nice", "-n", str(KERNEL_NICE)]
    assert cmd.index("setpriv") < cmd.index("prlimit") < cmd.index("bwrap")  # the uid dropped before bwrap
    assert {"--reuid=61234", "--regid=61234", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"} <= set(cmd)
    assert {"--as=1073741824", "--nproc=7", "--core=0"} <= set(cmd)
    assert cmd[-3:] == ["/opt/kernel/bin/python", "-c", "pass"]
    assert launch.env == CHAIN_ENV and launch.env is not CHAIN_ENV
    assert not any(str(Path(KERNEL_PYTHON).parent) in a for a in cmd)  # host paths travel in the descriptor


def test_the_folders_are_bound_at_neutral_paths_and_the_rest_is_read_only(launch, tmp_path):
    args = _bwrap_args(launch)
    assert (str(tmp_path / "work"), "/mnt/data") in _pairs(args, "--bind")
    assert (str(tmp_path / "conn"), "/run/jupyter") in _pairs(args, "--bind")
    assert (str(tmp_path / "env"), "/opt/kernel") in _pairs(args, "--ro-bind")
    assert ("/usr", "/usr") in _pairs(args, "--ro-bind")
    assert {"--unshare-all", "--disable-userns", "--die-with-parent", "--clearenv"} <= set(args)
    assert args[args.index("--remount-ro") + 1] == "/"
    assert args.index("--tmpfs") < args.index("--bind")  # a later tmpfs on /tmp would hide binds below it
    assert args[args.index("--chdir") + 1] == "/mnt/data"
    assert "seccomp" not in " ".join(launch.cmd) and ("--seccomp" in args) == (len(launch.fds) == 2)


def test_closing_a_launch_closes_its_descriptors(launch):
    fds = launch.fds
    launch.close()
    assert launch.fds == ()
    for fd in fds:
        with pytest.raises(OSError):
            os.fstat(fd)
    launch.close()  # again: nothing left


def test_unsafe_runs_the_command_as_it_is_in_the_folder(tmp_path):
    spec = SandboxSpec(kernel_python=Path("/opt/k/bin/python"), unsafe=True)
    assert spec.kernel_python_inside() == "/opt/k/bin/python"
    made = spec.launch(["python", "-V"], uid=61234, workdir=tmp_path, conn_dir=tmp_path / "c")
    assert (made.cmd, made.cwd, made.fds) == (["python", "-V"], str(tmp_path), ())
    assert made.env == {**CHAIN_ENV, "HOME": str(tmp_path)}
    assert check_available(spec, tmp_path, 61234) is None


def test_the_kernel_python_is_seen_inside_its_environment():
    spec = SandboxSpec(kernel_python=Path("/srv/venv-k/bin/python3.11"))
    assert env_root(spec.kernel_python) == Path("/srv/venv-k")
    assert spec.kernel_python_inside() == "/opt/kernel/bin/python3.11"


def test_the_sandbox_says_why_it_cannot_run(tmp_path):
    missing = SandboxSpec(kernel_python=tmp_path / "none" / "bin" / "python")
    assert "is missing" in check_available(missing, tmp_path / "w", 61234)
    if os.geteuid() != 0:
        pytest.skip("the folder check comes after the root check")
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    os.chmod(closed, 0o700)
    why = check_available(SandboxSpec(kernel_python=KERNEL_PYTHON), closed / "probe", 61234)
    assert why is not None and f"but {closed} does not let others through" in why


def test_the_cpu_group_moves_processes_in_and_back_out(tmp_path):
    group = tmp_path / "parent" / "kernels"
    group.mkdir(parents=True)
    cpu = CpuGroup(group / "cgroup.procs")
    assert cpu.members() == set()  # not there yet
    cpu.add([123])
    assert cpu.members() == {123}
    cpu.release([123])
    assert (tmp_path / "parent" / "cgroup.procs").read_text() == "123"
    CpuGroup(tmp_path / "absent" / "cgroup.procs").add([1])  # a group gone meanwhile: nothing raised


def test_processes_about_to_be_killed_get_their_priority_back():
    if os.geteuid() != 0:
        pytest.skip("raising a priority takes root")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        os.setpriority(os.PRIO_PROCESS, child.pid, 15)  # as a kernel's chain leaves it
        assert os.getpriority(os.PRIO_PROCESS, child.pid) == 15
        restore_priority([child.pid, 2_000_000_000])  # one of them already gone
        assert os.getpriority(os.PRIO_PROCESS, child.pid) == 0
    finally:
        child.kill()
        child.wait()
