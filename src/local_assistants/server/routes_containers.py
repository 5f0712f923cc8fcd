"""/v1/containers and their /files (a file: a multipart upload, or JSON naming an uploaded file)"""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.background import BackgroundTask

import openai.types.containers as sdk_containers

from ..core import validation as v
from ..errors import InvalidRequestError
from ..services import containers as containers_service
from . import schemas as s
from .requests import call, json_body, page_params, query, runtime, upload_form

router = APIRouter()
Container = s.sdk.ContainerRetrieveResponse
ContainerFile = sdk_containers.FileRetrieveResponse


# -- what the routes take and answer ------------------------------------------------------
CREATE_CONTAINER = s.Body("CreateContainerRequest", {
    "name": s.string(v.MAX_NAME),
    "file_ids": s.nullable({"type": "array", "maxItems": containers_service.MAX_FILE_IDS,
                            "items": s.string(minLength=1)}),
    "expires_after": s.nullable(s.obj({"anchor": {"const": "last_active_at"},
                                       "minutes": s.integer(1, containers_service.MAX_MINUTES)},
                                      ("anchor", "minutes"))),
    "memory_limit": s.nullable(s.enum(containers_service.MEMORY_LIMITS)),
    "network_policy": s.nullable(s.obj({"type": {"const": "disabled"}}, ("type",),
                                       description="Offline: no network, whatever the policy.")),
    "skills": s.nullable({"type": "array", "maxItems": 0, "description": "No skills here."}),
}, ("name",))
CREATE_CONTAINER_FILE = s.Body("CreateContainerFileRequest", {"file_id": s.string(minLength=1)}, ("file_id",))
CONTAINER_FILE_FORM = {"type": "object", "required": ["file"],
                       "properties": {"file": {"type": "string", "format": "binary"}}}
CONTAINERS_PAGE = (*s.PAGE, s.Param("name", s.string(), "only the containers of this name"))


class ContainerDeleted(BaseModel):
    id: str
    object: Literal["container.deleted"]
    deleted: bool


class ContainerFileDeleted(BaseModel):
    id: str
    object: Literal["container.file.deleted"]
    deleted: bool


def _file_doc() -> dict:
    """A JSON body naming a file, or a multipart upload: both described."""
    kwargs = s.doc(body=CREATE_CONTAINER_FILE, returns=sdk_containers.FileCreateResponse)
    kwargs["openapi_extra"]["requestBody"]["content"]["multipart/form-data"] = {"schema": CONTAINER_FILE_FORM}
    return kwargs


# -- containers -----------------------------------------------------------------------------
@router.post("/containers", **s.doc(body=CREATE_CONTAINER, returns=s.sdk.ContainerCreateResponse))
async def create_container(request: Request):
    body = await json_body(request, CREATE_CONTAINER)
    return await call(runtime(request).containers.create, **body)


@router.get("/containers", **s.doc(query=CONTAINERS_PAGE, returns=s.ListPage[s.sdk.ContainerListResponse]))
async def list_containers(request: Request):
    page = await call(runtime(request).containers.list, **query(request, CONTAINERS_PAGE))
    return page.to_body()


@router.get("/containers/{container_id}", **s.doc(returns=Container))
async def retrieve_container(container_id: str, request: Request):
    return await call(runtime(request).containers.retrieve, container_id)


@router.delete("/containers/{container_id}", **s.doc(returns=ContainerDeleted))
async def delete_container(container_id: str, request: Request):
    return await call(runtime(request).containers.delete, container_id)


# -- their files ----------------------------------------------------------------------------
@router.post("/containers/{container_id}/files", **_file_doc())
async def create_container_file(container_id: str, request: Request):
    containers = runtime(request).containers
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        body = await json_body(request, CREATE_CONTAINER_FILE)
        return await call(containers.create_file, container_id, file_id=body["file_id"])
    form = await upload_form(request, {"file", "file_id"}, runtime(request).files.max_bytes)
    upload = form.get("file")
    file_id = form.get("file_id")
    try:
        if upload is None or isinstance(upload, str):
            if upload is not None:
                raise InvalidRequestError("Invalid 'file': expected a file upload.", param="file")
            return await call(containers.create_file, container_id, file_id=file_id)
        return await call(containers.create_file, container_id, file=upload.file, filename=upload.filename or "",
                          file_id=file_id)
    finally:
        if upload is not None and not isinstance(upload, str):
            await upload.close()


@router.get("/containers/{container_id}/files", **s.doc(query=s.PAGE, returns=s.ListPage[ContainerFile]))
async def list_container_files(container_id: str, request: Request):
    page = await call(runtime(request).containers.list_files, container_id, **page_params(request))
    return page.to_body()


@router.get("/containers/{container_id}/files/{file_id}", **s.doc(returns=ContainerFile))
async def retrieve_container_file(container_id: str, file_id: str, request: Request):
    return await call(runtime(request).containers.retrieve_file, container_id, file_id)


@router.delete("/containers/{container_id}/files/{file_id}", **s.doc(returns=ContainerFileDeleted))
async def delete_container_file(container_id: str, file_id: str, request: Request):
    return await call(runtime(request).containers.delete_file, container_id, file_id)


@router.get("/containers/{container_id}/files/{file_id}/content", **s.doc(binary=True))
async def container_file_content(container_id: str, file_id: str, request: Request):
    obj, reader = await call(runtime(request).containers.content, container_id, file_id)

    def chunks():
        while chunk := reader.read(1 << 20):
            yield chunk

    name = obj["path"].rsplit("/", 1)[-1]
    return StreamingResponse(chunks(), media_type="application/octet-stream", background=BackgroundTask(reader.close),
                             headers={"content-disposition": _attachment(name)})


def _attachment(name: str) -> str:
    return f"attachment; filename*=utf-8''{quote(name, safe='')}"
