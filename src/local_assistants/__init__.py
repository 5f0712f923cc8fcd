"""local-assistants: the OpenAI Assistants API (v2), offline, on local GGUF models.

    import local_assistants
    with local_assistants.LocalAssistants() as la:
        client = la.client   # the official openai.OpenAI, talking to an embedded server
"""

from .client import LocalAssistants
from .config import Settings
from .errors import (
    InvalidRequestError,
    InvalidStateError,
    LocalAssistantsError,
    ModelError,
    NotFoundError,
    PayloadTooLargeError,
)
from .runtime import Runtime

__all__ = [
    "InvalidRequestError",
    "InvalidStateError",
    "LocalAssistants",
    "LocalAssistantsError",
    "ModelError",
    "NotFoundError",
    "PayloadTooLargeError",
    "Runtime",
    "Settings",
]

__version__ = "0.1.0"
