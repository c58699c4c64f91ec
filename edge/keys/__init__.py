"""Keys and certificates at the edge: REST blueprints.

Modules:
  rest      ``/api/v1/keys`` and ``/api/v1/certificates``: create, list, CSR, issue, upload, defaults,
            revocation
  ca        ``GET /api/v1/ca/certificate`` (public): the built-in CA's certificate, PEM or DER
  models    the JSON shapes (pydantic → OpenAPI)
  context   ``get_key_service()``: the worker's ``KeyService`` (made from ``Services``)

The domain lives in ``actors.keys``; storage in ``storage.repos.keys``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quart import Quart

    from actors.keys.settings import CaSettings


def register(app: Quart, *, ca: CaSettings | None = None) -> None:
    """Add the keys, certificates and CA blueprints to ``app`` (errors answer through ``edge.problems``).

    ``ca`` overrides ``settings.ca`` (tests; deployments configure the settings section). Configured
    trust-anchor files are imported into the database once the services are up. Calling it again
    on an app that has the blueprints only replaces the ``ca`` override.
    """
    from edge.keys import ca as ca_blueprint
    from edge.keys import rest
    from edge.keys.context import CA_SETTINGS_KEY

    if ca is not None:
        app.extensions[CA_SETTINGS_KEY] = ca
    if rest.blueprint.name in app.blueprints:
        return
    app.register_blueprint(rest.blueprint)
    app.register_blueprint(ca_blueprint.blueprint)

    @app.before_serving
    async def _import_trust_anchors() -> None:
        # Runs in registration order: after the services only when registered after create_app's
        # lifespan hook. ``edge.services.run_services`` is the better home for this import.
        import structlog

        from actors.keys.anchors import import_trust_anchor_files
        from actors.keys.settings import ca_settings
        from edge.keys.context import SERVICES_KEY, configured_ca

        services = app.config.get(SERVICES_KEY)
        if services is not None:
            await import_trust_anchor_files(services.db, configured_ca(services).trust_anchor_files)
            return
        override = app.extensions.get(CA_SETTINGS_KEY)
        section = override if override is not None else ca_settings(app.config.get("KLYUCH_SETTINGS"))
        if section.trust_anchor_files:
            structlog.get_logger("edge.keys").warning(
                "trust_anchor_files_not_imported", reason="services not up"
            )
