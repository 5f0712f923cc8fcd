"""The package as users get it: a wheel built from the repository, installed into a fresh virtual
environment, runs the README's Python snippet from an unrelated folder, with nothing but the
documented steps (`local-assistants models pull`) done before, in the default home.

To stay quick the new environment installs only the wheel (`--no-deps`); a .pth file lends it the
heavy dependencies already installed in this one (llama-cpp-python, torch, ...). .pth files in a
folder added that way are not run, so this environment's editable install of the source tree
stays out of sight: the test checks that the import comes from the wheel."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from local_assistants.catalog import CATALOG

from conftest import MODELS_DIR, REPO

SMALL = "smollm2-135m-instruct"


def readme_snippet() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Using it from Python"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """`python -m build --wheel` of a copy of the sources (the repository gets no build/ folder)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src-copy"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    done = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp / "dist"),
                           str(src)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    [built] = (tmp / "dist").glob("local_assistants-*.whl")
    return built


def test_the_wheel_carries_the_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "local_assistants/kernel-requirements.txt" in names
    assert "local_assistants/bench/tutor/data/gsm8k/test.jsonl" in names
    for page in ("index.html", "app.js", "markdown.js", "style.css"):
        assert f"local_assistants/server/playground/{page}" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_the_installed_wheel_runs_the_readme_snippet_from_any_folder(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "--disable-pip-version-check", "--quiet", str(wheel)], check=True, timeout=300)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    borrowed = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    Path(site, "_borrowed_dependencies.pth").write_text("".join(f"{p}\n" for p in borrowed))

    user = tmp_path / "user"  # a user's $HOME: the default home is its XDG data folder
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LOCAL_ASSISTANTS_") and k not in ("XDG_DATA_HOME", "PYTHONPATH")}
    env.update(HOME=str(user), LOCAL_ASSISTANTS_DEFAULT_MODEL=SMALL, LOCAL_ASSISTANTS_AUTO_PULL="0",
               PATH=f"{venv / 'bin'}:{os.environ.get('PATH', '')}")
    home = user / ".local" / "share" / "local-assistants"
    # `local-assistants models pull` ran once; the model is linked in rather than downloaded again,
    # and the command finds it there and checks it.
    (home / "models").mkdir(parents=True)
    os.symlink(MODELS_DIR / CATALOG[SMALL].filename, home / "models" / CATALOG[SMALL].filename)
    work = tmp_path / "somewhere-else"
    work.mkdir()
    pulled = subprocess.run(["local-assistants", "models", "pull", SMALL], cwd=work, env=env,
                            capture_output=True, text=True, timeout=120)
    assert pulled.returncode == 0 and "already present" in pulled.stdout, pulled.stdout + pulled.stderr

    where = subprocess.run([str(python), "-c", "import local_assistants; print(local_assistants.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(venv), where  # the wheel's copy, not the source tree

    (work / "snippet.py").write_text(readme_snippet())
    try:
        done = subprocess.run([str(python), "snippet.py"], cwd=work, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        answer = done.stdout.strip()
        # The tutor's answer: not a failed run's error, not the question echoed back.
        assert answer and not answer.startswith("run "), answer
        assert answer != "I need to solve the equation `3x + 11 = 14`."
        assert sorted(p.name for p in work.iterdir()) == ["snippet.py"]  # no data/ or sandbox/ here
        assert (home / "data" / "local_assistants.db").is_file()
    finally:
        from local_assistants.kernel_env import shared_root_for

        shutil.rmtree(shared_root_for(home), ignore_errors=True)  # the kernels' root, if it was moved
