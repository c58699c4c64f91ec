"""Identity errors as HTTP answers: problem+json that also speaks OAuth 2.0.

Every ``actors.identity`` error becomes RFC 9457 problem+json with the status below and, when the
protocol defines one, the RFC 6749 §5.2 members ``error`` and ``error_description`` (so OAuth
clients and problem+json clients both understand it). 401 answers carry ``WWW-Authenticate``
(``Bearer`` per RFC 6750 §3, ``Basic`` for client authentication per RFC 6749 §5.2), 403 says
``insufficient_scope``, 429 carries ``Retry-After``; all carry ``Cache-Control: no-store``.

The statuses live in the one table, ``edge.problems.PROBLEMS``.
"""

from __future__ import annotations

import math

from quart import Quart, Response

from actors.identity import errors
from edge.problems import PROBLEMS, lookup, problem_response

REALM = "klyuch"


def register_identity_problem_handler(app: Quart) -> None:
    """Answer every ``IdentityError`` with ``identity_problem``."""
    app.register_error_handler(errors.IdentityError, identity_problem)


async def identity_problem(exc: errors.IdentityError) -> Response:
    """The problem+json answer for ``exc``, with OAuth members and headers."""
    problem = lookup(exc) or PROBLEMS[errors.IdentityError]
    detail = str(exc) if problem.expose_detail else "the server failed; see its log"
    extra: dict[str, str] = {}
    if exc.oauth_error is not None:
        extra = {"error": exc.oauth_error, "error_description": detail}
    response = problem_response(problem.status, problem.title, detail, code=exc.code, **extra)
    challenge = _challenge(exc, detail)
    if challenge is not None:
        response.headers["WWW-Authenticate"] = challenge
    if isinstance(exc, errors.TooManyAttemptsError):
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    response.headers["Cache-Control"] = "no-store"
    return response


def _challenge(exc: errors.IdentityError, detail: str) -> str | None:
    if isinstance(exc, errors.InvalidClientError):
        return f'Basic realm="{REALM}"'
    if isinstance(exc, errors.AuthenticationError | errors.PermissionDeniedError):
        if exc.oauth_error is None:
            return f'Bearer realm="{REALM}"'  # RFC 6750 §3.1: no error code when no token was sent
        return f'Bearer realm="{REALM}", error="{exc.oauth_error}", error_description="{_quoted(detail)}"'
    return None


def _quoted(text: str) -> str:
    # RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E; drop anything else.
    return "".join(ch for ch in text if 0x20 <= ord(ch) <= 0x7E and ch not in '"\\')
