"""Attacks on the code interpreter's sandbox: each one contained, the server still
serving, and the next code in the same thread still running.

Real components: the real sandbox (bubblewrap as an unprivileged uid, rlimits),
a real ipykernel, the real server and the official SDK.
"""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from conftest import make_settings, sdk_client
from local_assistants import LocalAssistants
from local_assistants.adapters.jupyter import processes_of

ATTACK_TIMEOUT_S = 10


@pytest.fixture(scope="module")
def la(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("attacks"), code_timeout_s=ATTACK_TIMEOUT_S)
    with LocalAssistants(settings) as server:
        yield server


@pytest.fixture
def thread(la):
    """A thread of its own for each attack; afterwards its next code still runs and the
    server still serves."""
    thread = la.runtime.threads.create()
    yield thread
    assert run_code(la, thread, "print(6 * 7)").logs.strip().endswith("42")
    client = sdk_client(la.base_url)
    assert client.beta.threads.retrieve(thread["id"]).id == thread["id"]
    client.close()


def run_code(la, thread, code):
    run = {"id": f"run_attack_{time.monotonic_ns()}", "thread_id": thread["id"], "assistant_id": "asst_none"}
    outcome = la.runtime.code_interpreter.run(run, code)
    la.runtime.code_interpreter.take_outputs(run["id"])
    return outcome


def test_outside_network_is_unreachable(la, thread):
    logs = run_code(la, thread, "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=3)").logs
    assert "Network is unreachable" in logs


def test_host_loopback_listener_is_not_reachable(la, thread):
    seen = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    port = listener.getsockname()[1]

    def accept():
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                conn, _ = listener.accept()
                seen.append(conn)
            except OSError:
                pass

    t = threading.Thread(target=accept)
    t.start()
    logs = run_code(la, thread, f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)").logs
    t.join()
    listener.close()
    assert "Connection refused" in logs or "unreachable" in logs
    assert seen == []


def test_dns_lookup_fails(la, thread):
    logs = run_code(la, thread, "import socket\nsocket.getaddrinfo('pypi.org', 443)").logs
    assert "gaierror" in logs or "Temporary failure" in logs or "Name or service not known" in logs


@pytest.mark.parametrize("path", ["/root", "/etc/shadow"])
def test_host_secrets_are_not_there(la, thread, path):
    logs = run_code(la, thread, f"import os\nos.listdir({path!r}) if os.path.isdir({path!r}) else open({path!r}).read()").logs
    assert "No such file or directory" in logs


def test_the_runtime_database_is_not_there(la, thread):
    db = la.runtime.settings.database_path.absolute()
    assert db.exists()
    logs = run_code(la, thread, f"open({str(db)!r}, 'rb').read(16)").logs
    assert "No such file or directory" in logs


@pytest.mark.parametrize("path", ["/usr/evil", "/evil", "/etc/evil"])
def test_system_is_read_only(la, thread, path):
    logs = run_code(la, thread, f"open({path!r}, 'w').write('x')").logs
    assert "Read-only file system" in logs
    assert not os.path.exists(path)


def test_tmp_is_bounded(la, thread):
    code = ("f = open('/tmp/fill', 'wb')\nblock = b'x' * (1 << 20)\n"
            "try:\n    [f.write(block) for _ in range(1024)]\n    f.flush()\nexcept OSError as e:\n    print(e)")
    assert "No space left on device" in run_code(la, thread, code).logs


def test_a_file_over_the_size_limit_is_refused(la, thread):
    code = ("f = open('/mnt/data/huge.bin', 'wb')\nblock = b'x' * (1 << 20)\n"
            "try:\n    [f.write(block) for _ in range(300)]\n    f.flush()\nexcept OSError as e:\n    print(e)")
    assert "File too large" in run_code(la, thread, code).logs


@pytest.mark.parametrize("code", ["x = bytearray(3 * 1024**3)", "a = []\nwhile True:\n    a.append(' ' * 10**6)"])
def test_memory_exhaustion_is_a_memory_error_and_the_kernel_survives(la, thread, code):
    run_code(la, thread, "kept = 'state'")
    outcome = run_code(la, thread, code)
    assert "MemoryError" in outcome.logs and not outcome.reset
    assert run_code(la, thread, "kept").logs.strip() == "'state'"


def test_fork_bomb_is_contained(la, thread):
    code = ("import os\npids = []\ntry:\n    for _ in range(100000):\n        pid = os.fork()\n"
            "        if pid == 0:\n            import time; time.sleep(30); os._exit(0)\n        pids.append(pid)\n"
            "except OSError as e:\n    print('stopped:', e, len(pids))")
    logs = run_code(la, thread, code).logs
    assert "stopped:" in logs and "Resource temporarily unavailable" in logs
    la.runtime.kernels.restart(thread["id"])  # a restart ends every process of the sandbox


def test_killing_the_parent_or_pid_1_does_nothing(la, thread):
    code = ("import os, signal\nfor pid in (os.getppid(), 1):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
            "    except OSError as e:\n        print(pid, e)\n'alive'")
    logs = run_code(la, thread, code).logs
    assert "'alive'" in logs or "[the kernel was restarted" in logs


def test_nested_namespaces_are_refused(la, thread):
    code = "import subprocess\nprint(subprocess.run(['unshare', '--user', 'true'], capture_output=True).returncode)"
    logs = run_code(la, thread, code).logs
    assert logs.strip().splitlines()[0] != "0" or "No such file" in logs


def test_busy_loop_is_interrupted_and_state_is_kept(la, thread):
    run_code(la, thread, "kept = 41")
    outcome = run_code(la, thread, "while True:\n    pass")
    assert outcome.logs.count("KeyboardInterrupt") >= 1 and "time limit" in outcome.logs and not outcome.reset
    assert run_code(la, thread, "kept + 1").logs.strip() == "42"


@pytest.mark.parametrize("code", [
    "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.05)",
    "import re\nre.match(r'(a+)+$', 'a' * 40 + 'b')",
])
def test_code_that_cannot_be_interrupted_gets_a_restart(la, thread, code):
    run_code(la, thread, "kept = 1")
    outcome = run_code(la, thread, code)
    assert outcome.reset and "restarted" in outcome.logs
    assert "NameError" in run_code(la, thread, "kept").logs  # the state is really gone


def test_printing_50_mb_is_capped(la, thread):
    outcome = run_code(la, thread, "print('x' * 50_000_000)")
    assert len(outcome.logs) < 100_000 and "truncated" in outcome.logs


def test_printing_forever_is_interrupted(la, thread):
    outcome = run_code(la, thread, "while True:\n    print('flood' * 100)")
    assert "printed too much" in outcome.logs and len(outcome.logs) < 100_000


def test_a_symlink_to_the_database_is_not_collected(la, thread):
    db = la.runtime.settings.database_path.absolute()
    before = {f["id"] for f in la.runtime.store.find("files")}
    run = {"id": "run_symlink", "thread_id": thread["id"], "assistant_id": "asst_none"}
    la.runtime.code_interpreter.run(run, f"import os\nos.symlink({str(db)!r}, '/mnt/data/db.sqlite')\n"
                                         "os.symlink('/etc/shadow', '/mnt/data/shadow')\nopen('/mnt/data/real.txt', 'w').write('ok')")
    _, produced = la.runtime.code_interpreter.take_outputs("run_symlink")
    assert [p.name for p in produced] == ["real.txt"]
    after = {f["id"] for f in la.runtime.store.find("files")}
    assert len(after - before) == 1


def test_background_processes_do_not_survive_a_restart(la, thread):
    code = ("import subprocess\np = subprocess.Popen(['sleep', '600'], start_new_session=True)\n"
            "open('/mnt/data/pid', 'w').write(str(p.pid))")
    run_code(la, thread, code)
    kernel, _ = la.runtime.kernels.kernel_for(thread["id"])
    uid = kernel.uid
    assert processes_of(uid)
    la.runtime.kernels.restart(thread["id"])
    deadline = time.monotonic() + 5
    while processes_of(uid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_of(uid) == []
