"""The runtime's own logic: how it wires the services, which models it shows and accepts, how it
builds and fetches models, and what it says when the code interpreter's folder cannot be made.
(The services themselves have their own tests; the runtime's folders: ``test_home.py``.)"""

from __future__ import annotations

import inspect
import logging

import pytest

from conftest import make_settings
from local_assistants import Runtime
from local_assistants.catalog import CATALOG, DEFAULT_MODEL, OPENAI_EMBEDDING_NAMES, TEST_MODEL, ModelResolver
from local_assistants.errors import InvalidRequestError, ModelError, NotFoundError
from local_assistants.runtime import MAX_MODEL_NAME, code_interpreter_place, llama_factory, model_fetcher
from local_assistants.testing import FakeChatModel

SMALL = CATALOG[TEST_MODEL]


def test_services_are_wired_through_their_constructors():
    """The runtime builds each service with what it needs: no attribute is set afterwards."""
    import ast

    import local_assistants.runtime as runtime

    tree = ast.parse(inspect.getsource(runtime))
    late = [ast.unparse(node.targets[0]) for node in ast.walk(tree) if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Attribute)
            and ast.unparse(t.value).startswith("self.")]
    assert late == []


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runtime")
    models = folder / "models"
    models.mkdir()
    (models / SMALL.filename).write_bytes(b"")  # present (never loaded: the model factory is a fake)
    (models / "extra.gguf").write_bytes(b"")
    with Runtime(make_settings(folder, models_dir=models), model_factory=lambda resolved: FakeChatModel(),
                 start_worker=False) as rt:
        yield rt


def test_the_models_are_the_catalog_present_or_not_and_other_local_files(runtime):
    objects = {o["id"]: o for o in runtime.model_objects()}
    assert set(objects) == {*CATALOG, "extra.gguf", "all-MiniLM-L6-v2", *OPENAI_EMBEDDING_NAMES}
    assert objects[TEST_MODEL]["present"] is True and objects[DEFAULT_MODEL]["present"] is False
    assert objects["extra.gguf"]["present"] is True and objects["extra.gguf"]["created"] > 0
    assert all(o["object"] == "model" and o["owned_by"] == "local" for o in objects.values())
    assert runtime.model_object(TEST_MODEL) == objects[TEST_MODEL]
    assert runtime.model_object("gpt-4o") == {"id": "gpt-4o", "object": "model", "created": 0, "owned_by": "local"}


@pytest.mark.parametrize("name", ["", "  ", "x" * (MAX_MODEL_NAME + 1), "/etc/passwd"])
def test_a_name_no_run_could_use_is_not_found_and_in_a_request_a_400(runtime, name):
    with pytest.raises(NotFoundError) as info:
        runtime.model_object(name)
    assert info.value.code == "model_not_found"
    with pytest.raises(InvalidRequestError) as info:
        runtime._check_requested_model(name)
    assert (info.value.status_code, info.value.param, info.value.code) == (400, "model", "model_not_found")
    assert len(info.value.message) < MAX_MODEL_NAME + 60


def test_a_model_factory_of_ones_own_is_never_pulled_for(runtime):
    assert runtime.model_pool.fetch is None
    assert isinstance(runtime.model_pool.get("gpt-4o"), FakeChatModel)


def test_the_fetcher_pulls_into_the_models_folder_or_says_the_command(tmp_path):
    settings = make_settings(tmp_path, models_dir=tmp_path / "models", auto_pull=False)
    fetch = model_fetcher(settings)
    assert not fetch.enabled
    assert fetch.command(TEST_MODEL) == f"local-assistants --models-dir {tmp_path / 'models'} models pull {TEST_MODEL}"
    with pytest.raises(ModelError, match="automatic pulls are off"):
        fetch(ModelResolver(settings.models_dir).resolve(TEST_MODEL))
    assert model_fetcher(settings.replace(auto_pull=True)).enabled


def test_the_llama_factory_builds_the_model_with_the_settings_without_loading_it(tmp_path):
    settings = make_settings(tmp_path, n_threads=3, repeat_penalty=1.3)
    resolver = ModelResolver(tmp_path)
    qwen = llama_factory(settings)(resolver.resolve("qwen2.5-coder-0.5b-instruct"))
    assert qwen.name == "qwen2.5-coder-0.5b-instruct" and qwen.n_threads == 3
    assert qwen.sampling == CATALOG["qwen2.5-coder-0.5b-instruct"].sampling
    assert qwen.repeat_penalty == CATALOG["qwen2.5-coder-0.5b-instruct"].sampling["repeat_penalty"]
    gemma = llama_factory(settings)(resolver.resolve("gemma-3-270m"))
    assert gemma.chat_format == "gemma" and gemma.repeat_penalty == 1.3
    own = llama_factory(settings)(resolver.resolve("own.gguf"))
    assert own.name == "own.gguf" and own.chat_format is None and own.sampling == {}
    assert qwen._llm is None and own._llm is None  # loaded on first use only


def test_a_missing_default_model_is_named_at_start_with_its_command_when_pulls_are_off(tmp_path, caplog):
    settings = make_settings(tmp_path, models_dir=tmp_path / "models", auto_pull=False)
    with caplog.at_level(logging.INFO, logger="local_assistants.runtime"):
        Runtime(settings, start_worker=False).close()
    said = [r for r in caplog.records if TEST_MODEL in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING
    assert f"models pull {TEST_MODEL}" in said[0].getMessage()


def test_a_sandbox_folder_that_cannot_be_made_is_the_code_interpreters_reason(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    place, problem = code_interpreter_place(make_settings(tmp_path, sandbox_dir=blocker / "sandbox"))
    assert place.sandbox_dir == blocker / "sandbox"
    assert problem is not None and "could not be made" in problem and "LOCAL_ASSISTANTS_SANDBOX_DIR" in problem
