"""The worker's ``OperationsService`` as request handlers reach it (``Services.operations``)."""

from __future__ import annotations

from quart import current_app

from actors.operations import OperationsService
from edge.errors import NotReadyError

SERVICES_KEY = "KLYUCH_SERVICES"
"""Where ``edge.app`` keeps the worker's ``Services``."""


def get_operations() -> OperationsService:
    """This worker's service; ``NotReadyError`` (503) while the services are starting or lack it."""
    services = current_app.config.get(SERVICES_KEY)
    operations = getattr(services, "operations", None)
    if not isinstance(operations, OperationsService):
        raise NotReadyError("the operations service is not running yet")
    return operations
