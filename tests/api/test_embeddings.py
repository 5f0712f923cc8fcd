"""POST /v1/embeddings through the official SDK against the real server and the real
all-MiniLM-L6-v2: every input form, both encodings, the same vectors sentence-transformers
itself gives (normalised, as file search embeds), OpenAI's dimensions and its errors."""

from __future__ import annotations

import base64
import os
import shutil

import numpy as np
import openai
import pytest

from conftest import make_settings, sdk_client
from local_assistants import LocalAssistants
from local_assistants.adapters.embedder import default_model_path

TEXTS = ["The quick brown fox jumps over the lazy dog.", "Solve 3x + 11 = 14 for x.", "hi"]


@pytest.fixture(scope="module")
def reference():
    """sentence-transformers called directly on the same model folder, offline."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(default_model_path()), device="cpu", local_files_only=True)
    return lambda texts: model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)


@pytest.fixture(scope="module")
def tokenizer():
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(default_model_path() / "tokenizer.json"))
    tok.no_padding()  # the file pads to 128 and truncates: what the model reads, not what was given
    tok.no_truncation()
    return tok


@pytest.fixture(scope="module")
def lenient_client(shared_server):
    """base64 answers need this: the SDK validates ``embedding`` as floats before it decodes
    base64, so a strictly validating client refuses every base64 answer (OpenAI's too)."""
    c = openai.OpenAI(base_url=shared_server.base_url, api_key="test-key", max_retries=0)
    yield c
    c.close()


def _vectors(response) -> np.ndarray:
    assert [d.index for d in response.data] == list(range(len(response.data)))
    return np.array([d.embedding for d in response.data], dtype=np.float32)


def test_strings_match_sentence_transformers_itself(shared_client, reference, tokenizer):
    response = shared_client.embeddings.create(model="all-MiniLM-L6-v2", input=TEXTS, encoding_format="float")
    assert response.object == "list" and response.model == "all-MiniLM-L6-v2"
    vectors = _vectors(response)
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(vectors, reference(TEXTS), atol=1e-5)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    tokens = sum(len(tokenizer.encode(t, add_special_tokens=False).ids) for t in TEXTS)
    assert response.usage.prompt_tokens == response.usage.total_tokens == tokens


def test_one_string_and_the_openai_names(shared_client, reference):
    for name in ("text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002"):
        response = shared_client.embeddings.create(model=name, input=TEXTS[0], encoding_format="float")
        assert response.model == name and len(response.data) == 1
        np.testing.assert_allclose(_vectors(response)[0], reference([TEXTS[0]])[0], atol=1e-5)


def test_float_and_base64_are_the_same_vectors(shared_client, lenient_client):
    floats = _vectors(shared_client.embeddings.create(model="all-MiniLM-L6-v2", input=TEXTS,
                                                      encoding_format="float"))
    raw = lenient_client.embeddings.create(model="all-MiniLM-L6-v2", input=TEXTS, encoding_format="base64")
    decoded = np.array([np.frombuffer(base64.b64decode(d.embedding), dtype="<f4") for d in raw.data])
    assert np.array_equal(decoded, floats)
    # Without encoding_format the SDK asks for base64 and decodes it itself.
    assert np.array_equal(_vectors(lenient_client.embeddings.create(model="all-MiniLM-L6-v2", input=TEXTS)), floats)


def test_token_ids_are_read_with_the_models_tokenizer(shared_client, reference, tokenizer):
    ids = [tokenizer.encode(t, add_special_tokens=False).ids for t in TEXTS]
    many = shared_client.embeddings.create(model="all-MiniLM-L6-v2", input=ids, encoding_format="float")
    np.testing.assert_allclose(_vectors(many), reference([t.lower() for t in TEXTS]), atol=1e-5)
    assert many.usage.prompt_tokens == sum(map(len, ids))
    one = shared_client.embeddings.create(model="all-MiniLM-L6-v2", input=ids[1], encoding_format="float")
    np.testing.assert_allclose(_vectors(one)[0], _vectors(many)[1], atol=1e-6)
    assert one.usage.total_tokens == len(ids[1])


def test_dimensions_cut_and_renormalise(shared_client):
    full = _vectors(shared_client.embeddings.create(model="text-embedding-3-small", input=TEXTS,
                                                    encoding_format="float"))
    short = _vectors(shared_client.embeddings.create(model="text-embedding-3-small", input=TEXTS, dimensions=64,
                                                     encoding_format="float"))
    assert short.shape == (3, 64)
    assert np.allclose(np.linalg.norm(short, axis=1), 1, atol=1e-5)
    prefix = full[:, :64]
    cosines = np.sum(short * prefix, axis=1) / np.linalg.norm(prefix, axis=1)
    assert np.allclose(cosines, 1, atol=1e-5)  # the same direction as the cut prefix
    same = _vectors(shared_client.embeddings.create(model="text-embedding-3-large", input=TEXTS, dimensions=384,
                                                    encoding_format="float"))
    np.testing.assert_allclose(same, full, atol=1e-6)


def _refused(call, status=400):
    error = openai.BadRequestError if status == 400 else openai.NotFoundError
    with pytest.raises(error) as info:
        call()
    return info.value


@pytest.mark.parametrize("kwargs, message, param", [
    ({"input": ["x"] * 2049}, "'$.input' is invalid. Please check the API reference", None),
    ({"input": ""}, "'$.input' is invalid. Please check the API reference", None),
    ({"input": ["fine", ""]}, "'$.input' is invalid. Please check the API reference", None),
    ({"input": []}, "'$.input' is invalid", None),
    ({"input": [[]]}, "'$.input' is invalid", None),
    ({"input": [10 ** 7]}, "'$.input' is invalid", None),
    ({"input": "word " * 300}, "This model's maximum context length is 254 tokens, however you requested 300 tokens "
                               "(300 in your prompt; 0 for the completion).", None),
    ({"input": [[2088] * 255]}, "This model's maximum context length is 254 tokens, however you requested 255", None),
    ({"input": "x", "model": "text-embedding-ada-002", "dimensions": 8},
     "This model does not support specifying dimensions.", "dimensions"),
    ({"input": "x", "model": "all-MiniLM-L6-v2", "dimensions": 8},
     "This model does not support specifying dimensions.", "dimensions"),
    ({"input": "x", "model": "text-embedding-3-small", "dimensions": 385}, "more than the 384 dimensions", "dimensions"),
    ({"input": "x", "encoding_format": "int8"}, "Invalid value: 'int8'", "encoding_format"),
])
def test_openai_errors(shared_client, kwargs, message, param):
    err = _refused(lambda: shared_client.embeddings.create(**{"model": "text-embedding-3-small", **kwargs}))
    assert err.message.startswith("Error code: 400") and message in str(err.body.get("message"))
    assert err.param == param


def test_the_per_request_token_limit(shared_client):
    err = _refused(lambda: shared_client.embeddings.create(model="all-MiniLM-L6-v2", input=[[2088] * 250] * 1201))
    assert err.code == "max_tokens_per_request" and "Requested 300250 tokens, max 300000" in err.body["message"]


def test_user_is_accepted_and_2048_inputs_are_embedded(lenient_client):
    response = lenient_client.embeddings.create(model="text-embedding-3-small", input=[f"item {i}" for i in range(2048)],
                                               user="user-1234", encoding_format="base64")
    assert len(response.data) == 2048 and response.data[-1].index == 2047


@pytest.mark.parametrize("name", ["no-such-model", "text-embedding-4", "smollm2-135m-instruct", "gpt-4o"])
def test_models_that_do_not_embed_are_refused(shared_client, name):
    err = _refused(lambda: shared_client.embeddings.create(model=name, input="x"))
    assert err.code == "model_not_found" and err.param == "model"


def test_the_embedding_models_list_and_retrieve(shared_client):
    listed = {m.id: m for m in shared_client.models.list()}
    for name in ("all-MiniLM-L6-v2", "text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002"):
        assert listed[name].object == "model" and listed[name].owned_by == "local"
        got = shared_client.models.retrieve(name)
        assert (got.id, got.object, got.owned_by) == (name, "model", "local")


def test_an_operators_sentence_transformers_folder_is_served_by_its_name(tmp_path, reference):
    """A folder under <models_dir>/embeddings/<name>/ (here: MiniLM's files, linked); its model
    card naming Matryoshka training lets it take ``dimensions``."""
    models = tmp_path / "models"
    for name, card in (("my-minilm", None), ("my-matryoshka", "Trained with MatryoshkaLoss.")):
        folder = models / "embeddings" / name
        shutil.copytree(default_model_path(), folder, copy_function=os.symlink,
                        ignore=shutil.ignore_patterns("README.md"))
        if card:
            (folder / "README.md").write_text(card)
    (models / "embeddings" / "not-a-model").mkdir()
    with LocalAssistants(make_settings(tmp_path, models_dir=models)) as la:
        client = sdk_client(la.base_url)
        ids = {m.id for m in client.models.list()}
        assert {"my-minilm", "my-matryoshka"} <= ids and "not-a-model" not in ids
        assert client.models.retrieve("my-minilm").owned_by == "local"
        response = client.embeddings.create(model="my-minilm", input=TEXTS, encoding_format="float")
        assert response.model == "my-minilm"
        np.testing.assert_allclose(_vectors(response), reference(TEXTS), atol=1e-5)
        err = _refused(lambda: client.embeddings.create(model="my-minilm", input="x", dimensions=8))
        assert err.param == "dimensions"
        short = client.embeddings.create(model="my-matryoshka", input="x", dimensions=8, encoding_format="float")
        assert len(short.data[0].embedding) == 8
        err = _refused(lambda: client.embeddings.create(model="not-a-model", input="x"))
        assert err.code == "model_not_found"
        client.close()
