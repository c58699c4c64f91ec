"""The worker's ``KeyService`` as request handlers reach it, made on first use from ``Services``."""

from __future__ import annotations

from quart import current_app

from actors.keys.service import KeyService
from actors.keys.settings import CaSettings, ca_settings
from edge.errors import NotReadyError
from edge.services import Services

SERVICES_KEY = "KLYUCH_SERVICES"
"""Where ``edge.app`` keeps the worker's ``Services``."""
SERVICE_KEY = "klyuch.keys.service"
CA_SETTINGS_KEY = "klyuch.keys.ca_settings"
"""``app.extensions`` entry of an explicit ``CaSettings`` (``edge.keys.register(app, ca=...)``)."""


def configured_ca(services: Services) -> CaSettings:
    """The CA section given to ``register``, else ``settings.ca``, else the defaults."""
    explicit: CaSettings | None = current_app.extensions.get(CA_SETTINGS_KEY)
    return explicit if explicit is not None else ca_settings(services.settings)


def get_key_service() -> KeyService:
    """This worker's ``KeyService``; ``NotReadyError`` (503) while the services are starting."""
    services: Services | None = current_app.config.get(SERVICES_KEY)
    if services is None:
        raise NotReadyError("the server is still starting")
    service: KeyService | None = current_app.extensions.get(SERVICE_KEY)
    if service is None or service.db is not services.db or service.hsm is not services.hsm:
        service = KeyService(services.db, services.hsm, configured_ca(services))
        current_app.extensions[SERVICE_KEY] = service
    return service
