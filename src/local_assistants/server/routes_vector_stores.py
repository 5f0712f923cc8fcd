"""/v1/vector_stores, their /files, /file_batches and /search"""

from __future__ import annotations

from fastapi import APIRouter, Request

from ..core import validation as v
from ..errors import InvalidRequestError
from . import schemas as s
from .requests import call, json_body, page_params, query, runtime, with_poll_hint

router = APIRouter()
SEARCH_RANKERS = s.SEARCH_RANKERS
VectorStore, VectorStoreFile, Batch = s.sdk.VectorStore, s.sdk_vs.VectorStoreFile, s.sdk_vs.VectorStoreFileBatch


def _files_page(request: Request) -> dict:
    return query(request, s.VS_FILES_PAGE)


# -- vector stores -----------------------------------------------------------------------
@router.post("/vector_stores", **s.doc(body=s.CREATE_VECTOR_STORE, returns=VectorStore))
async def create_vector_store(request: Request):
    body = await json_body(request, s.CREATE_VECTOR_STORE)
    return await call(runtime(request).vector_stores.create, **body)


@router.get("/vector_stores", **s.doc(query=s.PAGE, returns=s.ListPage[VectorStore]))
async def list_vector_stores(request: Request):
    page = await call(runtime(request).vector_stores.list, **page_params(request))
    return page.to_body()


@router.get("/vector_stores/{vector_store_id}", **s.doc(returns=VectorStore))
async def retrieve_vector_store(vector_store_id: str, request: Request):
    return await call(runtime(request).vector_stores.retrieve, vector_store_id)


@router.post("/vector_stores/{vector_store_id}", **s.doc(body=s.MODIFY_VECTOR_STORE, returns=VectorStore))
async def modify_vector_store(vector_store_id: str, request: Request):
    body = await json_body(request, s.MODIFY_VECTOR_STORE)
    return await call(runtime(request).vector_stores.modify, vector_store_id, **body)


@router.delete("/vector_stores/{vector_store_id}", **s.doc(returns=s.sdk.VectorStoreDeleted))
async def delete_vector_store(vector_store_id: str, request: Request):
    return await call(runtime(request).vector_stores.delete, vector_store_id)


# -- search ------------------------------------------------------------------------------
@router.post("/vector_stores/{vector_store_id}/search", **s.doc(body=s.SEARCH_VECTOR_STORE, returns=s.SearchPage))
async def search_vector_store(vector_store_id: str, request: Request):
    body = await json_body(request, s.SEARCH_VECTOR_STORE)
    options = body.get("ranking_options")
    threshold = 0.0
    if options is not None:
        if not isinstance(options, dict):
            raise InvalidRequestError("Invalid type for 'ranking_options': expected an object.",
                                      param="ranking_options")
        v.refuse_unknown(options, {"ranker", "score_threshold"}, "ranking_options")
        if options.get("ranker") not in (None, *SEARCH_RANKERS):
            raise InvalidRequestError(f"Invalid value for 'ranking_options.ranker': expected one of "
                                      f"{', '.join(SEARCH_RANKERS)}.", param="ranking_options.ranker")
        if options.get("score_threshold") is not None:
            threshold = v.number(options["score_threshold"], "ranking_options.score_threshold", 0, 1)
    if body.get("rewrite_query") is not None and not isinstance(body["rewrite_query"], bool):
        raise InvalidRequestError("Invalid type for 'rewrite_query': expected a boolean.", param="rewrite_query")
    max_num_results = body.get("max_num_results")
    results = await call(runtime(request).search.search, [vector_store_id], body["query"],
                         max_num_results=20 if max_num_results is None else max_num_results,
                         score_threshold=threshold, filters=body.get("filters"))
    query = body["query"]
    # No query rewriting here (no model is asked): the query searched is the one sent.
    return {
        "object": "vector_store.search_results.page",
        "search_query": [query] if isinstance(query, str) else list(query),
        "data": [r.to_api() for r in results],
        "has_more": False,
        "next_page": None,
    }


# -- files -------------------------------------------------------------------------------
@router.post("/vector_stores/{vector_store_id}/files", **s.doc(body=s.ATTACH_FILE, returns=VectorStoreFile))
async def attach_file(vector_store_id: str, request: Request):
    body = await json_body(request, s.ATTACH_FILE)
    return with_poll_hint(request, await call(runtime(request).vector_store_files.create, vector_store_id, **body))


@router.get("/vector_stores/{vector_store_id}/files",
            **s.doc(query=s.VS_FILES_PAGE, returns=s.ListPage[VectorStoreFile]))
async def list_files(vector_store_id: str, request: Request):
    page = await call(runtime(request).vector_store_files.list, vector_store_id, **_files_page(request))
    return page.to_body()


@router.get("/vector_stores/{vector_store_id}/files/{file_id}", **s.doc(returns=VectorStoreFile))
async def retrieve_file(vector_store_id: str, file_id: str, request: Request):
    return with_poll_hint(request, await call(runtime(request).vector_store_files.retrieve, vector_store_id, file_id))


@router.post("/vector_stores/{vector_store_id}/files/{file_id}", **s.doc(body=s.UPDATE_FILE, returns=VectorStoreFile))
async def update_file(vector_store_id: str, file_id: str, request: Request):
    body = await json_body(request, s.UPDATE_FILE)
    return await call(runtime(request).vector_store_files.update, vector_store_id, file_id, **body)


@router.delete("/vector_stores/{vector_store_id}/files/{file_id}", **s.doc(returns=s.sdk_vs.VectorStoreFileDeleted))
async def delete_file(vector_store_id: str, file_id: str, request: Request):
    return await call(runtime(request).vector_store_files.delete, vector_store_id, file_id)


@router.get("/vector_stores/{vector_store_id}/files/{file_id}/content", **s.doc(returns=s.FileContentPage))
async def file_content(vector_store_id: str, file_id: str, request: Request):
    return await call(runtime(request).vector_store_files.content, vector_store_id, file_id)


# -- file batches ------------------------------------------------------------------------
@router.post("/vector_stores/{vector_store_id}/file_batches", **s.doc(body=s.CREATE_BATCH, returns=Batch))
async def create_batch(vector_store_id: str, request: Request):
    body = await json_body(request, s.CREATE_BATCH)
    return with_poll_hint(request, await call(runtime(request).file_batches.create, vector_store_id, **body))


@router.get("/vector_stores/{vector_store_id}/file_batches/{batch_id}", **s.doc(returns=Batch))
async def retrieve_batch(vector_store_id: str, batch_id: str, request: Request):
    return with_poll_hint(request, await call(runtime(request).file_batches.retrieve, vector_store_id, batch_id))


@router.post("/vector_stores/{vector_store_id}/file_batches/{batch_id}/cancel", **s.doc(body=s.EMPTY, returns=Batch))
async def cancel_batch(vector_store_id: str, batch_id: str, request: Request):
    await json_body(request, s.EMPTY)
    return await call(runtime(request).file_batches.cancel, vector_store_id, batch_id)


@router.get("/vector_stores/{vector_store_id}/file_batches/{batch_id}/files",
            **s.doc(query=s.VS_FILES_PAGE, returns=s.ListPage[VectorStoreFile]))
async def list_batch_files(vector_store_id: str, batch_id: str, request: Request):
    page = await call(runtime(request).file_batches.list_files, vector_store_id, batch_id,
                      **_files_page(request))
    return page.to_body()
