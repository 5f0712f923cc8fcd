"""The containers service, and code run through the code interpreter in a container's kernel:
a run whose tool names a container runs there, whatever its thread; what the code writes
and displays becomes the container's files (and ``file_of`` finds them by the stored file);
a thread's automatic container is reused; names are checked; idle ones expire.

Real components: the real runtime, the real sandboxed kernels and folders, the real store;
the official SDK reads the container's files over HTTP (tests/api/test_containers.py drives
the whole API).
"""

from __future__ import annotations

import time

import pytest

from conftest import make_settings, sdk_client
from local_assistants import LocalAssistants
from local_assistants.errors import InvalidRequestError
from local_assistants.services.containers import DEFAULT_MINUTES, ContainersService, file_name
from local_assistants.tools.code_interpreter import container_id, kernel_key

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with LocalAssistants(make_settings(tmp_path_factory.mktemp("container-runs"), code_timeout_s=60)) as la:
        client = sdk_client(la.base_url)
        yield la.runtime, client
        client.close()


def container_run(thread_id: str, cid: str | None) -> dict:
    tool = {"type": "code_interpreter"}
    if cid is not None:
        tool["code_interpreter"] = {"container_id": cid}
    return {"id": f"run_{time.monotonic_ns()}", "thread_id": thread_id, "tools": [tool]}


def run_code(rt, run, code):
    outcome = rt.code_interpreter.run(run, code)
    images, produced = rt.code_interpreter.take_outputs(run["id"])
    return outcome, images, produced


def test_the_kernel_key_is_the_container_else_the_thread():
    assert kernel_key(container_run("thread_a", "cntr_1")) == "cntr_1"
    assert container_id(container_run("thread_a", "cntr_1")) == "cntr_1"
    assert kernel_key(container_run("thread_a", None)) == "thread_a"
    assert container_id({"id": "run_1", "thread_id": "thread_a"}) is None
    assert kernel_key({"id": "run_1", "thread_id": "thread_a",
                       "tools": [{"type": "function", "function": {"name": "f"}},
                                 {"type": "code_interpreter", "code_interpreter": {"container_id": None}}]}) == "thread_a"


def test_a_file_written_in_a_container_is_one_of_its_files(env):
    rt, client = env
    c = client.containers.create(name="writes")
    outcome, _, produced = run_code(rt, container_run("thread_w", c.id),
                                    "open('/mnt/data/out.csv', 'w').write('x,y\\n1,2\\n')")
    assert outcome.logs.strip() == "8"
    assert [p.name for p in produced] == ["out.csv"]
    files = client.containers.files.list(c.id).data
    assert [(f.path, f.source, f.bytes) for f in files] == [("/mnt/data/out.csv", "assistant", 8)]
    assert client.containers.files.content.retrieve(files[0].id, container_id=c.id).read() == b"x,y\n1,2\n"
    # The stored file the answer links (file_path) leads to the container file (a citation).
    cited = rt.containers.file_of(produced[0].file_id)
    assert cited == files[0].model_dump()
    assert rt.containers.file_of("file-unknown") is None
    # Written again: one file at that path, the newer one.
    _, _, again = run_code(rt, container_run("thread_w", c.id), "open('out.csv', 'w').write('new')")
    files = client.containers.files.list(c.id).data
    assert len(files) == 1 and files[0].bytes == 3 and rt.containers.file_of(again[0].file_id)["id"] == files[0].id
    client.containers.delete(c.id)


def test_runs_of_two_threads_share_a_containers_kernel(env):
    rt, client = env
    c = client.containers.create(name="shared")
    run_code(rt, container_run("thread_one", c.id), "shared_value = 41")
    outcome, _, _ = run_code(rt, container_run("thread_two", c.id), "shared_value + 1")
    assert "42" in outcome.logs
    # The threads' own kernels are other kernels.
    outcome, _, _ = run_code(rt, container_run("thread_one", None), "'shared_value' in globals()")
    assert "False" in outcome.logs
    assert rt.kernels.by_thread[c.id] is not rt.kernels.by_thread["thread_one"]
    # Code kept the container active.
    assert client.containers.retrieve(c.id).last_active_at >= c.created_at
    client.containers.delete(c.id)


def test_a_thread_runs_input_files_are_not_put_in_a_container(env):
    rt, client = env
    upload = client.files.create(file=("given.txt", b"given"), purpose="assistants")
    thread = rt.threads.create(tool_resources={"code_interpreter": {"file_ids": [upload.id]}})
    c = client.containers.create(name="no inputs")
    outcome, _, _ = run_code(rt, container_run(thread["id"], c.id), "import os\nsorted(os.listdir('.'))")
    assert "given.txt" not in outcome.logs
    outcome, _, _ = run_code(rt, {**container_run(thread["id"], None), "assistant_id": "asst_none"},
                             "import os\nsorted(os.listdir('.'))")
    assert "given.txt" in outcome.logs
    client.containers.delete(c.id)
    rt.threads.delete(thread["id"])


def test_an_image_displayed_in_a_container_is_one_of_its_files(env):
    rt, client = env
    c = client.containers.create(name="plots")
    code = ("import matplotlib.pyplot as plt\n"
            "plt.plot([1, 2, 3], [1, 4, 9])\nplt.show()")
    outcome, images, _ = run_code(rt, container_run("thread_p", c.id), code)
    assert len(images) == 1, outcome.logs
    (image,) = client.containers.files.list(c.id).data
    assert image.source == "assistant" and image.path == f"/mnt/data/{image.id}.png"
    assert client.containers.files.content.retrieve(image.id, container_id=c.id).read()[:8] == b"\x89PNG\r\n\x1a\n"
    assert rt.containers.file_of(images[0])["id"] == image.id
    client.containers.delete(c.id)


def test_a_deleted_or_expired_container_refuses_code(env):
    rt, client = env
    c = client.containers.create(name="gone")
    client.containers.delete(c.id)
    from local_assistants.errors import NotFoundError

    with pytest.raises(NotFoundError):
        rt.code_interpreter.run(container_run("thread_g", c.id), "1")
    assert c.id not in rt.kernels.by_thread  # no kernel, no folder made for it


def test_a_threads_auto_container_is_reused_and_gets_its_files_once(env):
    rt, client = env
    a = client.files.create(file=("a.txt", b"alpha"), purpose="user_data")
    first = rt.containers.for_thread("thread_auto", [a.id])
    assert first["status"] == "running" and first["name"] == "auto"
    again = rt.containers.for_thread("thread_auto", [a.id])
    assert again["id"] == first["id"]
    assert [f.path for f in client.containers.files.list(first["id"])] == ["/mnt/data/a.txt"]
    outcome, _, _ = run_code(rt, container_run("thread_auto", first["id"]), "open('a.txt').read()")
    assert "alpha" in outcome.logs
    other = rt.containers.for_thread("thread_other")
    assert other["id"] != first["id"]
    for cid in (first["id"], other["id"]):
        client.containers.delete(cid)


# -- the service alone ----------------------------------------------------------------------------
@pytest.mark.parametrize("given, name", [("notes.txt", "notes.txt"), ("../../x.txt", "x.txt"),
                                         ("C:\\Users\\me\\data.csv", "data.csv"), ("dir/sub/é.txt", "é.txt")])
def test_a_file_takes_the_last_part_of_its_name(given, name):
    assert file_name(given) == name


@pytest.mark.parametrize("given", ["", ".", "..", "a/", "a/..", "x\0y", "é" * 128, None])
def test_a_name_with_no_plain_file_name_left_is_refused(given):
    with pytest.raises(InvalidRequestError) as info:
        file_name(given)
    assert info.value.param == "file"


class NoKernels:
    """A pool no file operation should reach."""

    spec = None

    def __init__(self):
        self.forgotten: list[str] = []

    def kernel_for(self, key):
        raise AssertionError("no kernel needed")

    def busy(self, key):
        return False

    def forget(self, key):
        self.forgotten.append(key)


@pytest.fixture
def service(tmp_path):
    from local_assistants.adapters.sqlite_store import SQLiteStore
    from local_assistants.services.files import FilesService

    now = [1_700_000_000.0]
    store = SQLiteStore(":memory:")
    files = FilesService(store, tmp_path / "files", 1000, clock=lambda: now[0])
    svc = ContainersService(store, files, NoKernels(), clock=lambda: now[0])
    svc.now_box = now
    return svc


def test_expiry_counts_idle_minutes_from_the_last_use(service):
    c = service.create("c", expires_after={"anchor": "last_active_at", "minutes": 2})
    service.now_box[0] += 120
    assert service.retrieve(c["id"])["status"] == "running"  # 2 minutes exactly: not older yet
    service.use(c["id"])
    service.now_box[0] += 121
    assert service.retrieve(c["id"])["status"] == "expired"
    with pytest.raises(InvalidRequestError, match=f"Container {c['id']} is expired"):
        service.use(c["id"])
    service.touch(c["id"])  # no error, no revival
    assert service.expire_idle() == 1 and service.kernels.forgotten[-1] == c["id"]
    assert service.store.get("containers", c["id"])["status"] == "expired"
    assert service.expire_idle() == 0


def test_a_busy_container_is_not_expired_under_its_code(service):
    c = service.create("c")
    service.now_box[0] += DEFAULT_MINUTES * 60 + 1
    service.kernels.busy = lambda key: key == c["id"]
    assert service.expire_idle() == 0
    service.kernels.busy = lambda key: False
    assert service.expire_idle() == 1


def test_a_threads_auto_container_is_a_new_one_once_the_last_expired(service):
    first = service.for_thread("thread_1")
    assert service.for_thread("thread_1")["id"] == first["id"]
    service.now_box[0] += DEFAULT_MINUTES * 60 + 1
    assert service.for_thread("thread_1")["id"] != first["id"]


def test_a_name_filter_pages_both_ways(service):
    ids = [service.create("same")["id"] for _ in range(5)]
    service.create("other")
    page = service.list(name="same", order="asc", limit=2)
    assert [c["id"] for c in page.data] == ids[:2] and page.has_more
    page = service.list(name="same", order="asc", limit=2, before=ids[4])
    assert [c["id"] for c in page.data] == ids[2:4] and page.has_more
    page = service.list(name="same", order="desc", limit=10, after=ids[2])
    assert [c["id"] for c in page.data] == ids[1::-1] and not page.has_more
    with pytest.raises(InvalidRequestError):
        service.list(name="same", after="cntr_elsewhere")
