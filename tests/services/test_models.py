"""The model pool and fetcher without loading a model: names that share a file share one
model, at most ``max_loaded`` are kept (the least recently used is closed), a missing
catalog file is fetched first, and the fetcher's errors.  Pulling once for concurrent runs
and never pulling a path: tests/test_model_pull.py; /v1/models: tests/api/test_models.py."""

from __future__ import annotations

import pytest

from local_assistants.catalog import CATALOG, ModelResolver, ResolvedModel
from local_assistants.errors import ModelError
from local_assistants.services.models import ModelFetcher, ModelPool

SMALL = "smollm2-135m-instruct"
GEMMA = "gemma-3-270m"
QWEN = "qwen2.5-coder-0.5b-instruct"


class Model:
    """A ChatModel as the pool handles it: loaded, closed."""

    def __init__(self, resolved: ResolvedModel):
        self.resolved = resolved
        self.loads = 0
        self.closed = False

    def load(self) -> None:
        self.loads += 1

    def close(self) -> None:
        self.closed = True


class Factory:
    def __init__(self):
        self.made: list[Model] = []

    def __call__(self, resolved: ResolvedModel) -> Model:
        self.made.append(Model(resolved))
        return self.made[-1]


@pytest.fixture
def models_dir(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    for name in (SMALL, GEMMA, QWEN):
        (folder / CATALOG[name].filename).write_bytes(b"gguf")
    return folder


def test_names_of_one_file_share_one_model_loaded_on_every_get(models_dir):
    factory = Factory()
    pool = ModelPool(ModelResolver(models_dir, SMALL), factory)
    model = pool.get("gpt-4o")  # an OpenAI name: the default model
    assert pool.get(SMALL) is model and pool.get(CATALOG[SMALL].filename) is model
    assert len(factory.made) == 1 and model.resolved.entry is CATALOG[SMALL]
    assert model.loads == 3  # load is the model's to make idempotent: the pool asks every time
    assert pool.get(GEMMA) is not model and len(factory.made) == 2


def test_the_least_recently_used_model_is_closed_beyond_max_loaded(models_dir):
    factory = Factory()
    pool = ModelPool(ModelResolver(models_dir, SMALL), factory, max_loaded=2)
    small, gemma = pool.get(SMALL), pool.get(GEMMA)
    pool.get(SMALL)  # used again: gemma is now the least recently used
    qwen = pool.get(QWEN)
    assert gemma.closed and not small.closed and not qwen.closed
    assert pool.get(SMALL) is small  # still kept
    again = pool.get(GEMMA)  # made anew; qwen, used before small, goes
    assert again is not gemma and qwen.closed and not small.closed
    assert len(factory.made) == 4


def test_close_closes_every_model_and_forgets_them(models_dir):
    factory = Factory()
    pool = ModelPool(ModelResolver(models_dir, SMALL), factory)
    small, gemma = pool.get(SMALL), pool.get(GEMMA)
    pool.close()
    assert small.closed and gemma.closed
    assert pool.get(SMALL) is not small and len(factory.made) == 3


def test_only_a_missing_catalog_file_in_the_models_folder_is_fetched(tmp_path, models_dir):
    fetched: list[str] = []

    def fetch(resolved: ResolvedModel) -> None:
        fetched.append(resolved.requested)
        resolved.path.write_bytes(b"gguf")

    (models_dir / CATALOG[GEMMA].filename).unlink()
    (models_dir / "own.gguf").write_bytes(b"gguf")
    pool = ModelPool(ModelResolver(models_dir, SMALL), Factory(), fetch=fetch)
    pool.get(SMALL)  # present
    pool.get("own.gguf")  # not a catalog model
    assert fetched == []
    pool.get(GEMMA)
    pool.get(GEMMA)
    assert fetched == [GEMMA]  # once: the file is there after


def test_a_fetch_that_fails_makes_no_model(models_dir):
    factory = Factory()
    (models_dir / CATALOG[GEMMA].filename).unlink()

    def fetch(resolved):
        raise ModelError("offline", code="model_not_found")

    pool = ModelPool(ModelResolver(models_dir, SMALL), factory, fetch=fetch)
    with pytest.raises(ModelError):
        pool.get(GEMMA)
    assert factory.made == []


# -- the fetcher ---------------------------------------------------------------------------

def _missing(tmp_path, name=SMALL) -> ResolvedModel:
    return ResolvedModel(name, tmp_path / CATALOG[name].filename, CATALOG[name])


def test_a_present_file_or_a_model_outside_the_catalog_is_never_pulled(tmp_path):
    pulls = []
    fetch = ModelFetcher(pulls.append, lambda name: f"pull {name}")
    present = _missing(tmp_path)
    present.path.write_bytes(b"gguf")
    fetch(present)
    fetch(ResolvedModel("own.gguf", tmp_path / "own.gguf", None))  # not there, but not ours to fetch
    assert pulls == []


def test_a_pull_that_leaves_the_file_there_is_enough(tmp_path):
    pulls = []

    def pull(entry):
        pulls.append(entry.name)
        (tmp_path / entry.filename).write_bytes(b"gguf")

    ModelFetcher(pull, lambda name: f"pull {name}")(_missing(tmp_path))
    assert pulls == [SMALL]


def test_with_pulls_off_nothing_is_pulled_and_the_error_says_how(tmp_path):
    pulls = []
    fetch = ModelFetcher(pulls.append, lambda name: f"local-assistants models pull {name}", enabled=False)
    with pytest.raises(ModelError) as info:
        fetch(_missing(tmp_path))
    assert pulls == []
    assert info.value.code == "model_not_found"
    assert "`local-assistants models pull smollm2-135m-instruct`" in info.value.message


def test_a_failed_pull_is_a_model_error_with_its_cause_and_the_command(tmp_path):
    def pull(entry):
        raise OSError("network unreachable")

    with pytest.raises(ModelError) as info:
        ModelFetcher(pull, lambda name: f"fix {name}")(_missing(tmp_path))
    assert info.value.code == "model_not_found"
    assert "could not be pulled: network unreachable" in info.value.message
    assert "`fix smollm2-135m-instruct`" in info.value.message
    assert isinstance(info.value.__cause__, OSError)


def test_a_pull_that_reports_success_without_the_file_is_an_error(tmp_path):
    with pytest.raises(ModelError) as info:
        ModelFetcher(lambda entry: None, lambda name: f"fix {name}")(_missing(tmp_path))
    assert "still not at" in info.value.message and "`fix smollm2-135m-instruct`" in info.value.message


def test_pulls_of_different_models_do_not_wait_for_each_other(tmp_path):
    """One lock per model: a pull of one model may start while another's is under way."""
    import threading

    started = {SMALL: threading.Event(), GEMMA: threading.Event()}

    def pull(entry):
        started[entry.name].set()
        other = GEMMA if entry.name == SMALL else SMALL
        assert started[other].wait(10), f"{entry.name}'s pull waited for {other}'s"
        (tmp_path / entry.filename).write_bytes(b"gguf")

    fetch = ModelFetcher(pull, lambda name: name)
    errors = []

    def get(name):
        try:
            fetch(_missing(tmp_path, name))
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=get, args=(name,)) for name in (SMALL, GEMMA)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and all((tmp_path / CATALOG[n].filename).is_file() for n in (SMALL, GEMMA))
