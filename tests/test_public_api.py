"""The package's public surface: __all__ and the version.  (The in-process LocalAssistants:
``test_client.py``; the error tree: ``test_errors.py``.)"""

from __future__ import annotations

import importlib

import pytest

import local_assistants


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
