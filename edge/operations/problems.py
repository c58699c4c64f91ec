"""Operations errors as problem+json: the ``actors.operations`` rows of the error → HTTP table.

Consulted after ``edge.problems.PROBLEMS`` (moving these rows there changes nothing here). An
``InvalidOperationError`` answers like a schema validation failure (422 ``validation_failed`` with an
``errors`` list naming the field), so clients handle both the same way.
"""

from __future__ import annotations

import structlog
from quart import Quart, Response

from actors.operations import errors
from edge.problems import Problem, lookup, problem_response

OPERATIONS_PROBLEMS: dict[type[Exception], Problem] = {
    errors.OperationError: Problem(500, "Internal error", expose_detail=False),
    errors.OperationNotFoundError: Problem(404, "Not found"),
    errors.InvalidOperationError: Problem(422, "Invalid request"),
    errors.ConfirmationRequiredError: Problem(403, "Confirmation required"),
    errors.NoUserError: Problem(403, "No user account"),
    errors.OperationBusyError: Problem(409, "Operation executing"),
    errors.OperationsUnavailableError: Problem(503, "Operations unavailable"),
}
"""Operations error class → answer; the most specific class in an error's MRO wins."""

log = structlog.get_logger("edge.operations")


def register_operations_problem_handler(app: Quart) -> None:
    """Answer every ``OperationError`` with :func:`operations_problem`."""
    app.register_error_handler(errors.OperationError, operations_problem)


async def operations_problem(exc: errors.OperationError) -> Response:
    """The problem+json answer for ``exc``."""
    problem = lookup(exc) or _lookup(exc)
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


def _lookup(exc: Exception) -> Problem:
    for cls in type(exc).__mro__:
        problem = OPERATIONS_PROBLEMS.get(cls)
        if problem is not None:
            return problem
    return OPERATIONS_PROBLEMS[errors.OperationError]
