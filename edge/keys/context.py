"""The worker's ``KeyService`` as request handlers reach it."""

from __future__ import annotations

from quart import current_app

from actors.keys.service import KeyService
from edge.errors import NotReadyError
from edge.services import Services

SERVICES_KEY = "KLYUCH_SERVICES"
"""Where ``edge.app`` keeps the worker's ``Services``."""


def get_key_service() -> KeyService:
    """This worker's ``KeyService``; ``NotReadyError`` (503) while the services are starting."""
    services: Services | None = current_app.config.get(SERVICES_KEY)
    if services is None:
        raise NotReadyError("the server is still starting")
    return services.keys
