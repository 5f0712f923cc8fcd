"""/v1/models: the catalog models are listed (present on disk or not) and retrievable."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from conftest import MODELS_DIR, make_settings, sdk_client
from local_assistants import LocalAssistants

CATALOG_NAMES = ("smollm2-135m-instruct", "gemma-3-270m")


def test_list_includes_catalog_models(client):
    models = list(client.models.list())
    ids = [m.id for m in models]
    for name in CATALOG_NAMES:
        assert name in ids
    assert len(ids) == len(set(ids))
    for m in models:
        assert m.object == "model"
        assert m.owned_by == "local"
        assert isinstance(m.created, int)


@pytest.mark.parametrize("name", CATALOG_NAMES)
def test_retrieve_catalog_model(client, name):
    m = client.models.retrieve(name)
    assert m.id == name and m.object == "model"


@pytest.mark.parametrize("name", ["gpt-4o", "gpt-4-turbo", "o3-mini", "ft:gpt-4o-mini:org::abc"])
def test_openai_names_the_runs_accept_are_retrievable(shared_client, name):
    # OpenAI answers 200 with the id for its models; so does a server whose runs accept them.
    m = shared_client.models.retrieve(name)
    assert m.id == name and m.object == "model"
    assert shared_client.beta.assistants.create(model=name).model == name


@pytest.mark.parametrize("path", ["/etc/passwd", "../models/SmolLM2-135M-Instruct.Q4_1.gguf", "~/model.gguf",
                                  "./model.gguf", "C:\\models\\m.gguf"])
def test_a_path_is_no_model_for_api_callers(shared_client, path):
    with pytest.raises(openai.BadRequestError) as info:
        shared_client.beta.assistants.create(model=path)
    assert info.value.code == "model_not_found" and info.value.param == "model"
    assistant = shared_client.beta.assistants.create(model="gpt-4o")
    with pytest.raises(openai.BadRequestError) as info:
        shared_client.beta.assistants.update(assistant.id, model=path)
    assert info.value.code == "model_not_found"
    thread = shared_client.beta.threads.create()
    with pytest.raises(openai.BadRequestError) as info:
        shared_client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id, model=path)
    assert info.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError) as info:
        shared_client.models.retrieve(path)
    assert info.value.code == "model_not_found"


def test_a_run_never_loads_a_path_stored_before_paths_were_refused(tmp_path):
    from local_assistants.catalog import ModelResolver
    from local_assistants.errors import NotFoundError

    resolver = ModelResolver(MODELS_DIR, "smollm2-135m-instruct")
    with pytest.raises(NotFoundError):
        resolver.resolve("/etc/passwd")  # what the run worker calls with a stored assistant's model
    assert resolver.resolve("gpt-4o").entry.name == "smollm2-135m-instruct"
    # The operator's own default may be a path.
    own = str(MODELS_DIR / "SmolLM2-135M-Instruct.Q4_1.gguf")
    assert ModelResolver(MODELS_DIR, own).resolve(own).path == Path(own)


def test_paths_are_allowed_when_the_operator_says_so(tmp_path):
    gguf = MODELS_DIR / "SmolLM2-135M-Instruct.Q4_1.gguf"
    with LocalAssistants(make_settings(tmp_path, api_model_paths=True)) as la:
        client = sdk_client(la.base_url)
        assistant = client.beta.assistants.create(model=str(gguf))
        assert client.models.retrieve(str(gguf)).id == str(gguf)
        run = client.beta.threads.create_and_run_poll(
            assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "Hi"}]},
            max_completion_tokens=3)
        assert run.status in ("completed", "incomplete")
        client.close()


def test_unknown_blank_or_overlong_names_are_404(client):
    for name in (" ", "x" * 300):
        with pytest.raises(openai.NotFoundError) as info:
            client.models.retrieve(name)
        assert info.value.code == "model_not_found"


@pytest.mark.parametrize("name", ["no-such-model", "my-model", "gpt", "gpt-x", "o", "llama3", "text-embedding-4"])
def test_a_name_openai_does_not_serve_is_not_found(shared_client, name):
    # Only OpenAI's own chat model names stand for the default model; any other is OpenAI's 404
    # (and, named in a request body, a 400 model_not_found).
    with pytest.raises(openai.NotFoundError) as info:
        shared_client.models.retrieve(name)
    assert info.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as info:
        shared_client.beta.assistants.create(model=name)
    assert info.value.code == "model_not_found" and info.value.param == "model"
    assert name not in {m.id for m in shared_client.models.list()}


def test_which_names_are_openai_chat_models():
    from local_assistants.catalog import ModelResolver, is_openai_chat_name
    from local_assistants.errors import NotFoundError

    for name in ("gpt-4o", "gpt-4o-mini-2024-07-18", "gpt-4.1-nano", "gpt-4-turbo", "gpt-3.5-turbo", "gpt-5",
                 "gpt-5.1-codex-max", "o1", "o3-mini", "o4-mini", "chatgpt-4o-latest", "ft:gpt-4o-mini:org::abc"):
        assert is_openai_chat_name(name), name
    for name in ("no-such-model", "gpt", "gpt-x", "o", "ox", "text-embedding-3-small", "whisper-1", "ft:my-model:x"):
        assert not is_openai_chat_name(name), name
    resolver = ModelResolver(MODELS_DIR, "smollm2-135m-instruct")
    assert resolver.resolve("gpt-4.1").entry.name == "smollm2-135m-instruct"
    with pytest.raises(NotFoundError):
        resolver.resolve("no-such-model")
