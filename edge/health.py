"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, current_app
from quart_schema import tag

from edge.services import Services

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
@tag(["health"])
async def healthz() -> dict[str, Any]:
    """Liveness: the worker answers requests."""
    return {"status": "ok"}


@blueprint.get("/readyz")
@tag(["health"])
async def readyz() -> tuple[dict[str, Any], int]:
    """Readiness: every dependency answers (the database now, HSM units once they exist)."""
    services: Services | None = current_app.config.get("KLYUCH_SERVICES")
    checks: dict[str, str] = {}
    if services is None:
        checks["services"] = "starting"
    else:
        checks["database"] = "ok" if await services.db.ready() else "unavailable"
    ready = all(value == "ok" for value in checks.values())
    return {"status": "ready" if ready else "not_ready", "checks": checks}, 200 if ready else 503
