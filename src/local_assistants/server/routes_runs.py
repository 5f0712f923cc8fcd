"""/v1/threads/{thread_id}/runs, run steps and /v1/threads/runs"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
