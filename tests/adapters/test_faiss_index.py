"""The FAISS index adapter, and the per-store index cache over the real SQLite store:
rebuilt from the chunk rows whenever its file is missing or disagrees; long chunks are
embedded in several pieces so that nothing in them goes unseen."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest

from local_assistants import Runtime
from local_assistants.adapters.faiss_index import FaissIndex
from local_assistants.services.indexes import PIECE_SLOTS, vector_ids
from conftest import make_settings

DIM = 8


def unit(rng, n, dim=DIM):
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# -- the adapter --------------------------------------------------------------------------

def test_add_search_remove(tmp_path):
    rng = np.random.default_rng(0)
    vecs = unit(rng, 50)
    ids = np.arange(50, dtype=np.int64) * PIECE_SLOTS
    index = FaissIndex(DIM, tmp_path / "a.faiss")
    index.add(ids, vecs)
    assert len(index) == 50
    hits = index.search(vecs[7], 3)
    # vectors are held as 16-bit floats: scores within 1e-3 of the exact ones
    assert hits[0][0] == 7 * PIECE_SLOTS and hits[0][1] == pytest.approx(1.0, abs=1e-3)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    top = index.search(vecs[7], 10)
    exact = vecs @ vecs[7]
    assert {i for i, _ in top} == set(ids[np.argsort(-exact)[:10]].tolist())
    assert all(s == pytest.approx(float(exact[i // PIECE_SLOTS]), abs=1e-3) for i, s in top)
    assert index.remove(ids[:10]) == 10
    assert len(index) == 40
    assert all(i >= 10 * PIECE_SLOTS for i, _ in index.search(vecs[3], 50))
    assert sorted(index.ids().tolist()) == ids[10:].tolist()


def test_search_within_allowed_ids(tmp_path):
    rng = np.random.default_rng(1)
    vecs = unit(rng, 30)
    index = FaissIndex(DIM)
    index.add(np.arange(30), vecs)
    allowed = np.array([3, 5, 29])
    hits = index.search(vecs[0], 10, allowed_ids=allowed)
    assert sorted(i for i, _ in hits) == [3, 5, 29]
    assert index.search(vecs[0], 10, allowed_ids=np.array([], dtype=np.int64)) == []
    assert FaissIndex(DIM).search(vecs[0], 5) == []


def test_save_and_open(tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "idx" / "vs_x.faiss"
    index = FaissIndex(DIM, path)
    index.add(np.array([64, 65, 128]), unit(rng, 3))
    index.save()
    assert path.is_file() and not list(path.parent.glob(".*.tmp"))
    again = FaissIndex.open(DIM, path)
    assert sorted(again.ids().tolist()) == [64, 65, 128]
    assert FaissIndex.open(DIM, tmp_path / "missing.faiss") is None
    assert FaissIndex.open(DIM + 1, path) is None  # another shape
    path.write_bytes(b"not an index")
    assert FaissIndex.open(DIM, path) is None


def test_an_index_saved_in_the_older_exact_format_is_not_opened(tmp_path):
    import faiss

    path = tmp_path / "vs_old.faiss"
    old = faiss.IndexIDMap(faiss.IndexFlatIP(DIM))  # what earlier versions wrote
    old.add_with_ids(unit(np.random.default_rng(3), 2), np.array([64, 128], dtype=np.int64))
    faiss.write_index(old, str(path))
    assert FaissIndex.open(DIM, path) is None  # so the cache rebuilds it from the store


# -- the cache over the store, with real embeddings ------------------------------------------

@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    rt = Runtime(make_settings(tmp_path_factory.mktemp("faiss")), start_worker=False)
    yield rt
    rt.close()


def ingest(rt, name: str, text: str, **attach) -> tuple[str, str]:
    f = rt.files.create(file=io.BytesIO(text.encode()), filename=name, purpose="assistants")
    vs = rt.vector_stores.create(name=name)
    rt.vector_store_files.create(vs["id"], file_id=f["id"], **attach)
    assert rt.ingestion.wait_idle(300)
    assert rt.vector_store_files.retrieve(vs["id"], f["id"])["status"] == "completed"
    # every vector of the store is in its index exactly once
    assert sorted(rt.vector_indexes.get(vs["id"]).ids().tolist()) == sorted(
        vector_ids(rt.store.chunk_slots(vs["id"])).tolist())
    return vs["id"], f["id"]


FACTS = [
    "The lighthouse keeper on Vargas Island feeds eleven cats every morning.",
    "Copper wire conducts electricity better than steel wire does.",
    "The annual cheese festival in Wensleydale is held in late September.",
]


def test_index_is_rebuilt_from_sqlite_after_its_file_is_deleted(runtime):
    rt = runtime
    vs_id, _ = ingest(rt, "facts.txt", "\n\n".join(FACTS),
                      chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 100,
                                                                      "chunk_overlap_tokens": 0}})
    before = [(r.chunk_id, r.score) for r in rt.search.search([vs_id], "cats on an island", touch=False)]
    rt.vector_indexes.flush()
    path = rt.vector_indexes.path(vs_id)
    assert path.is_file()
    path.unlink()
    rt.vector_indexes.forget()
    rebuilds = rt.vector_indexes.rebuilds
    after = [(r.chunk_id, r.score) for r in rt.search.search([vs_id], "cats on an island", touch=False)]
    assert rt.vector_indexes.rebuilds == rebuilds + 1
    assert after == before
    assert path.is_file()  # saved again


def test_index_that_disagrees_with_the_store_is_rebuilt(runtime):
    rt = runtime
    vs_id, file_id = ingest(rt, "facts2.txt", "\n\n".join(FACTS))
    other = rt.files.create(file=io.BytesIO(b"Penguins live in the southern hemisphere."), filename="p.txt",
                            purpose="assistants")
    rt.vector_store_files.create(vs_id, file_id=other["id"])
    assert rt.ingestion.wait_idle(300)
    rt.vector_indexes.flush()
    path = rt.vector_indexes.path(vs_id)
    stale = path.read_bytes()
    rt.vector_store_files.delete(vs_id, file_id)  # the store changes; simulate a crash before the flush
    path.write_bytes(stale)
    rt.vector_indexes.forget()
    rebuilds = rt.vector_indexes.rebuilds
    results = rt.search.search([vs_id], "cheese festival", touch=False)
    assert rt.vector_indexes.rebuilds == rebuilds + 1
    assert [r.file_id for r in results] == [other["id"]]
    assert len(rt.vector_indexes.get(vs_id)) == 1
    rt.vector_store_files.delete(vs_id, other["id"])
    rt.vector_indexes.flush()
    assert not path.exists()  # an empty store keeps no index file


def test_fact_at_the_end_of_a_1000_word_chunk_is_found(runtime):
    rt = runtime
    words = ("The committee reviewed the quarterly budget, discussed staffing levels, and approved new "
             "office furniture for the second floor meeting rooms.").split()
    filler = " ".join(words[i % len(words)] for i in range(1000))
    fact = "The vault combination is seven three nine, kept by the night watchman Ignatius."
    vs_id, file_id = ingest(rt, "minutes.txt", filler + " " + fact,
                            chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 4096,
                                                                            "chunk_overlap_tokens": 0}})
    ((seq, n_vectors),) = rt.store.chunk_slots(vs_id)  # one chunk ...
    assert n_vectors >= 4  # ... embedded in several pieces of at most 254 word pieces
    for mode in ("vector", "hybrid"):
        results = rt.search.search([vs_id], "Who keeps the vault combination?", mode=mode, touch=False)
        assert results and results[0].file_id == file_id
        assert fact in results[0].text
        assert results[0].score > 0.4, mode  # the fact's piece scores, not the filler's
    # without pieces the chunk's vector would be the filler's: far less similar
    head_only = rt.embedder.embed([filler[:1500]])[0]
    q = rt.embedder.embed(["Who keeps the vault combination?"])[0]
    assert float(head_only @ q) < rt.search.search([vs_id], "Who keeps the vault combination?",
                                                   mode="vector", touch=False)[0].score - 0.2


def test_orphan_index_files_are_removed_at_start(tmp_path):
    settings = make_settings(tmp_path)
    with Runtime(settings, start_worker=False) as rt:
        root = rt.vector_indexes.root
        root.mkdir(parents=True, exist_ok=True)
        (root / "vs_gone.faiss").write_bytes(b"x")
        (root / ".vs_half.faiss.tmp").write_bytes(b"x")
        rt.ingester.check_indexes()
        assert list(root.iterdir()) == []


def test_restart_rebuilds_a_missing_index_in_the_background(tmp_path):
    settings = make_settings(tmp_path)
    with Runtime(settings, start_worker=False) as rt:
        vs_id, _ = ingest(rt, "facts3.txt", "\n\n".join(FACTS))
        path = rt.vector_indexes.path(vs_id)
    assert path.is_file()  # flushed at close
    path.unlink()
    with Runtime(settings, start_worker=False) as rt:
        deadline = time.monotonic() + 60
        while not path.is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert path.is_file()  # the worker checked the indexes at start and rebuilt this one
        results = rt.search.search([vs_id], "electricity and copper", touch=False)
        assert "Copper" in results[0].text
