"""``install_auth(app)``: everything identity needs in one call from ``create_app``."""

from __future__ import annotations

from quart import Quart

from edge.auth import clients, tokens
from edge.auth.guard import install_guard
from edge.auth.openapi import install_openapi_security
from edge.auth.problems import register_identity_problem_handler


def install_auth(app: Quart) -> None:
    """Install the ``/api/v1`` bearer guard, identity error answers, OpenAPI security and the
    ``auth`` and ``clients`` blueprints. Call after ``install_request_id`` (its id is then bound
    before authentication logs anything). ``edge.users.blueprint`` is registered separately.
    Idempotent: a second call on the same app changes nothing.
    """
    if tokens.blueprint.name in app.blueprints:
        return
    install_guard(app)
    register_identity_problem_handler(app)
    install_openapi_security(app)
    app.register_blueprint(tokens.blueprint)
    app.register_blueprint(clients.blueprint)
