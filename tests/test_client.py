"""The in-process LocalAssistants: a real server on a loopback ephemeral port for as long as
the context is open, the official client pointed at it, settings given or overridden."""

from __future__ import annotations

import socket
import warnings

import openai

import local_assistants
from local_assistants import LocalAssistants, Settings
from conftest import make_settings


def _port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def test_context_manager_serves_a_working_client_and_closes_the_port(tmp_path):
    settings = make_settings(tmp_path)
    with local_assistants.LocalAssistants(settings) as la:
        client = la.client
        assert isinstance(client, openai.OpenAI)
        assert la.client is client
        host, port = la.host, la.port
        assert port != 0
        assert _port_accepts(host, port)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            a = client.beta.assistants.create(model="gpt-4o", name="public")
            assert client.beta.assistants.retrieve(a.id).name == "public"
        assert "smollm2-135m-instruct" in [m.id for m in client.models.list()]
        assert (tmp_path / "data" / "local_assistants.db").is_file()
    assert not _port_accepts(host, port)
    assert la.runtime is None


def test_two_instances_get_different_ports(tmp_path):
    with local_assistants.LocalAssistants(make_settings(tmp_path / "a")) as a, \
            local_assistants.LocalAssistants(make_settings(tmp_path / "b")) as b:
        assert a.port != b.port
        assert a.client.models.list().data and b.client.models.list().data


def test_overrides_apply_to_given_settings_or_to_the_environment(tmp_path, monkeypatch):
    settings = Settings(home=tmp_path, n_ctx=4096)
    assert LocalAssistants(settings).settings is settings
    la = LocalAssistants(settings, n_ctx=1024, api_key="k")
    assert (la.settings.n_ctx, la.settings.api_key, la.settings.home) == (1024, "k", tmp_path)
    assert la.settings.data_dir == tmp_path / "data"  # still following the home
    monkeypatch.setenv("LOCAL_ASSISTANTS_N_CTX", "2048")
    monkeypatch.setenv("LOCAL_ASSISTANTS_HOME", str(tmp_path / "env-home"))
    from_env = LocalAssistants(max_kernels=2).settings
    assert (from_env.n_ctx, from_env.max_kernels, from_env.home) == (2048, 2, tmp_path / "env-home")


def test_the_addresses_name_the_host_and_the_port_it_got(tmp_path):
    la = LocalAssistants(Settings(home=tmp_path), host="127.0.0.2", port=8123)
    assert la.base_url == "http://127.0.0.2:8123/v1" and la.playground_url == "http://127.0.0.2:8123/"
    assert la.runtime is None  # nothing runs before it is started
    la.stop()  # stopping what never started is harmless
