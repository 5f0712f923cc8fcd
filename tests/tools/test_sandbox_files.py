"""The thread's folder against code that races the server: what the server does there as
root never follows a link and never blocks, the folder has a quota, and what is collected
from it is capped.

Real components: the real server, the real sandboxed kernel (whose background threads do
the racing while the server works), the real files store.
"""

from __future__ import annotations

import io
import os
import threading
import time

import pytest

from conftest import SANDBOX_ROOT, make_settings
from local_assistants import LocalAssistants
from local_assistants.tools import code_interpreter


@pytest.fixture(scope="module")
def la(tmp_path_factory):
    with LocalAssistants(make_settings(tmp_path_factory.mktemp("files"), code_timeout_s=30)) as server:
        yield server


def run_code(la, thread, code, run_id=None):
    run = {"id": run_id or f"run_files_{time.monotonic_ns()}", "thread_id": thread["id"], "assistant_id": "asst_none"}
    outcome = la.runtime.code_interpreter.run(run, code)
    _, produced = la.runtime.code_interpreter.take_outputs(run["id"])
    return outcome, produced


def new_files(la, before):
    return [f for f in la.runtime.store.find("files") if f["id"] not in before]


# -- the server never writes through a link ------------------------------------------------

RACER = """
import os, threading
def race():
    while not os.path.exists('/mnt/data/stop'):
        try:
            os.symlink({victim!r}, '/mnt/data/.link')
            os.replace('/mnt/data/.link', '/mnt/data/data.csv')
        except OSError:
            pass
threading.Thread(target=race, daemon=True).start()
"""
STOP = "import time\nopen('/mnt/data/stop', 'w').close()\ntime.sleep(1)\nos.remove('/mnt/data/stop')"


def test_an_input_file_is_never_written_through_a_link_put_back_by_running_code(la, tmp_path):
    # A host file the sandbox cannot reach, but that root would write if it followed the link.
    victim = SANDBOX_ROOT / f"victim-{tmp_path.name}.txt"
    victim.parent.mkdir(parents=True, exist_ok=True)
    victim.write_text("untouched")
    upload = la.runtime.files.create(file=io.BytesIO(b"a,b\n1,2\n" * 100), filename="data.csv",
                                     purpose="assistants")
    thread = la.runtime.threads.create(tool_resources={"code_interpreter": {"file_ids": [upload["id"]]}})
    run_code(la, thread, RACER.format(victim=str(victim)))
    for attempt in range(200):
        # Each run puts the input file back in place (the racer keeps making it a link).
        run_code(la, thread, "pass")
        assert victim.read_text() == "untouched", f"root wrote through the link (attempt {attempt})"
    run_code(la, thread, "import os\n" + STOP)
    run_code(la, thread, "pass")  # the racer has stopped: the file is put back for real
    outcome, _ = run_code(la, thread, "import os\nprint(os.path.islink('data.csv'), open('data.csv').read(8))")
    assert outcome.logs.startswith("False a,b")
    victim.unlink()


# -- the server never blocks on a FIFO -------------------------------------------------------

FLIPPER = """
import os, threading, time
def flip():
    names = [f'/mnt/data/f{i}' for i in range(20)]
    while not os.path.exists('/mnt/data/stop'):
        try:
            for name in names:  # all regular files ...
                with open(name + '.new', 'w') as f:
                    f.write('x')
                os.replace(name + '.new', name)
            time.sleep(0.02)
            for name in names:  # ... then all FIFOs, as long
                os.mkfifo(name + '.fifo')
                os.replace(name + '.fifo', name)
            time.sleep(0.02)
        except OSError:
            pass
threading.Thread(target=flip, daemon=True).start()
"""


def test_collecting_outputs_returns_while_code_swaps_files_for_fifos(la):
    thread = la.runtime.threads.create()
    done = []

    def runs():
        done.append(run_code(la, thread, FLIPPER))
        for _ in range(5):  # each run collects while the names keep changing kind
            done.append(run_code(la, thread, "time.sleep(0.5)"))

    worker = threading.Thread(target=runs, daemon=True)
    worker.start()
    worker.join(timeout=120)  # a blocked open() would never return
    assert len(done) == 6, "collecting the outputs blocked"
    assert all(p.name.startswith("f") for _, produced in done for p in produced)
    run_code(la, thread, STOP)
    assert run_code(la, thread, "print(6 * 7)")[0].logs.strip() == "42"


# -- quota and caps --------------------------------------------------------------------------

def test_the_threads_folder_has_a_quota_the_kernel_enforces(la):
    thread = la.runtime.threads.create()
    # posix_fallocate takes real blocks without writing them: the quota's worth is quick to ask for.
    code = ("import os\nmade = []\ntry:\n    for i in range(5):\n"
            "        fd = os.open(f'big{i}.bin', os.O_WRONLY | os.O_CREAT)\n"
            "        os.posix_fallocate(fd, 0, 200 << 20)\n        os.close(fd)\n        made.append(i)\n"
            "except OSError as e:\n    print('stopped:', e)\nprint(len(made), 'files')")
    outcome, produced = run_code(la, thread, code)
    assert "No space left on device" in outcome.logs or "Disk quota exceeded" in outcome.logs
    assert "/mnt/data is full" in outcome.logs  # said plainly in the step's logs
    assert produced == []  # 200 MB files are over the per-file cap anyway
    kernel, _ = la.runtime.kernels.kernel_for(thread["id"])
    used = sum(os.lstat(os.path.join(kernel.workdir, n)).st_blocks * 512 for n in os.listdir(kernel.workdir))
    assert used <= la.runtime.kernels.quota[0]
    image = la.runtime.kernels.workspaces.disk_image(thread["id"])
    assert os.stat(image).st_blocks * 512 <= la.runtime.kernels.quota[0] + (16 << 20)  # the host disk holds no more
    outcome, _ = run_code(la, thread, "import glob, os\nfor f in glob.glob('big*'):\n    os.remove(f)\n"
                                      "open('small.txt', 'w').write('room again')")
    assert "full" not in outcome.logs


def test_many_small_files_meet_the_quota_too(la):
    thread = la.runtime.threads.create()
    code = ("import os\nos.mkdir('many')\nn = 0\ntry:\n    while n < 100_000:\n"
            "        open(f'many/{n}', 'w').close()\n        n += 1\nexcept OSError as e:\n    print(e.strerror)\nprint(n)")
    outcome, _ = run_code(la, thread, code)
    lines = outcome.logs.strip().splitlines()
    assert "No space left on device" in lines or "Disk quota exceeded" in lines
    assert int(next(line for line in lines if line.isdigit())) < la.runtime.kernels.quota[1]
    assert "/mnt/data is full" in outcome.logs
    run_code(la, thread, "import shutil\nshutil.rmtree('many')")


def test_files_collected_in_one_run_are_capped_in_total(la, monkeypatch):
    monkeypatch.setattr(code_interpreter, "MAX_COLLECTED_RUN_BYTES", 8 << 20, raising=False)
    thread = la.runtime.threads.create()
    before = {f["id"] for f in la.runtime.store.find("files")}
    code = ("for i in range(10):\n    with open(f'out{i}.bin', 'wb') as f:\n        f.write(bytes(2 << 20))")
    outcome, produced = run_code(la, thread, code)
    stored = new_files(la, before)
    assert len(produced) == len(stored) == 4
    assert sum(f["bytes"] for f in stored) <= 8 << 20
    assert "files not kept as outputs" in outcome.logs and "out9.bin" in outcome.logs
