"""/v1/files (multipart upload)"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from ..errors import InvalidRequestError
from . import schemas as s
from .requests import call, query, runtime, upload_form

router = APIRouter()
FileObject = s.FileObject


@router.post("/files", **s.doc(form=s.UPLOAD_FORM, returns=FileObject))
async def upload_file(request: Request):
    files = runtime(request).files
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequestError("Expected a multipart/form-data body with 'file' and 'purpose'.")
    form = await upload_form(request, s.UPLOAD_FIELDS, files.max_bytes)
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
