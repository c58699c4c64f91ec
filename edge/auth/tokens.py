"""``/api/v1/auth``: the OAuth 2.0 token endpoint, token revocation and logout.

* ``POST /auth/token`` (public) — RFC 6749 §3.2: grants ``password``, ``client_credentials``,
  ``refresh_token``; answers §5.1 JSON, errors §5.2 as problem+json with ``error``.
* ``POST /auth/revoke`` (public, client authentication when the token was issued to a client) —
  RFC 7009: always 200 for unknown tokens.
* ``POST /auth/logout`` (bearer) — revokes every session of the caller's user.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint, Response
from quart_schema import DataSource, document_request, document_response, tag

from actors.identity import grants, revocation
from actors.identity.clients import authenticate_client
from actors.identity.errors import InvalidClientError, UnsupportedGrantTypeError
from edge.auth.context import client_address, get_identity
from edge.auth.guard import current_principal, public
from edge.auth.params import client_credentials, read_parameters, required

blueprint = Blueprint("auth", __name__, url_prefix="/api/v1/auth")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
"""RFC 6749 §5.1: token answers must not be cached."""


class TokenRequest(BaseModel):
    """Token request parameters (form-encoded or JSON); which ones apply depends on ``grant_type``."""

    model_config = ConfigDict(extra="allow")

    grant_type: str = Field(description="password | client_credentials | refresh_token")
    username: str | None = Field(None, description="password grant")
    password: str | None = Field(None, description="password grant")
    refresh_token: str | None = Field(None, description="refresh_token grant")
    client_id: str | None = Field(None, description="client authentication in the body (or HTTP Basic)")
    client_secret: str | None = Field(None, description="client authentication in the body (or HTTP Basic)")


class TokenResponse(BaseModel):
    """RFC 6749 §5.1 successful answer."""

    access_token: str = Field(description="JWT access token (HS256, typ at+jwt)")
    token_type: str = Field("Bearer", description="always Bearer")
    expires_in: int = Field(description="access token lifetime in seconds")
    refresh_token: str | None = Field(None, description="password and refresh_token grants only")


class RevokeRequest(BaseModel):
    """RFC 7009 revocation request."""

    token: str = Field(description="an access token or a refresh token")
    token_type_hint: str | None = Field(None, description="ignored: the kind is recognised by shape")


@blueprint.post("/token")
@public
@tag(["auth"])
@document_request(TokenRequest, source=DataSource.FORM)
@document_response(TokenResponse)
async def token() -> Response:
    """Issue tokens (OAuth 2.0 token endpoint).

    Grants: ``password`` (username + password, client optional), ``client_credentials`` (client
    authentication required), ``refresh_token`` (rotates: the old refresh token stops working; using
    it again revokes the whole session). Errors are problem+json carrying the RFC 6749 ``error``.
    """
    parameters = await read_parameters()
    client = client_credentials(parameters)
    identity = get_identity()
    address = client_address()
    grant_type = required(parameters, "grant_type")
    if grant_type == "password":
        grant = await grants.password_grant(
            identity,
            username=required(parameters, "username"),
            password=required(parameters, "password"),
            client=client,
            address=address,
        )
    elif grant_type == "client_credentials":
        if client is None:
            raise InvalidClientError("client_credentials needs client authentication")
        grant = await grants.client_credentials_grant(identity, client, address=address)
    elif grant_type == "refresh_token":
        grant = await grants.refresh_grant(
            identity, refresh_token=required(parameters, "refresh_token"), client=client, address=address
        )
    else:
        raise UnsupportedGrantTypeError(f"the grant_type {grant_type!r} is not supported")
    body: dict[str, object] = {
        "access_token": grant.access_token,
        "token_type": grant.token_type,
        "expires_in": grant.expires_in,
    }
    if grant.refresh_token is not None:
        body["refresh_token"] = grant.refresh_token
    return Response(json.dumps(body), status=200, content_type="application/json", headers=NO_STORE)


@blueprint.post("/revoke")
@public
@tag(["auth"])
@document_request(RevokeRequest, source=DataSource.FORM)
async def revoke() -> Response:
    """Revoke an access token or a refresh token (RFC 7009).

    A token issued to a client must be revoked by that client (HTTP Basic or body credentials).
    Revoking a refresh token ends its session, including the access tokens issued from it. Unknown
    and expired tokens are answered 200 like the others.
    """
    parameters = await read_parameters()
    client = client_credentials(parameters)
    identity = get_identity()
    address = client_address()
    token_value = required(parameters, "token")
    client_id = (await authenticate_client(identity, client, address=address)).client_id if client else None
    await revocation.revoke_token(identity, token_value, client_id=client_id, address=address)
    return Response("", status=200, headers=NO_STORE)


@blueprint.post("/logout")
@tag(["auth"])
async def logout() -> Response:
    """Log out everywhere: revoke every session (refresh and access tokens) of the caller's user."""
    await revocation.revoke_user_sessions(get_identity(), current_principal(), address=client_address())
    return Response("", status=204, headers=NO_STORE)
