"""README's "Moving from Assistants to Responses" runs as it is shown: its Python block,
verbatim, in a fresh interpreter on a data folder of its own (the test model as the
default, so that it runs fast; the code is the README's)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys

from local_assistants.catalog import TEST_MODEL

from conftest import REPO, make_settings


def section_code() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Moving from Assistants to Responses"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_migration_block_runs_verbatim(tmp_path):
    settings = make_settings(tmp_path)
    env = dict(os.environ, LOCAL_ASSISTANTS_DATA_DIR=str(settings.data_dir),
               LOCAL_ASSISTANTS_DEFAULT_MODEL=TEST_MODEL, LOCAL_ASSISTANTS_SANDBOX_DIR=str(settings.sandbox_dir),
               LOCAL_ASSISTANTS_KERNEL_PYTHON=str(settings.kernel_python))
    done = subprocess.run([sys.executable, "-c", section_code()], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] in ("assistants: completed", "assistants: incomplete"), done.stdout
    assert lines[1].startswith(("responses: completed", "responses: incomplete")), done.stdout
    roles, types = ast.literal_eval("(" + lines[-1].replace("] [", "], [") + ")")
    assert roles == ["user", "assistant", "user", "assistant"]
    assert types[0] == "message" and types[-1] == "message" and types.count("message") == 4
