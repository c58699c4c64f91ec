"""``create_app(settings)``: the Quart-Trio application of one worker process."""

from __future__ import annotations

from typing import Any

from quart import Response
from quart_schema import Info, QuartSchema
from quart_trio import QuartTrio

from config import Settings
from edge import devices, diagnostics, health, keys, metrics, operations, users
from edge.auth import install_auth
from edge.problems import register_problem_handlers
from edge.request_id import install_request_id
from edge.services import Services, run_services

SERVICES_KEY = "KLYUCH_SERVICES"


def create_app(settings: Settings, *, with_services: bool = True) -> QuartTrio:
    """Build the app; with ``with_services`` its lifespan opens the database and actor system."""
    app = QuartTrio("klyuch")
    app.config.update(
        MAX_CONTENT_LENGTH=settings.limits.max_body_bytes,
        BODY_TIMEOUT=settings.limits.request_timeout_s,
        RESPONSE_TIMEOUT=settings.limits.request_timeout_s,
        BACKGROUND_TASK_SHUTDOWN_TIMEOUT=settings.server.graceful_timeout_s,
        PROPAGATE_EXCEPTIONS=False,
        KLYUCH_SETTINGS=settings,
    )
    QuartSchema(
        app,
        info=Info(title="Klyuch", version="0.1.0", description="Server-side electronic signature platform"),
        openapi_path="/openapi.json",
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path=None,
    )
    _pass_ready_responses_through(app)
    install_request_id(app)
    register_problem_handlers(app)
    install_auth(app)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(diagnostics.blueprint)
    app.register_blueprint(metrics.blueprint)
    app.register_blueprint(users.blueprint)
    keys.register(app)
    devices.register(app)
    operations.register(app)
    if with_services:
        _tie_services_to_lifespan(app, settings)
    return app


def _pass_ready_responses_through(app: QuartTrio) -> None:
    """Hand a ready ``Response`` straight to quart, past quart-schema's conversion of return values.

    quart-schema (pinned exactly) wraps ``app.make_response`` (``functools.wraps``, so the original
    is ``__wrapped__``) to turn models, dataclasses and their tuples into JSON. A ``Response`` needs
    none of it, yet the conversion reads the app config five times through ``current_app``: ~7.6 µs
    of each synchronous signing request, which answers with a ready ``Response``
    (``edge.operations.wire``). Everything else is converted as before.
    """
    converting = app.make_response
    original = converting.__wrapped__  # type: ignore[attr-defined]

    async def make_response(result: Any) -> Any:
        if type(result) is Response:
            return await original(result)
        return await converting(result)

    app.make_response = make_response  # type: ignore[method-assign]


def _tie_services_to_lifespan(app: QuartTrio, settings: Settings) -> None:
    @app.before_serving
    async def _start() -> None:
        app.config[SERVICES_KEY] = await app.nursery.start(run_services, settings)

    @app.after_serving
    async def _stop() -> None:
        services: Services | None = app.config.pop(SERVICES_KEY, None)
        if services is not None:
            await services.aclose()
