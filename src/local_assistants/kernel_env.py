"""Where the code interpreter's kernels live, and the kernels' Python environment.

The sandbox runs each kernel as an unprivileged uid, so two things must be
reachable by a stranger: the kernels' folders (``sandbox/``) and the kernels'
Python (``.venv-kernel/``): every folder on the way traversable by others
(``o+x``), the environment's files readable (``o+r``).  A home under a private
folder is not (root's home is 0700 on Debian); the runtime then keeps those two
in a folder of its own, ``/var/lib/local-assistants/<hash of the home>/``
(root's, 0755, a ``HOME`` file inside naming the home it serves), and says so.
Settings that name these paths explicitly are used as given.

``local-assistants setup`` makes the kernels' environment from a Python the
sandbox uid can read (the system's ``/usr/bin/python3`` when the running one
lies under a private folder, e.g. pyenv in ``/root``) and installs
``kernel-requirements.txt`` (shipped in the package) into it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TextIO

from .config import Settings

SHARED_ROOT = Path("/var/lib/local-assistants")
"""Parent of the kernels' roots of homes the sandbox uid cannot reach."""
KERNEL_ENV_NAME = ".venv-kernel"
REQUIREMENTS = "kernel-requirements.txt"
STAMP = ".installed"
_SYSTEM_PYTHONS = (Path("/usr/bin/python3"), Path("/usr/local/bin/python3"))


class KernelEnvError(RuntimeError):
    """The kernels' folder or environment cannot be made; the message says what to do."""


# -- reachability ------------------------------------------------------------------
def blocking_folder(path: Path) -> Path | None:
    """The first existing folder on the way to ``path`` (``path`` included) that others
    cannot pass through (no ``o+x``), or None.  Folders still to be made do not count:
    they are made 0755."""
    path = Path(path).absolute()
    for folder in reversed([path, *path.parents]):
        try:
            st = os.stat(folder)
        except FileNotFoundError:
            return None
        if stat.S_ISDIR(st.st_mode) and not st.st_mode & stat.S_IXOTH:
            return folder
    return None


def unreadable_by_others(path: Path) -> Path | None:
    """The first thing that keeps others from running the file ``path`` (a folder on the
    way they cannot pass, or the file itself not ``o+rx``), or None.  Both the way to the
    path as named (the sandbox binds that) and the way to the file a link leads to count."""
    blocked = blocking_folder(Path(path).absolute().parent)
    if blocked is not None:
        return blocked
    real = Path(os.path.realpath(path))
    blocked = blocking_folder(real.parent)
    if blocked is not None:
        return blocked
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        return real
    return None if mode & stat.S_IROTH and mode & stat.S_IXOTH else real


def _mode(path: Path) -> str:
    try:
        return oct(os.stat(path).st_mode & 0o777)[2:].rjust(4, "0")
    except OSError:
        return "?"


@dataclass(frozen=True)
class KernelPlace:
    """Where this runtime's kernels' folders and Python are."""

    root: Path
    """The folder holding both when they follow the home: the home or a shared root."""
    sandbox_dir: Path
    kernel_python: Path
    blocked_by: Path | None = None
    """The private folder that made the runtime move them out of the home (None: not moved)."""
    home: Path | None = None

    @property
    def moved(self) -> bool:
        return self.blocked_by is not None

    @property
    def kernel_env(self) -> Path:
        """The environment ``kernel_python`` belongs to (``.../bin/python`` -> ``...``)."""
        return self.kernel_python.parent.parent

    def describe(self) -> str:
        where = f"kernels' folders in {self.sandbox_dir}, their Python {self.kernel_python}"
        if not self.moved:
            return where
        return (f"{where}: the home {self.home} is not reachable by the sandbox uid "
                f"({self.blocked_by} is {_mode(self.blocked_by)}), so they live in {self.root}")


def shared_root_for(home: Path) -> Path:
    return SHARED_ROOT / hashlib.sha256(str(Path(home).absolute()).encode()).hexdigest()[:16]


def locate(settings: Settings, *, euid: int | None = None) -> KernelPlace:
    """Where the kernels' folders and Python are for ``settings``: in the home, unless the
    sandbox (which needs root to drop to its uid) could not reach it there."""
    euid = os.geteuid() if euid is None else euid
    home = settings.home
    blocked = blocking_folder(home) if euid == 0 else None
    root = shared_root_for(home) if blocked is not None else home
    sandbox_dir = root / "sandbox" if settings.follows_home("sandbox_dir") else settings.sandbox_dir
    kernel_python = (root / KERNEL_ENV_NAME / "bin" / "python" if settings.follows_home("kernel_python")
                     else settings.kernel_python)
    return KernelPlace(root=root, sandbox_dir=sandbox_dir, kernel_python=kernel_python,
                       blocked_by=blocked, home=home if blocked is not None else None)


def make_dirs(path: Path, mode: int = 0o755) -> None:
    """``mkdir -p`` whose new folders get ``mode`` whatever the umask."""
    path = Path(path)
    missing = []
    for folder in [path, *path.parents]:
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=mode)
        except FileExistsError:
            continue
        os.chmod(folder, mode)


def prepare(place: KernelPlace) -> None:
    """Make the kernels' root when it was moved out of the home: root's, 0755, no link on
    the way, and a ``HOME`` file naming the home; then the sandbox folder, 0755."""
    if place.moved:
        if not SHARED_ROOT.parent.is_dir():
            raise KernelEnvError(f"{SHARED_ROOT.parent} does not exist: set LOCAL_ASSISTANTS_SANDBOX_DIR and "
                                 "LOCAL_ASSISTANTS_KERNEL_PYTHON to places the sandbox uid can reach")
        for folder in (SHARED_ROOT, place.root):
            try:
                os.mkdir(folder, 0o755)
            except FileExistsError:
                pass
            st = os.lstat(folder)
            if not stat.S_ISDIR(st.st_mode):
                raise KernelEnvError(f"{folder} is not a folder (a link?): remove it, then start again")
            if st.st_uid != os.geteuid():
                raise KernelEnvError(f"{folder} belongs to uid {st.st_uid}, not to this server's: remove it "
                                     "or set LOCAL_ASSISTANTS_SANDBOX_DIR")
            if stat.S_IMODE(st.st_mode) != 0o755:
                os.chmod(folder, 0o755)  # others pass and read, only the owner writes
        note = place.root / "HOME"
        text = f"{place.home}\n"
        try:
            current = note.read_text() if not note.is_symlink() else None
        except OSError:
            current = None
        if current != text:
            note.unlink(missing_ok=True)
            fd = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "w") as f:
                f.write(text)
    make_dirs(place.sandbox_dir)


# -- the kernels' Python ---------------------------------------------------------
def requirements_text() -> str:
    """``kernel-requirements.txt`` as shipped in the package."""
    return resources.files(__package__).joinpath(REQUIREMENTS).read_text(encoding="utf-8")


def requirement_lines(text: str | None = None) -> list[str]:
    text = requirements_text() if text is None else text
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def _base_of(python: Path) -> Path:
    """The interpreter a virtual environment's python stands for (itself otherwise)."""
    python = Path(python)
    cfg = python.parent.parent / "pyvenv.cfg"
    if cfg.is_file():
        for line in cfg.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home":
                candidate = Path(value.strip()) / python.name
                if candidate.exists():
                    return candidate
    return python


def base_python(*, need_reachable: bool, explicit: Path | None = None) -> tuple[Path | None, str]:
    """The Python to make the kernels' environment from, and why it was chosen (or why none was).

    When the sandbox will run (``need_reachable``), it must be readable and runnable by
    others, standard library included: the running interpreter if so, else the system's."""
    candidates = [Path(explicit)] if explicit else [
        Path(getattr(sys, "_base_executable", sys.executable)), _base_of(Path(sys.executable)),
        *_SYSTEM_PYTHONS]
    refused = []
    for python in dict.fromkeys(candidates):
        if not python.exists():
            continue
        if not need_reachable:
            return python, "the running Python"
        blocked = unreadable_by_others(python) or _stdlib_blocked(python)
        if blocked is None:
            return python, f"readable by the sandbox uid"
        refused.append(f"{python} ({blocked} is {_mode(blocked)})")
    if explicit:
        return None, f"{explicit} is not readable by the sandbox uid: " + "; ".join(refused)
    return None, ("no Python readable by the sandbox uid was found (tried: " + "; ".join(refused or ["none"])
                  + "); install the system's (apt-get install -y python3 python3-venv) or pass --python")


def _stdlib_blocked(python: Path) -> Path | None:
    try:
        done = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return Path(python)
    if done.returncode != 0:
        return Path(python)
    return blocking_folder(Path(done.stdout.strip()))


def fingerprint(base: Path, requirements: list[str]) -> str:
    """What the environment was made from: a different base or requirement list remakes it."""
    h = hashlib.sha256()
    h.update(os.path.realpath(base).encode())
    for line in requirements:
        h.update(b"\0" + line.encode())
    return h.hexdigest()


def is_up_to_date(env: Path, base: Path, requirements: list[str]) -> bool:
    stamp = Path(env) / STAMP
    python = Path(env) / "bin" / "python"
    try:
        return python.exists() and stamp.read_text().strip() == fingerprint(base, requirements)
    except OSError:
        return False


def open_to_others(root: Path) -> None:
    """Let others read every file and pass every folder under ``root`` (links left alone)."""
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                continue
            mode = stat.S_IMODE(st.st_mode)
            want = mode | 0o044 | (0o011 if stat.S_ISDIR(st.st_mode) or mode & 0o100 else 0)
            if want != mode:
                os.chmod(path, want)
    os.chmod(root, stat.S_IMODE(os.stat(root).st_mode) | 0o055)


def create_kernel_env(env: Path, base: Path, *, requirements: list[str] | None = None, force: bool = False,
                      out: TextIO | None = None) -> bool:
    """Make (or bring up to date) the kernels' environment at ``env``; False when it already was.

    ``python -m venv`` from ``base``, the requirements installed with its pip, every file
    opened to others, then a stamp with the fingerprint; an interrupted setup leaves no
    stamp and is done again."""
    env = Path(env).absolute()
    requirements = requirement_lines() if requirements is None else requirements
    if not force and is_up_to_date(env, base, requirements):
        return False
    out = sys.stderr if out is None else out
    python = env / "bin" / "python"
    if env.exists():
        if not (env / "pyvenv.cfg").is_file():
            raise KernelEnvError(f"{env} exists and is not a virtual environment: remove it or choose another "
                                 "LOCAL_ASSISTANTS_KERNEL_PYTHON")
        (env / STAMP).unlink(missing_ok=True)
        if force or not _works(python) or os.path.realpath(python) != os.path.realpath(base):
            shutil.rmtree(env)  # made from another Python, or broken: start clean
    if not env.exists():
        make_dirs(env.parent)
        print(f"making the kernels' environment {env} from {base}", file=out, flush=True)
        _run([str(base), "-m", "venv", str(env)], out)
    if requirements:
        print(f"installing into it: {', '.join(requirements)}", file=out, flush=True)
        _run([str(python), "-m", "pip", "install", "--disable-pip-version-check",
              "--no-input", *requirements], out)
    open_to_others(env)
    (env / STAMP).write_text(fingerprint(base, requirements) + "\n")
    os.chmod(env / STAMP, 0o644)
    return True


def _works(python: Path) -> bool:
    try:
        return subprocess.run([str(python), "-c", "pass"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _run(cmd: list[str], out: TextIO) -> None:
    """A setup step, its output going to ``out`` (a stream without a descriptor gets it afterwards)."""
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None
    try:
        done = subprocess.run(cmd, stdout=fd if fd is not None else subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, umask=0o022, text=fd is None)
    except OSError as err:
        raise KernelEnvError(f"could not run {cmd[0]}: {err}") from err
    if fd is None and done.stdout:
        out.write(done.stdout)
    if done.returncode != 0:
        raise KernelEnvError(f"`{' '.join(cmd)}` failed (exit status {done.returncode})")


__all__ = [
    "KernelEnvError",
    "KernelPlace",
    "SHARED_ROOT",
    "base_python",
    "blocking_folder",
    "create_kernel_env",
    "locate",
    "make_dirs",
    "prepare",
    "requirement_lines",
    "unreadable_by_others",
]
