"""HTTP edge: the FastAPI app serving OpenAI's Assistants API routes."""

from .app import create_app

__all__ = ["create_app"]
