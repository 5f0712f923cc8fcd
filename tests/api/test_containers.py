"""/v1/containers and their files, through the official SDK against the real server: create,
list (paged, by name), retrieve, delete; files by upload and by file id, their content,
deletion; idle expiry (an injected clock); hostile names and links planted by code.

Real components: the real server, the real sandboxed kernels and folders, the real store.
"""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from conftest import SANDBOX_ROOT, make_settings, sdk_client
from live_server import serve
from local_assistants.errors import InvalidRequestError, NotFoundError
from local_assistants.runtime import Runtime
from local_assistants.services.containers import DEFAULT_MINUTES

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Clock:
    """Real time, moved forward by ``skip``."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def skip(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    clock = Clock()
    with Runtime(make_settings(tmp_path_factory.mktemp("containers"), code_timeout_s=30), clock=clock,
                 start_worker=False) as rt, serve(rt) as base:
        client = sdk_client(base + "/v1")
        yield rt, client, clock, base
        client.close()


def run_in(rt, container_id, code, thread_id="thread_containertests"):
    run = {"id": f"run_{time.monotonic_ns()}", "thread_id": thread_id,
           "tools": [{"type": "code_interpreter", "code_interpreter": {"container_id": container_id}}]}
    outcome = rt.code_interpreter.run(run, code)
    rt.code_interpreter.take_outputs(run["id"])
    return outcome


# -- containers ---------------------------------------------------------------------------------
def test_create_retrieve_list_delete(env):
    rt, client, _, base = env
    c = client.containers.create(name="analysis")
    assert c.id.startswith("cntr_") and c.object == "container" and c.name == "analysis"
    assert c.status == "running" and c.memory_limit == "1g"
    assert c.expires_after.anchor == "last_active_at" and c.expires_after.minutes == DEFAULT_MINUTES
    assert c.last_active_at == c.created_at
    got = client.containers.retrieve(c.id)
    assert got.model_dump() == c.model_dump()
    assert c.id in [x.id for x in client.containers.list()]
    big = client.containers.create(name="big", memory_limit="4g", expires_after={"anchor": "last_active_at",
                                                                                "minutes": 5})
    assert big.memory_limit == "4g" and big.expires_after.minutes == 5
    # The SDK's delete returns nothing; the body says what was deleted.
    assert httpx.delete(f"{base}/v1/containers/{c.id}").json() == {
        "id": c.id, "object": "container.deleted", "deleted": True}
    client.containers.delete(big.id)
    with pytest.raises(openai.NotFoundError):
        client.containers.retrieve(c.id)
    with pytest.raises(openai.NotFoundError):
        client.containers.delete(c.id)


def test_lists_page_and_filter_by_name(env):
    _, client, _, _ = env
    made = [client.containers.create(name="paged").id for _ in range(5)]
    first = client.containers.list(name="paged", limit=2, order="asc")
    assert [c.id for c in first.data] == made[:2] and first.has_more
    every = [c.id for c in client.containers.list(name="paged", limit=2, order="asc")]  # auto-paging
    assert every == made
    assert [c.id for c in client.containers.list(name="paged", order="desc")] == made[::-1]
    after = client.containers.list(name="paged", order="asc", after=made[2])
    assert [c.id for c in after.data] == made[3:] and not after.has_more
    unfiltered = [c.id for c in client.containers.list(limit=100, order="asc")]
    assert unfiltered[-5:] == made
    page = client.containers.list(limit=3, order="desc")
    assert [c.id for c in page.data] == made[::-1][:3] and page.has_more
    assert client.containers.list(name="no such name").data == []
    for cid in made:
        client.containers.delete(cid)


@pytest.mark.parametrize("body, param", [
    ({}, "name"),
    ({"name": "x", "memory_limit": "2g"}, "memory_limit"),
    ({"name": "x", "expires_after": {"anchor": "created_at", "minutes": 5}}, "expires_after.anchor"),
    ({"name": "x", "expires_after": {"anchor": "last_active_at", "minutes": 0}}, "expires_after.minutes"),
    ({"name": "x", "network_policy": {"type": "allowlist", "allowed_domains": ["pypi.org"]}}, "network_policy.type"),
    ({"name": "x", "skills": [{"type": "skill_reference", "skill_id": "s"}]}, "skills"),
    ({"name": "x", "file_ids": "file-1"}, "file_ids"),
    ({"name": "x", "colour": "blue"}, "colour"),
])
def test_bad_bodies_are_refused_with_the_param(env, body, param):
    rt, _, _, base = env
    before = rt.store.count("containers")
    answer = httpx.post(f"{base}/v1/containers", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == param
    assert rt.store.count("containers") == before


def test_an_unknown_file_id_makes_no_container(env):
    rt, client, _, _ = env
    before = rt.store.count("containers")
    with pytest.raises(openai.NotFoundError):
        client.containers.create(name="x", file_ids=["file-nope"])
    assert rt.store.count("containers") == before


def test_a_disabled_network_policy_is_what_there_is(env):
    _, client, _, _ = env
    c = client.containers.create(name="offline", network_policy={"type": "disabled"})
    assert c.network_policy.type == "disabled"
    client.containers.delete(c.id)


# -- files ----------------------------------------------------------------------------------------
def test_files_by_upload_and_by_id_content_and_delete(env):
    rt, client, _, _ = env
    c = client.containers.create(name="files")
    up = client.containers.files.create(c.id, file=("notes.txt", b"hello container"))
    assert up.id.startswith("cfile_") and up.object == "container.file" and up.container_id == c.id
    assert up.path == "/mnt/data/notes.txt" and up.source == "user" and up.bytes == 15
    uploaded = client.files.create(file=("table.csv", b"a,b\n1,2\n"), purpose="user_data")
    by_id = client.containers.files.create(c.id, file_id=uploaded.id)
    assert by_id.path == "/mnt/data/table.csv" and by_id.bytes == 8
    assert client.containers.files.retrieve(up.id, container_id=c.id).model_dump() == up.model_dump()
    listed = client.containers.files.list(c.id, order="asc")
    assert [f.id for f in listed.data] == [up.id, by_id.id]
    assert client.containers.files.content.retrieve(up.id, container_id=c.id).read() == b"hello container"
    assert client.containers.files.content.retrieve(by_id.id, container_id=c.id).read() == b"a,b\n1,2\n"
    # The code sees them in /mnt/data.
    assert "hello container" in run_in(rt, c.id, "open('/mnt/data/notes.txt').read()").logs
    client.containers.files.delete(up.id, container_id=c.id)
    with pytest.raises(openai.NotFoundError):
        client.containers.files.retrieve(up.id, container_id=c.id)
    assert "False" in run_in(rt, c.id, "import os\nos.path.exists('/mnt/data/notes.txt')").logs
    # Another container's file is not found through this one.
    other = client.containers.create(name="other")
    with pytest.raises(openai.NotFoundError):
        client.containers.files.retrieve(by_id.id, container_id=other.id)
    client.containers.delete(other.id)
    client.containers.delete(c.id)


def test_files_given_at_creation_are_copied_in(env):
    rt, client, _, _ = env
    a = client.files.create(file=("a.txt", b"alpha"), purpose="user_data")
    b = client.files.create(file=("b.txt", b"beta"), purpose="user_data")
    c = client.containers.create(name="seeded", file_ids=[a.id, b.id])
    files = client.containers.files.list(c.id, order="asc").data
    assert [(f.path, f.source, f.bytes) for f in files] == [("/mnt/data/a.txt", "user", 5),
                                                             ("/mnt/data/b.txt", "user", 4)]
    assert "alphabeta" in run_in(rt, c.id, "open('a.txt').read() + open('b.txt').read()").logs
    client.containers.delete(c.id)


def test_a_file_at_the_same_path_replaces_the_older_one(env):
    _, client, _, _ = env
    c = client.containers.create(name="replace")
    client.containers.files.create(c.id, file=("same.txt", b"one"))
    newer = client.containers.files.create(c.id, file=("same.txt", b"two!"))
    assert [f.id for f in client.containers.files.list(c.id)] == [newer.id]
    assert client.containers.files.content.retrieve(newer.id, container_id=c.id).read() == b"two!"
    client.containers.delete(c.id)


def test_files_page(env):
    _, client, _, _ = env
    c = client.containers.create(name="many")
    made = [client.containers.files.create(c.id, file=(f"f{i}.txt", b"x")).id for i in range(5)]
    page = client.containers.files.list(c.id, limit=2, order="asc")
    assert [f.id for f in page.data] == made[:2] and page.has_more
    assert [f.id for f in client.containers.files.list(c.id, limit=2, order="asc")] == made
    assert [f.id for f in client.containers.files.list(c.id, after=made[1], order="asc")] == made[2:]
    client.containers.delete(c.id)


def test_deleting_a_container_forgets_its_kernel_folder_and_files(env):
    rt, client, _, _ = env
    c = client.containers.create(name="doomed")
    client.containers.files.create(c.id, file=("x.txt", b"x"))
    assert c.id in rt.kernels.by_thread
    client.containers.delete(c.id)
    assert c.id not in rt.kernels.by_thread
    assert not rt.kernels.workspaces.disk_image(c.id).exists()
    assert not rt.kernels.workspaces.plain_folder(c.id).exists()
    assert rt.store.find("container_files", container_id=c.id) == []
    with pytest.raises(openai.NotFoundError):
        client.containers.files.list(c.id)


# -- expiry ---------------------------------------------------------------------------------------
def test_an_idle_container_expires(env):
    rt, client, clock, _ = env
    c = client.containers.create(name="short", expires_after={"anchor": "last_active_at", "minutes": 1})
    client.containers.files.create(c.id, file=("kept.txt", b"x"))
    keep = client.containers.create(name="long")
    clock.skip(50)
    assert rt.containers.use(c.id)["last_active_at"] >= c.created_at + 50  # used: active again
    clock.skip(50)
    assert client.containers.retrieve(c.id).status == "running"
    clock.skip(61)
    assert client.containers.retrieve(c.id).status == "expired"
    with pytest.raises(InvalidRequestError) as info:
        rt.containers.use(c.id)
    assert info.value.status_code == 400 and c.id in info.value.message and "expired" in info.value.message
    with pytest.raises(openai.BadRequestError) as refused:
        client.containers.files.create(c.id, file=("late.txt", b"x"))
    assert "expired" in refused.value.message
    with pytest.raises(NotFoundError):
        rt.containers.use("cntr_unknown")
    assert rt.containers.expire_idle() == 1
    assert client.containers.retrieve(c.id).status == "expired"
    assert c.id not in rt.kernels.by_thread and not rt.kernels.workspaces.disk_image(c.id).exists()
    assert client.containers.files.list(c.id).data == []
    assert client.containers.retrieve(keep.id).status == "running"  # 20 minutes: not yet
    assert rt.containers.expire_idle() == 0
    client.containers.delete(c.id)
    client.containers.delete(keep.id)


# -- hostile names and links ------------------------------------------------------------------------
def test_a_path_in_an_upload_name_stays_in_the_folder(env, tmp_path):
    rt, client, _, base = env
    c = client.containers.create(name="names")
    f = client.containers.files.create(c.id, file=("../../escape.txt", b"inside"))
    assert f.path == "/mnt/data/escape.txt"
    workdir = rt.kernels.by_thread[c.id].workdir
    assert not (workdir.parent / "escape.txt").exists() and not (workdir.parent.parent / "escape.txt").exists()
    assert "inside" in run_in(rt, c.id, "open('/mnt/data/escape.txt').read()").logs
    for bad in ("..", ".", "a/"):
        answer = httpx.post(f"{base}/v1/containers/{c.id}/files", files={"file": (bad, b"x")})
        assert answer.status_code == 400, (bad, answer.text)
    client.containers.delete(c.id)


def test_a_link_planted_by_code_is_never_followed(env, tmp_path):
    rt, client, _, _ = env
    victim = SANDBOX_ROOT / f"victim-{tmp_path.name}.txt"
    victim.parent.mkdir(parents=True, exist_ok=True)
    victim.write_text("host secret")
    c = client.containers.create(name="links")
    f = client.containers.files.create(c.id, file=("data.txt", b"mine"))
    run_in(rt, c.id, f"import os\nos.remove('data.txt')\nos.symlink({str(victim)!r}, 'data.txt')")
    # Reading the file that is now a link: not found, never the link's target.
    with pytest.raises(openai.NotFoundError):
        client.containers.files.content.retrieve(f.id, container_id=c.id)
    # Writing at the link's name replaces the link; the target is untouched.
    again = client.containers.files.create(c.id, file=("data.txt", b"fresh"))
    assert victim.read_text() == "host secret"
    assert client.containers.files.content.retrieve(again.id, container_id=c.id).read() == b"fresh"
    assert "False" in run_in(rt, c.id, "import os\nos.path.islink('data.txt')").logs
    # Deleting a file that code made a link again removes the link, not its target.
    run_in(rt, c.id, f"import os\nos.remove('data.txt')\nos.symlink({str(victim)!r}, 'data.txt')")
    client.containers.files.delete(again.id, container_id=c.id)
    assert victim.read_text() == "host secret"
    assert "False" in run_in(rt, c.id, "import os\nos.path.lexists('data.txt')").logs
    client.containers.delete(c.id)
    victim.unlink()


def test_a_fifo_planted_by_code_does_not_block_a_read(env):
    rt, client, _, _ = env
    c = client.containers.create(name="fifo")
    f = client.containers.files.create(c.id, file=("pipe.txt", b"x"))
    run_in(rt, c.id, "import os\nos.remove('pipe.txt')\nos.mkfifo('pipe.txt')")
    with pytest.raises(openai.NotFoundError):
        client.containers.files.content.retrieve(f.id, container_id=c.id)
    client.containers.delete(c.id)
