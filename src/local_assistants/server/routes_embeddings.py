"""/v1/embeddings: one route, the request's fields checked by the embeddings service."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ..services import embeddings as embeddings_service
from . import schemas as s
from .requests import call, json_body, runtime

router = APIRouter()

_TOKENS = {"type": "array", "minItems": 1, "items": s.integer(0)}
CREATE_EMBEDDING = s.Body("CreateEmbeddingRequest", {
    "input": {"anyOf": [
        s.string(minLength=1),
        {"type": "array", "minItems": 1, "maxItems": embeddings_service.MAX_INPUTS, "items": s.string(minLength=1)},
        _TOKENS,
        {"type": "array", "minItems": 1, "maxItems": embeddings_service.MAX_INPUTS, "items": _TOKENS},
    ], "description": "Text or token ids of the model's tokenizer; each within the model's window, "
                      f"{embeddings_service.MAX_REQUEST_TOKENS} tokens in all."},
    "model": s.string(256, minLength=1),
    "encoding_format": s.nullable(s.enum(embeddings_service.ENCODING_FORMATS)),
    "dimensions": s.nullable(s.integer(1)),
    "user": s.nullable(s.string(embeddings_service.MAX_USER_CHARS)),
}, ("input", "model"))


@router.post("/embeddings", **s.doc(body=CREATE_EMBEDDING, returns=s.sdk.CreateEmbeddingResponse))
async def create_embeddings(request: Request):
    body = await json_body(request, CREATE_EMBEDDING)
    return await call(runtime(request).embeddings.create, **body)
