"""The embeddings service: which names it serves, what it refuses (OpenAI's words), that
vectors come back in the caller's order however they were batched, shortening, encodings,
and that many inputs reach the embedder in batches (the real one, counted)."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from local_assistants.errors import InvalidRequestError
from local_assistants.services import embeddings as es
from local_assistants.services.embeddings import EmbeddingsService


class LengthEmbedder:
    """The Embedder port: one token per character; a vector that says which text it is."""

    name = "fake-embedder"
    dimension = 4
    max_tokens = 10

    def __init__(self):
        self.calls: list[list[str]] = []

    def count_tokens(self, text):
        return len(text)

    def decode(self, ids):
        if any(not 0 <= i < 26 for i in ids):
            raise ValueError("outside the vocabulary")
        return "".join(chr(ord("a") + i) for i in ids)

    def embed(self, texts):
        self.calls.append(list(texts))
        out = np.array([[len(t), ord(t[0]), 1.0, 1.0] for t in texts], dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture
def embedder():
    return LengthEmbedder()


@pytest.fixture
def service(embedder):
    return EmbeddingsService(embedder)


def _message(call) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as info:
        call()
    return info.value


def test_the_names_served(service):
    assert [m.id for m in service.models()] == ["fake-embedder", "text-embedding-3-small", "text-embedding-3-large",
                                                "text-embedding-ada-002"]
    assert [m.dimensions for m in service.models()] == [False, True, True, False]
    assert all(o["object"] == "model" and o["owned_by"] == "local" for o in service.model_objects())


def test_vectors_come_back_in_the_callers_order_with_usage(service, embedder):
    texts = ["bb", "a", "dddd", "ccc"]
    out = service.create(input=texts, model="text-embedding-3-small", encoding_format="float")
    assert embedder.calls == [["dddd", "ccc", "bb", "a"]]  # longest first: batches of like length
    vectors = np.array([d["embedding"] for d in out["data"]])
    assert [round(v[1] / v[0]) for v in vectors] == [ord(t[0]) // len(t) for t in texts]
    assert [d["index"] for d in out["data"]] == [0, 1, 2, 3]
    assert out["usage"] == {"prompt_tokens": 10, "total_tokens": 10} and out["model"] == "text-embedding-3-small"


def test_token_ids_are_decoded_and_counted_as_given(service, embedder):
    out = service.create(input=[[0, 1], [2]], model="fake-embedder")
    assert sorted(embedder.calls[0]) == ["ab", "c"] and out["usage"]["prompt_tokens"] == 3
    service.create(input=[7, 8], model="fake-embedder")
    assert embedder.calls[1] == ["hi"]


@pytest.mark.parametrize("value", ["", [], [[]], ["a", ""], ["a", 1], [1, [2]], [True], [[1.5]], [99], None, 3,
                                   ["x"] * (es.MAX_INPUTS + 1), {"text": "x"}])
def test_invalid_inputs_are_refused_as_openai_words_it(service, value):
    err = _message(lambda: service.create(input=value, model="fake-embedder"))
    assert err.message == es.INVALID_INPUT and err.param is None


def test_an_input_past_the_window(service):
    err = _message(lambda: service.create(input=["ok", "x" * 11], model="fake-embedder"))
    assert err.message.startswith("This model's maximum context length is 10 tokens, however you requested 11 tokens "
                                  "(11 in your prompt; 0 for the completion).")
    assert _message(lambda: service.create(input=[1] * 11, model="fake-embedder")).message.startswith(
        "This model's maximum context length is 10 tokens")


def test_the_tokens_of_a_request_are_bounded(service, monkeypatch):
    monkeypatch.setattr(es, "MAX_REQUEST_TOKENS", 25)
    err = _message(lambda: service.create(input=["x" * 10] * 3, model="fake-embedder"))
    assert err.message == "Requested 30 tokens, max 25 tokens per request" and err.code == "max_tokens_per_request"


def test_dimensions_only_where_allowed(service):
    out = service.create(input="abc", model="text-embedding-3-large", dimensions=2, encoding_format="float")
    vec = np.array(out["data"][0]["embedding"])
    assert vec.shape == (2,) and np.linalg.norm(vec) == pytest.approx(1)
    for name in ("fake-embedder", "text-embedding-ada-002"):
        err = _message(lambda: service.create(input="a", model=name, dimensions=2))
        assert err.message == "This model does not support specifying dimensions." and err.param == "dimensions"
    assert _message(lambda: service.create(input="a", model="text-embedding-3-small", dimensions=5)).param == "dimensions"
    assert _message(lambda: service.create(input="a", model="text-embedding-3-small", dimensions=0)).param == "dimensions"


def test_shorten_keeps_the_direction_of_the_prefix():
    vectors = np.array([[3.0, 4.0, 12.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    np.testing.assert_allclose(es.shorten(vectors, 2), [[0.6, 0.8], [0.0, 0.0]], atol=1e-6)  # a zero prefix stays zero


def test_base64_is_little_endian_float32():
    vector = np.array([0.5, -1.25, 3.0], dtype=np.float32)
    raw = es.encode(vector, "base64")
    assert np.frombuffer(base64.b64decode(raw), dtype="<f4").tolist() == [0.5, -1.25, 3.0]
    assert es.encode(vector, "float") == [0.5, -1.25, 3.0]


@pytest.mark.parametrize("kwargs, param", [({"encoding_format": "int8"}, "encoding_format"),
                                           ({"user": "u" * 513}, "user"), ({"model": 3}, "model")])
def test_other_fields_are_checked(service, kwargs, param):
    assert _message(lambda: service.create(**{"input": "a", "model": "fake-embedder", **kwargs})).param == param


@pytest.mark.parametrize("name", ["no-such-model", "gpt-4o", "smollm2-135m-instruct", "mine.gguf", "../x"])
def test_names_that_do_not_embed(service, name):
    err = _message(lambda: service.create(input="a", model=name))
    assert err.code == "model_not_found" and err.param == "model"


def test_folder_models_are_found_opened_once_and_matryoshka_ones_shorten(tmp_path, embedder):
    for name in ("plain", "short", "text-embedding-3-small"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "modules.json").write_text("[]")
    (tmp_path / "short" / "README.md").write_text("## Training\n### Loss: MatryoshkaLoss")
    (tmp_path / "empty").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "modules.json").write_text("[]")
    opened = []

    def open_embedder(path):
        opened.append(path.name)
        return LengthEmbedder()

    service = EmbeddingsService(embedder, folder=tmp_path, open_embedder=open_embedder)
    models = {m.id: m for m in service.models()}
    assert list(models)[4:] == ["plain", "short"]  # the built-in names win; hidden and non-model folders are not listed
    assert models["short"].dimensions and not models["plain"].dimensions
    service.create(input="a", model="plain")
    service.create(input="a", model="plain")
    service.create(input="abc", model="short", dimensions=2)
    assert opened == ["plain", "short"] and embedder.calls == []


def test_many_inputs_reach_the_real_model_in_batches(monkeypatch):
    from local_assistants.adapters.embedder import SentenceTransformerEmbedder

    real = SentenceTransformerEmbedder()
    model = real.model()
    calls = []
    encode = model.encode
    monkeypatch.setattr(model, "encode", lambda texts, **kw: calls.append(len(texts)) or encode(texts, **kw))
    out = EmbeddingsService(real).create(input=[f"item number {i}" for i in range(2048)], model="all-MiniLM-L6-v2",
                                         encoding_format="base64")
    assert len(out["data"]) == 2048
    assert sum(calls) == 2048 and len(calls) == 2048 // real.batch_size and max(calls) == real.batch_size
