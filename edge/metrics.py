"""``/metrics``: this worker's HSM pool counters and garbage-collector pauses, as JSON or in the
Prometheus text format.

JSON unless ``?format=prometheus`` or an ``Accept`` header that asks for ``text/plain`` /
OpenMetrics and not for JSON (what Prometheus scrapers send). Every worker process keeps its own
pool, so each answer covers the worker that served it (``worker`` is its pid; a scraper behind the
shared port sees the workers in turn).
"""

from __future__ import annotations

import os
from typing import Any

from quart import Blueprint, Response, current_app, request
from quart_schema import tag

from actors.hsmpool import PROMETHEUS_CONTENT_TYPE, prometheus_text
from edge.errors import NotReadyError
from edge.gc_metrics import METER as GC_METER
from edge.gc_metrics import prometheus_gc_text
from edge.services import Services

blueprint = Blueprint("metrics", __name__)


def _wants_prometheus() -> bool:
    wanted = request.args.get("format")
    if wanted is not None:
        return wanted == "prometheus"
    accept = request.headers.get("Accept", "")
    asks_text = "text/plain" in accept or "openmetrics" in accept
    return asks_text and "application/json" not in accept


@blueprint.get("/metrics")
@tag(["health"])
async def metrics() -> Response | dict[str, Any]:
    """Per-unit state, operations, errors, restarts and latency p50/p99 of this worker's HSM pool;
    the worker's garbage-collection counts and pauses."""
    services: Services | None = current_app.config.get("KLYUCH_SERVICES")
    if services is None:
        raise NotReadyError("the worker's services are starting")
    pool = services.hsm.metrics()
    if _wants_prometheus():
        worker = os.getpid()
        text = prometheus_text(services.hsm.units(), pool, worker=worker)
        text += prometheus_gc_text(GC_METER.snapshot(), worker=worker)
        return Response(text, content_type=PROMETHEUS_CONTENT_TYPE)
    return {"worker": os.getpid(), "hsm": pool, "gc": GC_METER.snapshot()}
