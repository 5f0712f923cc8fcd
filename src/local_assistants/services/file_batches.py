"""File batches of vector stores: create (many files at once), retrieve, cancel, list their
files.  A batch's ``file_counts`` and ``status`` are computed from its files' rows whenever
it is read; its files are attached and ingested as single ones are."""

from __future__ import annotations

from typing import Any

from ..core import chunking
from ..core import filters as flt
from ..core import validation as v
from ..errors import InvalidRequestError, InvalidStateError
from ..ids import Clock, new_id, system_clock
from ..ports import FileSearchStore, ListQuery, Page
from .base import ResourceService
from .vector_store_files import VectorStoreFilesService, file_counts, file_id_list
from .vector_stores import VectorStoresService

MAX_BATCH_FILES = 2000


class FileBatchesService(ResourceService):
    table = "file_batches"
    noun = "file batch"

    def __init__(self, store: FileSearchStore, vector_stores: VectorStoresService,
                 vector_store_files: VectorStoreFilesService, clock: Clock = system_clock):
        super().__init__(store, clock)
        self.store: FileSearchStore = store
        self.vector_stores = vector_stores
        self.vector_store_files = vector_store_files

    def create(self, vector_store_id: str, *, file_ids: Any = None, files: Any = None,
               attributes: Any = None, chunking_strategy: Any = None) -> dict:
        if (file_ids is None) == (files is None):
            raise InvalidRequestError("Exactly one of 'file_ids' or 'files' is required.",
                                      param="file_ids" if file_ids is None else "files")
        entries: list[tuple[str, dict | None, dict]] = []
        if file_ids is not None:
            ids = file_id_list(file_ids, "file_ids", MAX_BATCH_FILES)
            attrs = flt.attributes(attributes)
            strategy = chunking.chunking_strategy(chunking_strategy)
            entries = [(f, attrs, strategy) for f in ids]
        else:
            if not isinstance(files, list) or len(files) > MAX_BATCH_FILES:
                raise InvalidRequestError(f"Invalid 'files': expected an array of at most {MAX_BATCH_FILES} "
                                          "objects.", param="files")
            for i, entry in enumerate(files):
                p = f"files[{i}]"
                if not isinstance(entry, dict) or not isinstance(entry.get("file_id"), str) or not entry["file_id"]:
                    raise InvalidRequestError(f"Missing required parameter: '{p}.file_id'.", param=f"{p}.file_id")
                v.refuse_unknown(entry, {"file_id", "attributes", "chunking_strategy"}, p)
                entries.append((entry["file_id"], flt.attributes(entry.get("attributes"), f"{p}.attributes"),
                                chunking.chunking_strategy(entry.get("chunking_strategy"), f"{p}.chunking_strategy")))
        if not entries:
            given = "file_ids" if file_ids is not None else "files"
            raise InvalidRequestError(f"Invalid '{given}': expected at least one file.", param=given)
        self.vector_store_files.check_exist([f for f, _, _ in entries],
                                            "file_ids" if file_ids is not None else "files")
        batch = {"id": new_id("batch"), "object": "vector_store.files_batch", "created_at": self.now(),
                 "vector_store_id": vector_store_id, "status": "in_progress", "file_counts": file_counts({})}
        with self.store.transaction():
            self.vector_stores.usable(vector_store_id)
            self.store.insert(self.table, batch, vector_store_id=vector_store_id)
            self.store.add_batch_files(batch["id"], vector_store_id, [f for f, _, _ in entries])
            for file_id, attrs, strategy in entries:
                self.vector_store_files.attach(vector_store_id, file_id, strategy=strategy, attributes=attrs)
        return self.render(batch)

    def _batch(self, vector_store_id: str, batch_id: str) -> dict:
        self.vector_stores.get(vector_store_id)
        return self.get(batch_id, vector_store_id=vector_store_id)

    def retrieve(self, vector_store_id: str, batch_id: str) -> dict:
        return self.render(self._batch(vector_store_id, batch_id))

    def cancel(self, vector_store_id: str, batch_id: str) -> dict:
        with self.store.transaction():
            batch = self._batch(vector_store_id, batch_id)
            current = self.render(batch)
            if current["status"] != "in_progress":
                raise InvalidStateError(f"Cannot cancel a file batch that is {current['status']}.",
                                        param="batch_id")
            query = ListQuery(limit=MAX_BATCH_FILES, order="asc")
            pending = self.store.list_vector_store_files(vector_store_id, query, status="in_progress",
                                                         batch_id=batch_id).data
            for obj in pending:
                obj["status"] = "cancelled"
                self.store.update_vector_store_file(obj)
            batch["status"] = "cancelled"
            self.store.update(self.table, batch, vector_store_id=vector_store_id)
        return self.render(batch)

    def list_files(self, vector_store_id: str, batch_id: str, **page: Any) -> Page:
        self._batch(vector_store_id, batch_id)
        return self.vector_store_files.list(vector_store_id, batch_id=batch_id, **page)

    def render(self, batch: dict) -> dict:
        counts, _ = self.store.vector_store_file_counts(batch["vector_store_id"], batch_id=batch["id"])
        counted = file_counts(counts)
        if batch["status"] == "cancelled":
            status = "cancelled"
        elif counted["in_progress"]:
            status = "in_progress"
        elif counted["total"] and counted["failed"] == counted["total"]:
            status = "failed"
        else:
            status = "completed"
        return {**batch, "file_counts": counted, "status": status}
