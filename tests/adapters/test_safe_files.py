"""File operations in a folder someone else writes: no link followed, no FIFO blocking.
(Against code racing the server in a real sandbox: tests/tools/test_sandbox_files.py.)"""

from __future__ import annotations

import io
import os
import threading

import pytest

from local_assistants.adapters.safe_files import Folder, chown_tree


@pytest.fixture
def folder(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    with Folder(work) as f:
        yield f


def test_put_file_replaces_a_link_and_leaves_its_target_alone(folder, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    os.symlink(victim, folder.path / "data.csv")
    folder.put_file("data.csv", io.BytesIO(b"new"), uid=None)
    assert victim.read_text() == "untouched"
    assert not os.path.islink(folder.path / "data.csv") and (folder.path / "data.csv").read_bytes() == b"new"
    assert sorted(os.listdir(folder.path)) == ["data.csv"]  # no temporary left


def test_put_file_refuses_a_directory_and_names_with_a_path(folder):
    (folder.path / "sub").mkdir()
    with pytest.raises(OSError):
        folder.put_file("sub", io.BytesIO(b"x"), uid=None)
    with pytest.raises(ValueError):
        folder.put_file("../escape", io.BytesIO(b"x"), uid=None)
    assert sorted(os.listdir(folder.path)) == ["sub"]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another uid needs root")
def test_put_file_gives_the_file_to_the_sandbox_uid(folder):
    folder.put_file("in.txt", io.BytesIO(b"x"), uid=61999)
    assert os.stat(folder.path / "in.txt").st_uid == 61999


def test_open_regular_neither_follows_links_nor_blocks_on_fifos(folder, tmp_path):
    (tmp_path / "secret").write_text("secret")
    os.symlink(tmp_path / "secret", folder.path / "link")
    os.mkfifo(folder.path / "fifo")
    (folder.path / "plain").write_text("plain")
    result = {}
    opener = threading.Thread(target=lambda: result.update(
        link=folder.open_regular("link"), fifo=folder.open_regular("fifo")), daemon=True)
    opener.start()
    opener.join(timeout=10)
    assert result == {"link": None, "fifo": None}
    src, size = folder.open_regular("plain")
    with src:
        assert src.read() == b"plain" and size == 5
    assert folder.regular_files().keys() == {"plain"}


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_chown_tree_changes_links_not_their_targets(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "sub" / "f").write_text("f")
    os.symlink(outside, work / "sub" / "link")
    os.symlink(tmp_path, work / "dirlink")
    chown_tree(work, 61999)
    assert os.stat(work / "sub" / "f").st_uid == 61999 and os.lstat(work / "sub" / "link").st_uid == 61999
    assert os.stat(outside).st_uid == 0 and os.stat(tmp_path).st_uid == 0
