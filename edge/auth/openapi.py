"""The bearer scheme in the OpenAPI document, attached to exactly the routes the guard protects.

``create_app`` builds ``QuartSchema`` without security schemes, so ``install_openapi_security`` adds
``bearerAuth`` (HTTP bearer, JWT) to the extension. Which routes need it is known only once every
blueprint is registered, so the marking runs at the first request (before ``/openapi.json`` can be
served): every ``/api/v1/`` route that is not public gets ``security: [{"bearerAuth": []}]``.
"""

from __future__ import annotations

from quart import Quart
from quart_schema import HttpSecurityScheme

from edge.auth.guard import API_PREFIX, is_public

SCHEME = "bearerAuth"
"""Name of the bearer security scheme in ``components.securitySchemes``."""
_SECURITY_ATTRIBUTE = "_quart_schema_security_tag"  # what quart_schema.security_scheme sets
_MARKED = "klyuch.openapi_security_marked"


def install_openapi_security(app: Quart) -> None:
    """Declare the bearer scheme and mark the protected routes at the first request."""
    extension = app.extensions.get("QUART_SCHEMA")
    if extension is not None:
        schemes = dict(extension.security_schemes or {})
        schemes.setdefault(SCHEME, HttpSecurityScheme(scheme="bearer", bearer_format="JWT"))
        extension.security_schemes = schemes

    @app.before_request
    async def _mark_once() -> None:
        if not app.extensions.get(_MARKED):
            mark_protected_routes(app)
            app.extensions[_MARKED] = True


def mark_protected_routes(app: Quart) -> None:
    """Attach the bearer requirement to every non-public ``/api/v1/`` route that has none."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX) or is_public(app, rule.endpoint):
            continue
        view = app.view_functions[rule.endpoint]
        if getattr(view, _SECURITY_ATTRIBUTE, None) is None:
            setattr(view, _SECURITY_ATTRIBUTE, [{SCHEME: []}])
