"""The project's error tree; each error knows its HTTP status and OpenAI error code.

    LocalAssistantsError                 500 server_error
    ├── InvalidRequestError              400 invalid_request_error
    │   ├── InvalidStateError            400 (e.g. a run that is not requires_action)
    │   └── UnknownParameterError        400 unknown_parameter (a field OpenAI does not know)
    ├── AuthenticationError              401
    ├── NotFoundError                    404
    ├── PayloadTooLargeError             413
    └── ModelError                       500 (a model could not be loaded or run)

The HTTP layer turns any of them into OpenAI's body
``{"error": {"message", "type", "param", "code"}}``; the in-process runtime raises
them as they are.
"""

from __future__ import annotations


class LocalAssistantsError(Exception):
    status_code = 500
    error_type = "server_error"
    default_code: str | None = "server_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code

    def to_body(self) -> dict:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequestError(LocalAssistantsError):
    status_code = 400
    error_type = "invalid_request_error"
    default_code = None


class InvalidStateError(InvalidRequestError):
    """The object exists but is in a state that refuses the request (still a 400)."""


class UnknownParameterError(InvalidRequestError):
    """A request field the API does not know, named by its dotted path, in OpenAI's words."""

    def __init__(self, param: str):
        super().__init__(f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")


class AuthenticationError(LocalAssistantsError):
    status_code = 401
    error_type = "invalid_request_error"
    default_code = "invalid_api_key"


class NotFoundError(LocalAssistantsError):
    status_code = 404
    error_type = "invalid_request_error"
    default_code = None


class PayloadTooLargeError(LocalAssistantsError):
    status_code = 413
    error_type = "invalid_request_error"
    default_code = "file_too_large"


class ModelError(LocalAssistantsError):
    status_code = 500
    error_type = "server_error"
    default_code = "server_error"
