"""The package's public surface: __all__, and the in-process LocalAssistants context manager."""

from __future__ import annotations

import importlib
import socket
import warnings

import openai
import pytest

import local_assistants
from conftest import make_settings


def test_all_is_sorted_and_unique():
    assert local_assistants.__all__ == sorted(local_assistants.__all__)
    assert len(set(local_assistants.__all__)) == len(local_assistants.__all__)


@pytest.mark.parametrize("name", local_assistants.__all__)
def test_every_public_name_is_importable(name):
    module = importlib.import_module("local_assistants")
    assert getattr(module, name) is not None
    namespace: dict = {}
    exec(f"from local_assistants import {name}", namespace)
    assert namespace[name] is getattr(local_assistants, name)


def test_version_is_a_string():
    assert isinstance(local_assistants.__version__, str) and local_assistants.__version__


def test_errors_share_one_root():
    for name in ("InvalidRequestError", "InvalidStateError", "ModelError", "NotFoundError",
                 "PayloadTooLargeError"):
        assert issubclass(getattr(local_assistants, name), local_assistants.LocalAssistantsError)


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
