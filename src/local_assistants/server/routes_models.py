"""/v1/models: the catalog, the local GGUF files, and any name a run accepts."""

from __future__ import annotations

from fastapi import APIRouter, Request

from . import schemas as s
from .requests import call, runtime

router = APIRouter()


@router.get("/models", **s.doc(returns=s.ModelList))
async def list_models(request: Request):
    return {"object": "list", "data": await call(runtime(request).model_objects)}


@router.get("/models/{model_id:path}", **s.doc(returns=s.sdk.Model))
async def retrieve_model(model_id: str, request: Request):
    # The same answer as an assistant or run created with this name would get: OpenAI names
    # resolve to the default model; paths only where the operator allows them.
    return await call(runtime(request).model_object, model_id)
