"""The worker's ``SessionHub`` as request handlers reach it (``Services.sessions``)."""

from __future__ import annotations

from quart import current_app

from actors.sessions import SessionHub
from edge.errors import NotReadyError

SERVICES_KEY = "KLYUCH_SERVICES"
"""Where ``edge.app`` keeps the worker's ``Services``."""


def get_hub() -> SessionHub:
    """This worker's hub; ``NotReadyError`` (503) while the services are starting or lack sessions."""
    services = current_app.config.get(SERVICES_KEY)
    hub = getattr(services, "sessions", None)
    if not isinstance(hub, SessionHub):
        raise NotReadyError("the device channel is not running yet")
    return hub
