"""Keys and certificates at the edge: REST blueprints.

Modules:
  rest      ``/api/v1/keys`` and ``/api/v1/certificates``: create, list, CSR, issue, upload, defaults,
            revocation
  ca        the built-in CA's public documents: ``GET /api/v1/ca/certificate`` (PEM or DER),
            ``GET /api/v1/ca/crl`` (its CRL) and ``/api/v1/ca/ocsp`` (its OCSP responder, POST and GET)
  models    the JSON shapes (pydantic → OpenAPI)
  context   ``get_key_service()``: the worker's ``KeyService`` (``Services.keys``)

The domain lives in ``actors.keys``; storage in ``storage.repos.keys``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quart import Quart


def register(app: Quart) -> None:
    """Add the keys, certificates and CA blueprints to ``app`` (errors answer through ``edge.problems``).

    Idempotent. The CA policy is ``settings.ca``; configured trust-anchor files are imported by
    ``edge.services.run_services`` when the worker starts.
    """
    from edge.keys import ca as ca_blueprint
    from edge.keys import rest

    if rest.blueprint.name in app.blueprints:
        return
    app.register_blueprint(rest.blueprint)
    app.register_blueprint(ca_blueprint.blueprint)
