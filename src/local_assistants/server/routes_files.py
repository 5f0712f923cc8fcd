"""/v1/files (multipart upload)"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.formparsers import MultiPartException

from ..core import validation as v
from ..errors import InvalidRequestError, PayloadTooLargeError, UnknownParameterError
from . import schemas as s
from .requests import call, query, runtime

router = APIRouter()
FileObject = s.FileObject
MAX_FORM_FIELD_CHARS = 1024


@router.post("/files", **s.doc(form=s.UPLOAD_FORM, returns=FileObject))
async def upload_file(request: Request):
    files = runtime(request).files
    length = request.headers.get("content-length")
    # A multipart body carries a little more than the file: allow 1 MiB of envelope.
    if length and length.isdigit() and int(length) > files.max_bytes + (1 << 20):
        raise PayloadTooLargeError(f"File is too large: the limit is {files.max_bytes} bytes.", param="file")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequestError("Expected a multipart/form-data body with 'file' and 'purpose'.")
    try:
        form = await request.form(max_part_size=files.max_bytes + 1, max_fields=len(s.UPLOAD_FIELDS) * 2)
    except MultiPartException as err:
        raise InvalidRequestError(f"Could not parse the multipart body: {err.message}") from None
    # The same checks as a JSON body's: known fields only, each once, valid Unicode, bounded.
    seen: set[str] = set()
    for name, value in form.multi_items():
        v.check_string(name, "form field name")
        if name not in s.UPLOAD_FIELDS:
            raise UnknownParameterError(name)
        if name in seen:
            raise InvalidRequestError(f"Invalid body: '{name}' was given more than once.", param=name)
        seen.add(name)
        if isinstance(value, str):
            v.check_string(value, name)
            if len(value) > MAX_FORM_FIELD_CHARS:
                raise InvalidRequestError(f"Invalid '{name}': string too long. Expected a string with maximum "
                                          f"length {MAX_FORM_FIELD_CHARS}, but got a string with length "
                                          f"{len(value)} instead.", param=name)
        elif value.filename is not None:
            v.check_string(value.filename, "file")
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise InvalidRequestError("Missing required parameter: 'file'.", param="file")
    purpose = form.get("purpose")
    if purpose is None:
        raise InvalidRequestError("Missing required parameter: 'purpose'.", param="purpose")
    expires_after = None
    if form.get("expires_after[seconds]") is not None:
        try:
            expires_after = {"anchor": form.get("expires_after[anchor]") or "created_at",
                             "seconds": int(form.get("expires_after[seconds]"))}
        except ValueError:
            raise InvalidRequestError("Invalid 'expires_after[seconds]': expected an integer.",
                                      param="expires_after.seconds") from None
    try:
        return await call(files.create, file=upload.file, filename=upload.filename or "", purpose=purpose,
                          expires_after=expires_after)
    finally:
        await upload.close()


@router.get("/files", **s.doc(query=s.FILES_PAGE, returns=s.ListPage[FileObject]))
async def list_files(request: Request):
    params = query(request, s.FILES_PAGE)
    if params["limit"] is None:
        params.pop("limit")
    page = await call(runtime(request).files.list, **params)
    return page.to_body()


@router.get("/files/{file_id}", **s.doc(returns=FileObject))
async def retrieve_file(file_id: str, request: Request):
    return await call(runtime(request).files.get, file_id)


@router.delete("/files/{file_id}", **s.doc(returns=s.sdk.FileDeleted))
async def delete_file(file_id: str, request: Request):
    return await call(runtime(request).files.delete, file_id)


@router.get("/files/{file_id}/content", **s.doc(binary=True))
async def file_content(file_id: str, request: Request):
    obj, path = await call(runtime(request).files.content, file_id)
    return FileResponse(path, media_type="application/octet-stream", filename=obj["filename"])
