"""The kernels' folders without a kernel: names that can only be thread ids, sockets that fit
their path limit, plain folders where there is no sandbox, and, as root, a slot with a thread's
disk image (its quota) mounted and cleaned.  (Code filling the quota: ``tests/tools/test_sandbox_files.py``.)"""

from __future__ import annotations

import os

import pytest

from conftest import SANDBOX_ROOT
from local_assistants.adapters import workspace
from local_assistants.adapters.workspace import MAX_SOCKET_PATH, Workspaces, WorkspaceError


@pytest.mark.parametrize("name", ["../etc", "a/b", "", "x" * 129, "thread.ext4", "t\n"])
def test_only_thread_ids_name_a_folder(tmp_path, name):
    ws = Workspaces(tmp_path, sandboxed=False, uids=range(70000, 70004))
    with pytest.raises(WorkspaceError, match="not a thread id"):
        ws.plain_folder(name)
    with pytest.raises(WorkspaceError):
        ws.disk_image(name)
    ws.forget(name)  # nothing of it here: nothing done, nothing raised
    assert ws.disk_image("thread_A-1") == tmp_path / ".disks" / "thread_A-1.ext4"


def test_slots_move_to_a_short_folder_when_a_socket_path_would_not_fit(tmp_path):
    assert Workspaces(tmp_path, sandboxed=False, uids=range(1)).slots_dir == tmp_path / ".slots"
    deep = tmp_path / ("d" * (MAX_SOCKET_PATH - len(str(tmp_path))))
    moved = Workspaces(deep, sandboxed=False, uids=range(1)).slots_dir
    assert not str(moved).startswith(str(deep)) and len(str(moved)) + 30 <= MAX_SOCKET_PATH
    assert moved == Workspaces(deep, sandboxed=False, uids=range(1)).slots_dir  # the same root, the same folder
    assert moved != Workspaces(deep / "e", sandboxed=False, uids=range(1)).slots_dir


def test_without_a_sandbox_a_thread_gets_a_plain_folder_kept_until_forgotten(tmp_path):
    ws = Workspaces(tmp_path, sandboxed=False, uids=range(70000, 70004))
    slot = ws.open_slot(70000)
    ws.attach(slot, "thread_x")
    assert slot.data == tmp_path / "thread_x" and slot.thread_id == "thread_x"
    assert ws.usage(slot) is None and ws.quota is None  # no disk of its own: no quota
    with pytest.raises(WorkspaceError, match="already holds thread thread_x"):
        ws.attach(slot, "thread_y")
    (slot.data / "kept.txt").write_text("x")
    ws.close_slot(slot)
    assert (tmp_path / "thread_x" / "kept.txt").read_text() == "x"
    ws.forget("thread_x")
    assert not (tmp_path / "thread_x").exists()


def test_mountinfo_escapes_are_read_back():
    assert workspace._unescape(r"/a\040b\011c\134d") == "/a b\tc\\d"


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts need root")
def test_a_threads_disk_is_its_quota_and_a_dead_runtimes_mounts_are_cleaned(tmp_path):
    root = SANDBOX_ROOT / f"ws-{tmp_path.name}"
    ws = Workspaces(root, sandboxed=True, uids=range(70000, 70004), disk_bytes=16 << 20, disk_inodes=256)
    other = Workspaces(root, sandboxed=True, uids=range(70128, 70132))  # another runtime's block
    ws.clean_stale()
    slot = ws.open_slot(70001)
    theirs = other.open_slot(70128)
    try:
        assert slot.path.is_mount() and os.stat(slot.data).st_uid == 0
        ws.attach(slot, "thread_q")
        assert slot.data.is_mount() and ws.quota == (16 << 20, 256)
        assert os.stat(slot.data).st_uid == 70001  # the slot's uid owns the thread's folder
        free_bytes, free_files = ws.usage(slot)
        assert 0 < free_bytes <= 16 << 20 and 0 < free_files <= 256
        # This runtime dies (nothing closed) and starts again: its slot goes, the other's stays.
        again = Workspaces(root, sandboxed=True, uids=range(70000, 70004))
        again.clean_stale()
        assert not slot.path.exists() and theirs.path.is_mount()
        assert ws.disk_image("thread_q").is_file()  # the thread's files stay on its disk
    finally:
        other.close_slot(theirs)
        workspace._umount(slot.data)
        workspace._umount(slot.path)
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    assert not theirs.path.exists()
