"""/v1/models: the catalog and the local GGUF files."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ..errors import NotFoundError
from .common import call, runtime

router = APIRouter()


@router.get("/models")
async def list_models(request: Request):
    return {"object": "list", "data": await call(runtime(request).model_objects)}


@router.get("/models/{model_id:path}")
async def retrieve_model(model_id: str, request: Request):
    for obj in await call(runtime(request).model_objects):
        if obj["id"] == model_id:
            return obj
    raise NotFoundError(f"The model '{model_id}' does not exist.", code="model_not_found")
