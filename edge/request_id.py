"""A request id per request: taken from ``X-Request-ID`` when sane, else made; logged and echoed."""

from __future__ import annotations

import re
import uuid

import structlog
from quart import Quart, Response, g, request

HEADER = "X-Request-ID"
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def install_request_id(app: Quart) -> None:
    """Bind a request id into structlog's context for every request and return it as a header."""

    @app.before_request
    async def _bind() -> None:
        given = request.headers.get(HEADER, "")
        request_id = given if _SANE.match(given) else uuid.uuid4().hex
        g.request_id = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)

    @app.after_request
    async def _echo(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers[HEADER] = request_id
        return response
