"""The catalog and how a model name becomes a GGUF file: a catalog name, a file in the models
folder, an OpenAI name (the default model), or a path only when it is the operator's.
(Through the API: ``tests/api/test_models.py``.)"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from local_assistants.catalog import CATALOG, DEFAULT_MODEL, TEST_MODEL, ModelResolver, ResolvedModel
from local_assistants.errors import NotFoundError

SMALL = CATALOG[TEST_MODEL]


def test_the_catalog_is_consistent():
    assert DEFAULT_MODEL in CATALOG and TEST_MODEL in CATALOG
    for name, entry in CATALOG.items():
        assert entry.name == name and entry.filename.endswith(".gguf")
        assert len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0
        assert entry.members and all("==" in p for p in entry.packages)
        assert len(entry.members) == len(entry.packages)  # one part per wheel, in order


def test_a_catalog_name_is_its_file_in_the_models_folder(tmp_path):
    resolved = ModelResolver(tmp_path).resolve(TEST_MODEL)
    assert resolved == ResolvedModel(TEST_MODEL, tmp_path / SMALL.filename, SMALL)


def test_a_file_name_in_the_models_folder_is_that_file_and_its_catalog_entry(tmp_path):
    assert ModelResolver(tmp_path).resolve(SMALL.filename).entry is SMALL
    other = ModelResolver(tmp_path).resolve("mine.gguf")
    assert other.path == tmp_path / "mine.gguf" and other.entry is None


def test_openai_names_are_the_default_model_logged_once(tmp_path, caplog):
    resolver = ModelResolver(tmp_path, TEST_MODEL)
    with caplog.at_level(logging.INFO, logger="local_assistants.catalog"):
        for name in ("gpt-4o", "gpt-4o", "gpt-4-turbo"):
            resolved = resolver.resolve(name)
            assert resolved.entry is SMALL and resolved.path == tmp_path / SMALL.filename
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2 and "'gpt-4o'" in said[0] and "'gpt-4-turbo'" in said[1]


@pytest.mark.parametrize("name", ["/etc/passwd", "../models/x.gguf", "./x.gguf", "~/x.gguf", "a/b.gguf",
                                  "C:\\m\\x.gguf", "bad\x00name"])
def test_a_path_from_a_caller_does_not_exist(tmp_path, name):
    with pytest.raises(NotFoundError) as info:
        ModelResolver(tmp_path, TEST_MODEL).resolve(name)
    assert (info.value.code, info.value.param, info.value.status_code) == ("model_not_found", "model", 404)


def test_paths_are_taken_when_allowed_or_when_they_are_the_default(tmp_path):
    gguf = tmp_path / "elsewhere" / SMALL.filename
    assert ModelResolver(tmp_path, TEST_MODEL, allow_paths=True).resolve(str(gguf)).path == gguf
    assert ModelResolver(tmp_path, str(gguf)).resolve(str(gguf)) == ResolvedModel(str(gguf), gguf, SMALL)
    assert ModelResolver(tmp_path, str(gguf)).resolve("gpt-4o").path == gguf  # OpenAI names follow it
    with pytest.raises(NotFoundError):
        ModelResolver(tmp_path, TEST_MODEL, allow_paths=True).resolve("bad\x00/name")


def test_a_default_gguf_name_not_in_the_folder_is_the_operators_relative_path(tmp_path):
    resolver = ModelResolver(tmp_path, "own.gguf")
    assert resolver.resolve("own.gguf").path == Path("own.gguf")
    (tmp_path / "own.gguf").write_bytes(b"x")
    assert resolver.resolve("own.gguf").path == tmp_path / "own.gguf"
    assert ModelResolver(tmp_path, TEST_MODEL).resolve("absent.gguf").path == tmp_path / "absent.gguf"


def test_a_default_that_is_neither_a_path_nor_in_the_catalog_is_its_own_name(tmp_path):
    assert ModelResolver(tmp_path, "custom-model").resolve("gpt-4o") == ResolvedModel("custom-model",
                                                                                      Path("custom-model"), None)


def test_local_files_are_the_ggufs_of_the_folder_sorted(tmp_path):
    assert ModelResolver(tmp_path / "absent").local_files() == []
    for name in ("b.gguf", "a.gguf", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert ModelResolver(tmp_path).local_files() == [tmp_path / "a.gguf", tmp_path / "b.gguf"]


def test_a_resolved_models_key_is_its_real_path(tmp_path):
    (tmp_path / "real.gguf").write_bytes(b"")
    (tmp_path / "link.gguf").symlink_to(tmp_path / "real.gguf")
    resolver = ModelResolver(tmp_path)
    assert resolver.resolve("link.gguf").key == resolver.resolve("real.gguf").key == str((tmp_path / "real.gguf").resolve())
