"""Files: upload, list, retrieve, delete, content.

Bytes live under the data directory: written to a temporary file, fsynced,
renamed into place, and only then is the row inserted, so a crash leaves at
worst an orphan blob, which ``remove_orphans`` clears at start.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, BinaryIO, Callable

from ..errors import InvalidRequestError, PayloadTooLargeError
from ..ids import Clock, new_id, system_clock
from ..ports import ObjectStore
from .base import ResourceService, deleted

UPLOAD_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
MAX_FILES_LIST_LIMIT = 10_000
MIN_EXPIRES_AFTER_S = 3600
MAX_EXPIRES_AFTER_S = 30 * 24 * 3600
_CHUNK = 1 << 20


def _check_expires_after(value: dict) -> None:
    if value.get("anchor") != "created_at":
        raise InvalidRequestError("Invalid value for 'expires_after.anchor': expected 'created_at'.",
                                  param="expires_after.anchor")
    seconds = value.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not (
            MIN_EXPIRES_AFTER_S <= seconds <= MAX_EXPIRES_AFTER_S):
        raise InvalidRequestError(
            f"Invalid 'expires_after.seconds': expected an integer from {MIN_EXPIRES_AFTER_S} (1 hour) "
            f"to {MAX_EXPIRES_AFTER_S} (30 days).",
            param="expires_after.seconds",
        )


class FilesService(ResourceService):
    table = "files"
    noun = "file"

    def __init__(self, store: ObjectStore, files_dir: Path, max_bytes: int, clock: Clock = system_clock):
        super().__init__(store, clock)
        self.files_dir = Path(files_dir)
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.on_delete: list[Callable[[str], None]] = []
        """Called with a file's id inside the transaction that deletes it."""

    def path(self, file_id: str) -> Path:
        return self.files_dir / file_id

    def create(self, *, file: BinaryIO, filename: str, purpose: Any,
               expires_after: dict | None = None) -> dict:
        if purpose not in UPLOAD_PURPOSES:
            raise InvalidRequestError(
                f"Invalid value for 'purpose': expected one of {', '.join(UPLOAD_PURPOSES)}.", param="purpose"
            )
        if not filename:
            raise InvalidRequestError("Missing required parameter: 'file'.", param="file")
        if expires_after is not None:
            _check_expires_after(expires_after)
        return self.store_bytes(file, filename=os.path.basename(filename), purpose=purpose,
                                expires_after=expires_after)

    def store_bytes(self, source: BinaryIO, *, filename: str, purpose: str,
                    expires_after: dict | None = None) -> dict:
        file_id = new_id("file")
        final = self.path(file_id)
        tmp = final.with_name(f".{file_id}.tmp")
        size = 0
        try:
            with open(tmp, "wb") as out:
                while chunk := source.read(_CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise PayloadTooLargeError(
                            f"File is too large: the limit is {self.max_bytes} bytes.", param="file"
                        )
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        created = self.now()
        expires_at = None
        if expires_after:
            expires_at = created + int(expires_after.get("seconds") or 0)
        obj = {
            "id": file_id,
            "object": "file",
            "bytes": size,
            "created_at": created,
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "status_details": None,
            "expires_at": expires_at,
        }
        try:
            return self.store.insert(self.table, obj, purpose=purpose)
        except BaseException:
            final.unlink(missing_ok=True)
            raise

    def list(self, *, purpose: str | None = None, **page: Any):
        page.setdefault("limit", MAX_FILES_LIST_LIMIT)
        return self.list_page(purpose=purpose, max_limit=MAX_FILES_LIST_LIMIT, **page)

    def content(self, file_id: str) -> tuple[dict, Path]:
        obj = self.get(file_id)
        return obj, self.path(file_id)

    def delete(self, file_id: str) -> dict:
        """Delete a file and, as OpenAI does, remove it from every vector store."""
        with self.store.transaction():
            self.get(file_id)
            for forget in self.on_delete:
                forget(file_id)
            self.store.delete(self.table, file_id)
        self.path(file_id).unlink(missing_ok=True)
        return deleted(file_id, "file")

    def remove_orphans(self) -> int:
        """Delete blobs with no row (and unfinished temporaries); return how many."""
        removed = 0
        for entry in self.files_dir.iterdir():
            if not entry.is_file():
                continue  # never ours: leave folders (and what they hold) alone
            if entry.name.startswith(".") or self.store.get(self.table, entry.name) is None:
                entry.unlink(missing_ok=True)
                removed += 1
        return removed
