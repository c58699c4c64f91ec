"""Liveness and readiness probes."""

from __future__ import annotations

import os
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
    """Readiness: every dependency answers (the database; at least one healthy HSM unit).

    ``hsm`` is ``disabled`` (and does not hold readiness back) when no unit is configured; the
    states of this worker's units are listed under ``hsm_units``. Each worker process answers for
    itself only (its units start in the background), so ``worker`` names the one that answered
    (its pid, as in ``/metrics``): a probe that must see every worker of a multi-worker server
    ready counts distinct ``worker`` values.
    """
    services: Services | None = current_app.config.get("KLYUCH_SERVICES")
    checks: dict[str, str] = {}
    body: dict[str, Any] = {}
    if services is None:
        checks["services"] = "starting"
    else:
        checks["database"] = "ok" if await services.db.ready() else "unavailable"
        units = services.hsm.units()
        checks["hsm"] = "disabled" if not units else "ok" if services.hsm.ready else "unavailable"
        body["hsm_units"] = {unit.unit_id: unit.state.value for unit in units}
        body["worker"] = os.getpid()
    ready = all(value in ("ok", "disabled") for value in checks.values())
    return {"status": "ready" if ready else "not_ready", "checks": checks, **body}, 200 if ready else 503
