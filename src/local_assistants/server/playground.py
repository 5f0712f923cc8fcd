"""The playground: a web page, served at ``/``, to build assistants, chat with them and
inspect every run step.

It is static files only (``playground/``: HTML, CSS and plain JavaScript, no build step,
nothing fetched from another host) and a client of the public ``/v1`` API like any
other: it adds no endpoint. Threads have no list in OpenAI's API, so the page
remembers the ids of the threads it made in the browser's ``localStorage``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("playground")


def mount(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def index():
        # no-cache: a page from an older version must not outlive an upgrade of the server.
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8",
                            headers={"cache-control": "no-cache"})

    app.mount("/playground", StaticFiles(directory=STATIC), name="playground")
