"""The one table from error to HTTP: RFC 9457 problem+json for every failure.

Client errors carry a precise ``detail``; server errors a generic one (the full error goes to the log
with the request id, never to the client). Each problem has a stable ``code`` taken from the error
class, and ``type`` is ``urn:klyuch:problem:<code>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import ValidationError
from quart import Quart, Response
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from actors.callbacks import errors as callback_errors
from actors.hsm import errors as hsm_errors
from actors.identity import errors as identity_errors
from actors.keys import errors as keys_errors
from actors.operations import errors as operations_errors
from actors.sessions import errors as session_errors
from edge.errors import BadRequestError, EdgeError, NotReadyError
from signing import errors as signing_errors
from storage import errors as storage_errors

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("edge.problems")


@dataclass(frozen=True, slots=True)
class Problem:
    """How one kind of error is answered."""

    status: int
    """HTTP status code."""
    title: str
    """Short, fixed summary of the problem type."""
    expose_detail: bool = True
    """Whether the error's message is safe and useful to show the client."""


PROBLEMS: dict[type[Exception], Problem] = {
    EdgeError: Problem(500, "Internal error", expose_detail=False),
    NotReadyError: Problem(503, "Service not ready"),
    BadRequestError: Problem(400, "Bad request"),
    signing_errors.SigningError: Problem(500, "Cryptographic failure", expose_detail=False),
    signing_errors.EngineUnavailableError: Problem(503, "Cryptography unavailable", expose_detail=False),
    signing_errors.InvalidInputError: Problem(422, "Invalid cryptographic input"),
    signing_errors.MalformedDataError: Problem(422, "Malformed data"),
    signing_errors.InvalidSignatureError: Problem(422, "Invalid signature"),
    signing_errors.UnsupportedAlgorithmError: Problem(422, "Unsupported algorithm"),
    storage_errors.StorageError: Problem(500, "Storage failure", expose_detail=False),
    storage_errors.StorageUnavailableError: Problem(503, "Storage unavailable", expose_detail=False),
    storage_errors.NotFoundError: Problem(404, "Not found"),
    storage_errors.ConflictError: Problem(409, "Conflict", expose_detail=False),
    storage_errors.RetryableError: Problem(503, "Try again", expose_detail=False),
    identity_errors.IdentityError: Problem(500, "Internal error", expose_detail=False),
    identity_errors.AuthenticationError: Problem(401, "Unauthorized"),
    identity_errors.InvalidClientError: Problem(401, "Client authentication failed"),
    identity_errors.InvalidGrantError: Problem(400, "Invalid grant"),
    identity_errors.InvalidRequestError: Problem(400, "Invalid request"),
    identity_errors.UnsupportedGrantTypeError: Problem(400, "Unsupported grant type"),
    identity_errors.TooManyAttemptsError: Problem(429, "Too many attempts"),
    identity_errors.PermissionDeniedError: Problem(403, "Forbidden"),
    identity_errors.NotOwnerError: Problem(404, "Not found"),
    identity_errors.InvalidAccountError: Problem(422, "Invalid request"),
    identity_errors.UsernameTakenError: Problem(409, "Username taken"),
    callback_errors.CallbackError: Problem(500, "Internal error", expose_detail=False),
    callback_errors.InvalidCallbackUrlError: Problem(422, "Invalid callback URL"),
    callback_errors.CallbackClientRequiredError: Problem(422, "Callback needs an OAuth2 client"),
    hsm_errors.HsmError: Problem(500, "HSM failure", expose_detail=False),
    hsm_errors.HsmRequestError: Problem(422, "Invalid HSM request"),
    hsm_errors.HsmUnavailableError: Problem(503, "HSM unavailable", expose_detail=False),
    operations_errors.OperationError: Problem(500, "Internal error", expose_detail=False),
    operations_errors.OperationNotFoundError: Problem(404, "Not found"),
    operations_errors.InvalidOperationError: Problem(422, "Invalid request"),
    operations_errors.ConfirmationRequiredError: Problem(403, "Confirmation required"),
    operations_errors.NoUserError: Problem(403, "No user account"),
    operations_errors.OperationBusyError: Problem(409, "Operation executing"),
    operations_errors.OperationsUnavailableError: Problem(503, "Operations unavailable"),
    session_errors.SessionError: Problem(500, "Device channel failure", expose_detail=False),
    session_errors.EnrolmentClosedError: Problem(410, "Enrolment closed"),
    keys_errors.KeysError: Problem(500, "Internal error", expose_detail=False),
    keys_errors.KeyNotFoundError: Problem(404, "Not found"),
    keys_errors.CertificateNotFoundError: Problem(404, "Not found"),
    keys_errors.NoDefaultCertificateError: Problem(409, "No default certificate"),
    keys_errors.KeyRevokedError: Problem(409, "Key revoked"),
    keys_errors.CertificateRevokedError: Problem(409, "Certificate revoked"),
    keys_errors.CertificateNotValidNowError: Problem(422, "Certificate not valid now"),
    keys_errors.InvalidKeyRequestError: Problem(422, "Invalid request"),
    keys_errors.CertificateMismatchError: Problem(422, "Certificate does not match the key"),
    keys_errors.UntrustedCertificateError: Problem(422, "Certificate not trusted"),
    keys_errors.DuplicateCertificateError: Problem(409, "Certificate already stored"),
    keys_errors.AutoIssueDisabledError: Problem(403, "Issuing disabled"),
    keys_errors.NoUserAccountError: Problem(403, "No user account"),
    keys_errors.KeyStoreUnavailableError: Problem(503, "HSM unavailable"),
}
"""Error class → answer; the most specific class in an error's MRO wins."""


def lookup(exc: BaseException) -> Problem | None:
    """Return the answer for ``exc``'s most specific class in the table, if any."""
    for cls in type(exc).__mro__:
        problem = PROBLEMS.get(cls)
        if problem is not None:
            return problem
    return None


def problem_response(
    status: int, title: str, detail: str | None = None, *, code: str, **extra: Any
) -> Response:
    """Build an ``application/problem+json`` response."""
    body: dict[str, Any] = {"type": f"urn:klyuch:problem:{code}", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body["code"] = code
    body.update(extra)
    return Response(json.dumps(body), status=status, content_type=PROBLEM_JSON)


def validation_errors(exc: ValidationError) -> list[dict[str, str]]:
    """The failing fields of a pydantic error as ``{"field": "a.b.0", "message": ...}`` items."""
    return [
        {"field": ".".join(str(part) for part in error["loc"]) or "(body)", "message": error["msg"]}
        for error in exc.errors(include_url=False, include_input=False)
    ]


def register_problem_handlers(app: Quart) -> None:
    """Install the handlers that turn every error into problem+json."""
    app.register_error_handler(RequestSchemaValidationError, _schema_validation)
    app.register_error_handler(ValidationError, _pydantic_validation)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(UnicodeDecodeError, _undecodable)
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(Exception, _any_exception)


async def _schema_validation(exc: RequestSchemaValidationError) -> Response:
    inner = exc.validation_error
    if isinstance(inner, ValidationError):
        return _unprocessable(inner)
    return problem_response(422, "Invalid request", str(inner), code="validation_failed")


async def _pydantic_validation(exc: ValidationError) -> Response:
    return _unprocessable(exc)


def _unprocessable(exc: ValidationError) -> Response:
    errors = validation_errors(exc)
    detail = "; ".join(f"{item['field']}: {item['message']}" for item in errors[:5])
    return problem_response(422, "Invalid request", detail, code="validation_failed", errors=errors)


async def _too_large(exc: RequestEntityTooLarge) -> Response:
    from quart import current_app

    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    return problem_response(
        413, "Request body too large", f"the body exceeds {limit} bytes", code="too_large"
    )


async def _undecodable(exc: UnicodeDecodeError) -> Response:
    """A body read as text (JSON) that is not UTF-8 is the client's error; any other is ours."""
    from quart import request

    try:
        body = await request.get_data(cache=True)
    except Exception:  # no body to compare with: treat it as a server error
        body = None
    if body is not None and exc.object == body:
        return problem_response(400, "Bad request", "the body is not valid UTF-8", code="bad_encoding")
    return await _any_exception(exc)


async def _http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status >= 500:
        return problem_response(status, exc.name, code="server_error")
    code = exc.name.lower().replace(" ", "_").replace("'", "")
    return problem_response(status, exc.name, exc.description, code=code)


async def _any_exception(exc: Exception) -> Response:
    problem = lookup(exc)
    code = str(getattr(exc, "code", "internal_error"))
    if problem is None or problem.status >= 500:
        log.error("request_failed", error_type=type(exc).__name__, exc_info=exc)
    if problem is None:
        return problem_response(
            500, "Internal error", "the server failed; see its log", code="internal_error"
        )
    detail = str(exc) if problem.expose_detail else "the server failed; see its log"
    response = problem_response(problem.status, problem.title, detail, code=code)
    if problem.status == 503:
        response.headers["Retry-After"] = "1"  # unavailable dependencies (database, HSM) come back quickly
    return response
