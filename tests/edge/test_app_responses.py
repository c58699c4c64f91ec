"""``edge.app``: ready responses pass quart-schema's conversion by; everything else is still converted."""

from __future__ import annotations

from pathlib import Path

import quart_schema.extension
from quart import Response

from config import Settings
from edge.app import create_app
from edge.diagnostics import Echo


async def test_a_ready_response_is_not_converted_and_a_model_still_is(tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path), with_services=False)
    async with app.app_context():
        ready = Response("{}", status=201, content_type="application/json")
        assert await app.make_response(ready) is ready
        converted = await app.make_response(Echo.model_validate({"a": 1}))  # type: ignore[arg-type]
        assert converted.status_code == 200
        assert isinstance(converted, Response)
        assert await converted.get_json() == {"a": 1}


def test_the_hooked_wrapper_is_still_quart_schemas() -> None:
    # The hook relies on quart-schema wrapping make_response with functools.wraps (pinned 0.25.0).
    wrapped = quart_schema.extension.wrap_make_response(lambda result: result)
    assert callable(getattr(wrapped, "__wrapped__", None))
