"""Operations errors as problem+json (statuses in the one table, ``edge.problems.PROBLEMS``).

An ``InvalidOperationError`` answers like a schema validation failure (422 ``validation_failed`` with an
``errors`` list naming the field), so clients handle both the same way.
"""

from __future__ import annotations

import structlog
from quart import Quart, Response

from actors.operations import errors
from edge.problems import PROBLEMS, lookup, problem_response

log = structlog.get_logger("edge.operations")


def register_operations_problem_handler(app: Quart) -> None:
    """Answer every ``OperationError`` with :func:`operations_problem`."""
    app.register_error_handler(errors.OperationError, operations_problem)


async def operations_problem(exc: errors.OperationError) -> Response:
    """The problem+json answer for ``exc``."""
    problem = lookup(exc) or PROBLEMS[errors.OperationError]
    if problem.status >= 500:
        log.error("operations_request_failed", code=exc.code, error_type=type(exc).__name__, exc_info=exc)
    detail = str(exc) if problem.expose_detail else "the server failed; see its log"
    extra: dict[str, object] = {}
    if isinstance(exc, errors.InvalidOperationError):
        extra["errors"] = [{"field": exc.field, "message": exc.message}]
    response = problem_response(problem.status, problem.title, detail, code=exc.code, **extra)
    if problem.status in (409, 503):
        response.headers["Retry-After"] = "1"
    return response
