"""Keys errors as problem+json: the ``actors.keys`` rows of the error → HTTP table.

Consulted after ``edge.problems.PROBLEMS`` (so moving these rows into that one table changes
nothing here). Not-found answers read exactly like a missing object's.
"""

from __future__ import annotations

import structlog
from quart import Quart, Response

from actors.keys import errors
from edge.problems import Problem, lookup, problem_response

KEYS_PROBLEMS: dict[type[Exception], Problem] = {
    errors.KeysError: Problem(500, "Internal error", expose_detail=False),
    errors.KeyNotFoundError: Problem(404, "Not found"),
    errors.CertificateNotFoundError: Problem(404, "Not found"),
    errors.NoDefaultCertificateError: Problem(409, "No default certificate"),
    errors.KeyRevokedError: Problem(409, "Key revoked"),
    errors.CertificateRevokedError: Problem(409, "Certificate revoked"),
    errors.CertificateNotValidNowError: Problem(422, "Certificate not valid now"),
    errors.InvalidKeyRequestError: Problem(422, "Invalid request"),
    errors.CertificateMismatchError: Problem(422, "Certificate does not match the key"),
    errors.UntrustedCertificateError: Problem(422, "Certificate not trusted"),
    errors.DuplicateCertificateError: Problem(409, "Certificate already stored"),
    errors.AutoIssueDisabledError: Problem(403, "Issuing disabled"),
    errors.NoUserAccountError: Problem(403, "No user account"),
    errors.KeyStoreUnavailableError: Problem(503, "HSM unavailable"),
}
"""Keys error class → answer; the most specific class in an error's MRO wins."""

log = structlog.get_logger("edge.keys")


def register_keys_problem_handler(app: Quart) -> None:
    """Answer every ``KeysError`` with :func:`keys_problem`."""
    app.register_error_handler(errors.KeysError, keys_problem)


async def keys_problem(exc: errors.KeysError) -> Response:
    """The problem+json answer for ``exc``."""
    problem = lookup(exc) or _lookup(exc)
    if problem.status >= 500:
        log.error("keys_request_failed", code=exc.code, error_type=type(exc).__name__, exc_info=exc)
    detail = str(exc) if problem.expose_detail else "the server failed; see its log"
    response = problem_response(problem.status, problem.title, detail, code=exc.code)
    if problem.status == 503:
        response.headers["Retry-After"] = "1"
    return response


def _lookup(exc: Exception) -> Problem:
    for cls in type(exc).__mro__:
        problem = KEYS_PROBLEMS.get(cls)
        if problem is not None:
            return problem
    return KEYS_PROBLEMS[errors.KeysError]
