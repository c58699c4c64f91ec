"""Authentication at the edge: bearer tokens on every ``/api/v1`` call, the OAuth 2.0 endpoints.

Modules:
  install   ``install_auth(app)``: guard + error answers + OpenAPI security + the blueprints below
  guard     the ``/api/v1`` bearer guard, ``current_principal``, ``@require_auth``, ``@require_role``,
            ``ensure_owner`` (404 for someone else's object), ``@public``
  tokens    ``POST /api/v1/auth/token`` (password, client_credentials, refresh_token), ``/auth/revoke``
            (RFC 7009), ``/auth/logout``
  clients   ``POST/GET /api/v1/clients`` (administrators; secrets shown once)
  params    form-encoded or JSON OAuth parameters; client credentials from HTTP Basic or the body
  problems  identity errors → problem+json with the OAuth ``error`` member and ``WWW-Authenticate``
  openapi   the ``bearerAuth`` scheme, attached to exactly the routes the guard protects
  context   ``get_identity()`` (the worker's ``actors.identity.Identity``) and ``client_address()``

The domain (grants, passwords, tokens, accounts) lives in ``actors.identity``.
"""

from actors.identity.principal import Principal, Role
from edge.auth.context import client_address, get_identity
from edge.auth.guard import (
    current_principal,
    ensure_owner,
    public,
    require_auth,
    require_role,
)
from edge.auth.install import install_auth

__all__ = [
    "Principal",
    "Role",
    "client_address",
    "current_principal",
    "ensure_owner",
    "get_identity",
    "install_auth",
    "public",
    "require_auth",
    "require_role",
]
