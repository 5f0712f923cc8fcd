"""The kernel sandbox: bubblewrap around the kernel command, as an unprivileged uid.

    setpriv (drop to the slot's uid, no capabilities)
      -> prlimit (address space, processes, open files, file size, no core)
        -> bwrap (new namespaces: no network; read-only system; private /tmp of
                  bounded size; the thread's folder at /mnt/data; scrubbed env)
          -> python -m ipykernel_launcher -f <connection file>

Privileges are dropped *before* bwrap so that files the code writes belong to
the sandbox uid, not to real root.  The kernel's Python is a separate
environment (``.venv-kernel``, made from the system Python) so that the
sandbox uid can read it and the server's own packages stay out of reach.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Limits:
    address_space: int = 2 << 30
    processes: int = 128
    open_files: int = 256
    file_size: int = 256 << 20
    tmp_size: int = 64 << 20


@dataclass(frozen=True)
class SandboxSpec:
    kernel_python: Path
    limits: Limits = field(default_factory=Limits)
    unsafe: bool = False
    """No sandbox at all: only for machines where bubblewrap cannot run, by explicit choice."""

    def command(self, argv: list[str], *, uid: int, workdir: Path, conn_dir: Path) -> list[str]:
        if self.unsafe:
            return argv
        env_root = _env_root(self.kernel_python)
        lim = self.limits
        cmd = [
            "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--",
            "prlimit", f"--as={lim.address_space}", f"--nproc={lim.processes}", f"--nofile={lim.open_files}",
            f"--fsize={lim.file_size}", "--core=0", "--",
            "bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
            "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
            "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
            "--ro-bind-try", "/etc/alternatives", "/etc/alternatives",
            "--ro-bind-try", "/etc/fonts", "/etc/fonts",
            "--proc", "/proc", "--dev", "/dev",
            # The tmpfs first: mounted after a bind below /tmp it would hide it.
            "--size", str(lim.tmp_size), "--tmpfs", "/tmp",
        ]
        for root in env_root:
            cmd += ["--ro-bind", str(root), str(root)]
        cmd += [
            "--bind", str(conn_dir), str(conn_dir),
            "--bind", str(workdir), "/mnt/data",
            "--chdir", "/mnt/data",
            "--remount-ro", "/",
            "--clearenv",
            "--setenv", "HOME", "/tmp",
            "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin",
            "--setenv", "MPLBACKEND", "module://matplotlib_inline.backend_inline",
            "--setenv", "MPLCONFIGDIR", "/tmp",
            "--setenv", "OPENBLAS_NUM_THREADS", "1",
            "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            "--",
            *argv,
        ]
        return cmd


def _env_root(python: Path) -> list[Path]:
    """Folders the kernel's Python needs: its environment (and its base install
    when that lies outside /usr)."""
    python = Path(python)
    env = python.parent.parent
    roots = [env]
    real = Path(os.path.realpath(python))
    if not str(real).startswith("/usr/") and not str(real).startswith(str(env) + "/"):
        roots.append(real.parent.parent)
    return roots


def check_available(spec: SandboxSpec, workdir: Path, uid: int) -> str | None:
    """None when the sandbox can run here; otherwise why not (said to the user as is)."""
    if spec.unsafe:
        return None
    if not Path(spec.kernel_python).exists():
        return (f"The code interpreter's Python ({spec.kernel_python}) is missing: run `make install` "
                "or set LOCAL_ASSISTANTS_KERNEL_PYTHON.")
    for tool in ("bwrap", "setpriv", "prlimit"):
        if shutil.which(tool) is None:
            return (f"The code interpreter needs '{tool}' for its sandbox (Debian packages bubblewrap and "
                    "util-linux); it refuses to run code unsandboxed unless LOCAL_ASSISTANTS_UNSAFE_KERNEL=1.")
    if os.geteuid() != 0:
        return "The code interpreter's sandbox drops to a dedicated uid, which needs the server to run as root."
    workdir.mkdir(parents=True, exist_ok=True)
    for folder in [workdir, *workdir.parents]:
        if not os.stat(folder).st_mode & 0o001:
            return (f"The code interpreter's folders ({workdir.parent}) must be reachable by its sandbox uid, "
                    f"but {folder} does not let others through (chmod o+x, or set LOCAL_ASSISTANTS_SANDBOX_DIR).")
    probe = spec.command([str(spec.kernel_python), "-c", "pass"], uid=uid, workdir=workdir, conn_dir=workdir)
    try:
        done = subprocess.run(probe, capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"The kernel sandbox could not start: {err}"
    if done.returncode != 0:
        return ("The kernel sandbox (bubblewrap) cannot run here: "
                + done.stderr.decode(errors="replace").strip()[:300])
    return None
