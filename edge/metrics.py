"""``/metrics``: this worker's HSM pool counters, garbage-collector pauses and storage writes, as JSON
or in the Prometheus text format.

JSON unless ``?format=prometheus`` or an ``Accept`` header that asks for ``text/plain`` /
OpenMetrics and not for JSON (what Prometheus scrapers send). Every worker process keeps its own
pool, so each answer covers the worker that served it (``worker`` is its pid; a scraper behind the
shared port sees the workers in turn).

Not public: the unit pids, states and error counts are for the people who run the service. A
request presents either ``server.metrics_token`` (what a scraper is configured with) or an
operator's access token, as ``Authorization: Bearer …``; anything else answers 401 or 403 and is
audited like every refusal (``edge.auth.guard``).
"""

from __future__ import annotations

import hmac
import os
from typing import Any

from quart import Blueprint, Response, current_app, request
from quart_schema import security_scheme, tag

from actors.hsmpool import PROMETHEUS_CONTENT_TYPE, prometheus_family, prometheus_labels, prometheus_text
from actors.identity.errors import PermissionDeniedError
from actors.identity.principal import Role
from config import Settings
from edge.auth.guard import authenticate_request, deny
from edge.auth.openapi import SCHEME
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


async def _authorize() -> None:
    """Let the metrics token or an operator's access token through; refuse (audited) anyone else."""
    settings: Settings = current_app.config["KLYUCH_SETTINGS"]
    expected = settings.server.metrics_token
    scheme, _, presented = request.headers.get("Authorization", "").strip().partition(" ")
    if (
        expected is not None
        and scheme.lower() == "bearer"
        and hmac.compare_digest(presented.strip().encode(), expected.get_secret_value().encode())
    ):
        return
    principal = await authenticate_request()  # 401 (audited) for a missing, wrong or stale token
    if not principal.has_role(Role.OPERATOR):
        deny(PermissionDeniedError("metrics are for operators and the metrics token"), principal)


@blueprint.get("/metrics")
@tag(["health"])
@security_scheme([{SCHEME: []}])  # the metrics token or an operator's access token
async def metrics() -> Response | dict[str, Any]:
    """Per-unit state, operations, errors, restarts and latency p50/p99 of this worker's HSM pool;
    the worker's garbage-collection counts and pauses; its group commits and writer process. Needs
    ``server.metrics_token`` or an operator's access token (``Authorization: Bearer …``)."""
    await _authorize()
    services: Services | None = current_app.config.get("KLYUCH_SERVICES")
    if services is None:
        raise NotReadyError("the worker's services are starting")
    pool = services.hsm.metrics()
    if _wants_prometheus():
        worker = os.getpid()
        text = prometheus_text(services.hsm.units(), pool, worker=worker)
        text += prometheus_gc_text(GC_METER.snapshot(), worker=worker)
        text += prometheus_storage_text(services.db.metrics(), worker=worker)
        return Response(text, content_type=PROMETHEUS_CONTENT_TYPE)
    return {"worker": os.getpid(), "hsm": pool, "gc": GC_METER.snapshot(), "storage": services.db.metrics()}


def prometheus_storage_text(storage: dict[str, Any], *, worker: int) -> str:
    """``Database.metrics()`` in the Prometheus text format (labelled by worker)."""
    labels = prometheus_labels(worker=worker)
    offloaded, writer = storage["offloaded"], storage["writer"]
    families: list[tuple[str, str, str, Any]] = [
        ("group_commits_total", "counter", "Groups of batched writes committed in the worker.",
         storage["group_commits"]["groups"]),
        ("offloaded_groups_total", "counter",
         "Groups of offloadable writes (finished operations), by the writer process or in the worker.",
         offloaded["groups"]),
        ("offload_fallbacks_total", "counter",
         "Offloadable groups written in the worker because the writer process could not take them.",
         offloaded["fallbacks"]),
    ]  # fmt: skip
    if writer is not None:
        families += [
            ("writer_up", "gauge", "1 while the writer process is connected.", writer["up"]),
            ("writer_starts_total", "counter", "Writer processes started (restarts are this minus one).",
             writer["starts"]),
        ]  # fmt: skip
    lines: list[str] = []
    for name, kind, help_text, value in families:
        lines += prometheus_family(f"klyuch_storage_{name}", kind, help_text, [(labels, value)])
    return "\n".join(lines) + "\n"
