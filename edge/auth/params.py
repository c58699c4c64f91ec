"""Reading OAuth 2.0 endpoint parameters: form-encoded or JSON bodies, and client credentials.

RFC 6749 speaks ``application/x-www-form-urlencoded``; JSON objects of strings are accepted too.
A parameter may appear once (§3.2); an empty value counts as absent (§3.1). A client authenticates
with HTTP Basic (§2.3.1: id and secret form-urlencoded inside) or ``client_id``/``client_secret`` in
the body, never both.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

from quart import request

from actors.identity.clients import ClientCredentials
from actors.identity.errors import InvalidClientError, InvalidRequestError

MAX_PARAMETER_CHARS = 4096
"""Longest parameter value accepted (a refresh token is 43 characters, an access token ~500)."""
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


async def read_parameters() -> dict[str, str]:
    """The body's parameters; ``InvalidRequestError`` for another media type, repeats or non-strings."""
    if request.mimetype == FORM:
        form = await request.form
        items = {key: form.getlist(key) for key in form}
    elif request.mimetype == JSON:
        data = await request.get_json(silent=True)
        if not isinstance(data, dict):
            raise InvalidRequestError("the JSON body must be an object")
        items = {str(key): [value] for key, value in data.items() if value is not None}
    else:
        raise InvalidRequestError(f"send the parameters as {FORM} or {JSON}")
    parameters: dict[str, str] = {}
    for key, values in items.items():
        if len(values) != 1:
            raise InvalidRequestError(f"the parameter {key!r} is repeated")
        value = values[0]
        if not isinstance(value, str):
            raise InvalidRequestError(f"the parameter {key!r} must be a string")
        if len(value) > MAX_PARAMETER_CHARS:
            raise InvalidRequestError(f"the parameter {key!r} is too long")
        if value:
            parameters[key] = value
    return parameters


def required(parameters: dict[str, str], name: str) -> str:
    """The parameter ``name``; ``InvalidRequestError`` when it is missing or empty."""
    value = parameters.get(name)
    if value is None:
        raise InvalidRequestError(f"the parameter {name!r} is required")
    return value


def client_credentials(parameters: dict[str, str]) -> ClientCredentials | None:
    """The client credentials of the request, if it presents any."""
    basic = _basic_credentials(request.headers.get("Authorization"))
    body_id = parameters.get("client_id")
    body_secret = parameters.get("client_secret")
    if basic is not None:
        if body_secret is not None or (body_id is not None and body_id != basic.client_id):
            raise InvalidRequestError("use one client authentication method: HTTP Basic or the body")
        return basic
    if body_id is not None:
        return ClientCredentials(body_id, body_secret)
    if body_secret is not None:
        raise InvalidRequestError("client_secret needs client_id")
    return None


def _basic_credentials(header: str | None) -> ClientCredentials | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClientError("the HTTP Basic credentials are malformed") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise InvalidClientError("the HTTP Basic credentials are malformed")
    return ClientCredentials(unquote_plus(client_id), unquote_plus(secret) or None)
