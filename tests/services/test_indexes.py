"""The vector indexes of the vector stores, a cache of what SQLite holds: vector ids that
map back to chunks, an index loaded from its file only when it agrees with the store,
changes saved on flush, files of gone stores removed.  (With real embeddings and the whole
runtime: tests/adapters/test_faiss_index.py.)"""

from __future__ import annotations

import pytest

from local_assistants.services.indexes import PIECE_SLOTS, vector_ids
from .file_search_stack import Stack


def test_vector_ids_map_pieces_to_chunks():
    ids = vector_ids([(5, 1), (7, 3)])
    assert ids.tolist() == [5 * 64, 7 * 64, 7 * 64 + 1, 7 * 64 + 2]
    assert (ids // PIECE_SLOTS).tolist() == [5, 7, 7, 7]
    assert vector_ids([]).tolist() == []


@pytest.fixture
def stack(tmp_path):
    return Stack(tmp_path)


def test_a_new_store_gets_an_empty_index_without_a_rebuild_or_a_file(stack):
    vs = stack.vector_stores.create(name="empty")
    assert len(stack.indexes.get(vs["id"])) == 0
    assert stack.indexes.rebuilds == 0 and not stack.indexes.path(vs["id"]).exists()


def test_flush_saves_changed_indexes_and_an_emptied_one_leaves_no_file(stack):
    vs_id, ids = stack.store_with(a="Otters hold hands.")
    path = stack.indexes.path(vs_id)
    assert not path.exists()  # changes reach the file on flush
    assert stack.indexes.flush() == 1 and path.is_file()
    assert stack.indexes.flush() == 0  # nothing changed since
    stack.indexes.forget()
    assert len(stack.indexes.get(vs_id)) == 1 and stack.indexes.rebuilds == 0  # the file agreed: loaded
    stack.vector_store_files.delete(vs_id, ids["a"])
    assert stack.indexes.flush() == 1 and not path.exists()


def test_an_unreadable_index_file_is_rebuilt_from_the_store(stack):
    vs_id, _ = stack.store_with(a="Otters hold hands.", b="Cheese festival.")
    stack.indexes.flush()
    stack.indexes.path(vs_id).write_bytes(b"garbage")
    stack.indexes.forget()
    index = stack.indexes.get(vs_id)
    assert stack.indexes.rebuilds == 1
    assert sorted(index.ids().tolist()) == sorted(vector_ids(stack.store.chunk_slots(vs_id)).tolist())
    assert stack.search.search(vs_id, "otters hold hands", mode="vector")[0].text == "Otters hold hands."


def test_drop_forgets_the_index_and_its_file(stack):
    vs_id, _ = stack.store_with(a="Otters hold hands.")
    stack.indexes.flush()
    stack.indexes.drop(vs_id)
    assert not stack.indexes.path(vs_id).exists()
    assert stack.indexes.flush() == 0


def test_remove_orphans_deletes_only_files_of_unknown_stores_and_temporaries(stack):
    root = stack.indexes.root
    assert stack.indexes.remove_orphans({"vs_a"}) == 0  # no folder yet
    root.mkdir(parents=True)
    for name in ("vs_a.faiss", "vs_gone.faiss", ".vs_a.faiss.tmp", "notes.txt"):
        (root / name).write_bytes(b"x")
    (root / "vs_dir.faiss").mkdir()
    assert stack.indexes.remove_orphans({"vs_a"}) == 2
    assert sorted(p.name for p in root.iterdir()) == ["notes.txt", "vs_a.faiss", "vs_dir.faiss"]
