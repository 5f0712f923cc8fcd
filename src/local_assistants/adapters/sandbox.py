"""The kernel sandbox: bubblewrap around the kernel command, as an unprivileged uid.

    nice (lower CPU priority, inherited by everything below)
      -> setpriv (drop to the slot's uid, no capabilities)
        -> prlimit (address space, processes, open files, file size, no core)
          -> bwrap (new namespaces: no network; read-only system; private /tmp of
                    bounded size; the thread's disk at /mnt/data; a seccomp filter)
            -> python -m ipykernel_launcher -f /run/jupyter/kernel.json

Privileges are dropped *before* bwrap so that files the code writes belong to
the sandbox uid, not to real root.  The kernel's Python is a separate
environment (``.venv-kernel``, made from the system Python) so that the
sandbox uid can read it and the server's own packages stay out of reach.

Nothing of the host shows inside: the whole chain starts from an explicit
minimal environment (bwrap is pid 1 inside, and its ``/proc/1/environ`` is
readable there), bwrap reads its arguments from a file descriptor (so
``/proc/1/cmdline`` is ``bwrap --args 3``), and every folder is mounted at a
neutral path (``/opt/kernel``, ``/run/jupyter``, ``/mnt/data``) from a source
whose own path does not show in ``/proc/self/mountinfo`` (see ``workspace``).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from . import seccomp

log = logging.getLogger(__name__)

KERNEL_NICE = 10
"""Niceness of every kernel process (0 is normal, 19 the lowest): model decoding comes first."""
CPU_GROUP_NAME = "local-assistants-kernels"
CPU_GROUP_SHARES = 128
"""cgroup v1 ``cpu.shares`` of the kernels' group: 1/8 of a normal group's 1024."""
CPU_GROUP_WEIGHT = 10
"""cgroup v2 ``cpu.weight`` of the kernels' group: 1/10 of the default 100."""

# Where things are inside the sandbox.
DATA_DIR = "/mnt/data"
CONN_DIR = "/run/jupyter"
ENV_DIR = "/opt/kernel"

HOST_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
CHAIN_ENV = {"PATH": HOST_PATH, "LANG": "C.UTF-8"}
"""The whole environment of the sandbox chain: nothing of the server's own."""


@dataclass(frozen=True)
class Limits:
    address_space: int = 2 << 30
    processes: int = 128
    open_files: int = 256
    file_size: int = 256 << 20
    tmp_size: int = 64 << 20


@dataclass
class Launch:
    """A command to start, the environment and the file descriptors it must be given."""

    cmd: list[str]
    env: dict[str, str]
    fds: tuple[int, ...] = ()
    cwd: str = "/"

    def close(self) -> None:
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = ()


@dataclass(frozen=True)
class SandboxSpec:
    kernel_python: Path
    limits: Limits = field(default_factory=Limits)
    unsafe: bool = False
    """No sandbox at all: only for machines where bubblewrap cannot run, by explicit choice."""

    def kernel_python_inside(self, env_dir: Path | None = None) -> str:
        """The kernel's Python as the sandbox sees it (its environment at ENV_DIR)."""
        if self.unsafe:
            return str(self.kernel_python)
        env = env_root(self.kernel_python)
        return str(Path(ENV_DIR) / Path(self.kernel_python).absolute().relative_to(env))

    def launch(self, argv: list[str], *, uid: int, workdir: Path, conn_dir: Path,
               env_dir: Path | None = None) -> Launch:
        """The sandbox chain around ``argv``.  ``workdir`` is bound at /mnt/data, ``conn_dir``
        at /run/jupyter and ``env_dir`` (the kernel's environment, or a mount of it) at
        /opt/kernel."""
        if self.unsafe:
            return Launch(list(argv), {**CHAIN_ENV, "HOME": str(workdir)}, cwd=str(workdir))
        lim = self.limits
        env = env_root(self.kernel_python)
        bwrap_args = [
            "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
            "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
            "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
            "--ro-bind-try", "/etc/alternatives", "/etc/alternatives",
            "--ro-bind-try", "/etc/fonts", "/etc/fonts",
            "--proc", "/proc", "--dev", "/dev",
            # The tmpfs first: mounted after a bind below /tmp it would hide it.
            "--size", str(lim.tmp_size), "--tmpfs", "/tmp",
            "--ro-bind", str(env_dir or env), ENV_DIR,
        ]
        base = _outside_base(self.kernel_python, env)
        if base is not None:  # the environment's Python links to an install outside /usr
            bwrap_args += ["--ro-bind", str(base), str(base)]
        bwrap_args += [
            "--bind", str(conn_dir), CONN_DIR,
            "--bind", str(workdir), DATA_DIR,
            "--chdir", DATA_DIR,
            "--remount-ro", "/",
            "--clearenv",
            "--setenv", "HOME", "/tmp",
            "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
            "--setenv", "MPLBACKEND", "module://matplotlib_inline.backend_inline",
            "--setenv", "MPLCONFIGDIR", "/tmp",
            "--setenv", "OPENBLAS_NUM_THREADS", "1",
            "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
        ]
        fds: list[int] = []
        try:
            filter_program = seccomp.program()
            if filter_program is not None:
                fds.append(_memfd("seccomp", filter_program))
                bwrap_args += ["--seccomp", str(fds[-1])]
            else:
                log.warning("no seccomp filter for this architecture: kernels run without one")
            # The options travel through a descriptor: bwrap is pid 1 in the sandbox, and
            # its command line (host paths included) would be readable there.
            fds.append(_memfd("bwrap-args", b"".join(a.encode() + b"\0" for a in bwrap_args)))
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        cmd = [
            "nice", "-n", str(KERNEL_NICE),
            "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--",
            "prlimit", f"--as={lim.address_space}", f"--nproc={lim.processes}", f"--nofile={lim.open_files}",
            f"--fsize={lim.file_size}", "--core=0", "--nice=0", "--",
            "bwrap", "--args", str(fds[-1]), "--", *argv,
        ]
        return Launch(cmd, dict(CHAIN_ENV), tuple(fds))


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name)  # close-on-exec: handed on only through pass_fds
    try:
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def env_root(python: Path) -> Path:
    """The kernel Python's environment (``<env>/bin/python``)."""
    return Path(python).absolute().parent.parent


def _outside_base(python: Path, env: Path) -> Path | None:
    """The base install a venv's Python links to, when it lies outside /usr and the env."""
    real = Path(os.path.realpath(python))
    if str(real).startswith("/usr/") or str(real).startswith(str(env) + "/"):
        return None
    return real.parent.parent


class CpuGroup:
    """The cgroup every kernel process is moved into, with a low CPU weight.

    Where the machine has no writable cpu controller, kernels get only their
    niceness; neither is a cap: a kernel still uses cores nobody else wants.
    """

    def __init__(self, procs_file: Path):
        self.procs_file = procs_file
        self.parent_procs_file = procs_file.parent.parent / "cgroup.procs"

    @classmethod
    def create(cls) -> "CpuGroup | None":
        try:
            v1 = _cgroup_v1_cpu_root()
            if v1 is not None:
                group = v1 / CPU_GROUP_NAME
                group.mkdir(exist_ok=True)
                (group / "cpu.shares").write_text(str(CPU_GROUP_SHARES))
                return cls(group / "cgroup.procs")
            v2 = Path("/sys/fs/cgroup")
            if "cpu" in (v2 / "cgroup.controllers").read_text().split():
                if "cpu" not in (v2 / "cgroup.subtree_control").read_text().split():
                    (v2 / "cgroup.subtree_control").write_text("+cpu")
                group = v2 / CPU_GROUP_NAME
                group.mkdir(exist_ok=True)
                (group / "cpu.weight").write_text(str(CPU_GROUP_WEIGHT))
                return cls(group / "cgroup.procs")
        except OSError as err:
            log.info("no cgroup for the kernels (%s): they run at nice %d only", err, KERNEL_NICE)
        return None

    def add(self, pids: list[int]) -> None:
        for pid in pids:
            try:
                self.procs_file.write_text(str(pid))
            except OSError:  # gone meanwhile
                pass

    def release(self, pids: list[int]) -> None:
        """Back to the parent group (to die quickly: exiting takes CPU time too)."""
        for pid in pids:
            try:
                self.parent_procs_file.write_text(str(pid))
            except OSError:
                pass

    def members(self) -> set[int]:
        try:
            return {int(p) for p in self.procs_file.read_text().split()}
        except OSError:
            return set()


def restore_priority(pids: list[int]) -> None:
    """Normal niceness for every thread of ``pids``: processes about to be killed exit at the
    speed of their priority, and a slot's uid is reused only once they are gone."""
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                os.setpriority(os.PRIO_PROCESS, int(tid), 0)
            except OSError:
                pass


def _cgroup_v1_cpu_root() -> Path | None:
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split()
        if len(parts) >= 4 and parts[2] == "cgroup" and "cpu" in parts[3].split(","):
            return Path(parts[1])
    return None


def check_available(spec: SandboxSpec, workdir: Path, uid: int) -> str | None:
    """None when the sandbox can run here; otherwise why not (said to the user as is)."""
    if spec.unsafe:
        return None
    if not Path(spec.kernel_python).exists():
        return (f"The code interpreter's Python ({spec.kernel_python}) is missing: run `make install` "
                "or set LOCAL_ASSISTANTS_KERNEL_PYTHON.")
    for tool in ("bwrap", "setpriv", "prlimit", "nice"):
        if shutil.which(tool, path=HOST_PATH) is None:
            return (f"The code interpreter needs '{tool}' for its sandbox (Debian packages bubblewrap and "
                    "util-linux); it refuses to run code unsandboxed unless LOCAL_ASSISTANTS_UNSAFE_KERNEL=1.")
    if os.geteuid() != 0:
        return "The code interpreter's sandbox drops to a dedicated uid, which needs the server to run as root."
    workdir.mkdir(parents=True, exist_ok=True)
    for folder in [workdir, *workdir.parents]:
        if not os.stat(folder).st_mode & 0o001:
            return (f"The code interpreter's folders ({workdir.parent}) must be reachable by its sandbox uid, "
                    f"but {folder} does not let others through (chmod o+x, or set LOCAL_ASSISTANTS_SANDBOX_DIR).")
    from .workspace import check_mounts  # the sandbox folders are mounts

    why = check_mounts(workdir)
    if why is not None:
        return why
    launch = spec.launch([spec.kernel_python_inside(), "-c", "pass"], uid=uid, workdir=workdir, conn_dir=workdir)
    try:
        done = subprocess.run(launch.cmd, env=launch.env, pass_fds=launch.fds, capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"The kernel sandbox could not start: {err}"
    finally:
        launch.close()
    if done.returncode != 0:
        return ("The kernel sandbox (bubblewrap) cannot run here: "
                + done.stderr.decode(errors="replace").strip()[:300])
    return None
