"""The error tree: each error has its HTTP status, its OpenAI error type and code, and the
body OpenAI sends for it."""

from __future__ import annotations

import pytest

import local_assistants
from local_assistants.errors import (AuthenticationError, InvalidRequestError, InvalidStateError,
                                     LocalAssistantsError, ModelError, NotFoundError, PayloadTooLargeError,
                                     UnknownParameterError)


def test_errors_share_one_root():
    for name in ("InvalidRequestError", "InvalidStateError", "ModelError", "NotFoundError",
                 "PayloadTooLargeError"):
        assert issubclass(getattr(local_assistants, name), local_assistants.LocalAssistantsError)


@pytest.mark.parametrize("cls, status, error_type, code", [
    (LocalAssistantsError, 500, "server_error", "server_error"),
    (InvalidRequestError, 400, "invalid_request_error", None),
    (InvalidStateError, 400, "invalid_request_error", None),
    (AuthenticationError, 401, "invalid_request_error", "invalid_api_key"),
    (NotFoundError, 404, "invalid_request_error", None),
    (PayloadTooLargeError, 413, "invalid_request_error", "file_too_large"),
    (ModelError, 500, "server_error", "server_error"),
])
def test_each_error_has_its_status_type_and_default_code(cls, status, error_type, code):
    err = cls("it went wrong")
    assert (err.status_code, err.message, str(err)) == (status, "it went wrong", "it went wrong")
    assert err.to_body() == {"error": {"message": "it went wrong", "type": error_type, "param": None, "code": code}}


def test_a_code_and_param_given_win_over_the_defaults():
    body = NotFoundError("no model", param="model", code="model_not_found").to_body()["error"]
    assert (body["param"], body["code"]) == ("model", "model_not_found")
    assert ModelError("x", code="other").code == "other"


def test_an_unknown_parameter_is_named_as_openai_names_it():
    err = UnknownParameterError("tools[0].fn")
    assert isinstance(err, InvalidRequestError) and err.status_code == 400
    assert err.to_body() == {"error": {"message": "Unknown parameter: 'tools[0].fn'.", "type": "invalid_request_error",
                                       "param": "tools[0].fn", "code": "unknown_parameter"}}
