"""Access tokens (signed JWTs) and opaque credentials (refresh tokens, client secrets).

Access tokens follow RFC 9068 closely: header ``typ: at+jwt``, HS256 under the server secret,
claims ``iss``, ``aud``, ``sub`` (user id, or the client id for a client acting as itself), ``role``,
``jti``, ``iat``, ``exp``, ``sid`` (the session) and ``client_id`` when a client obtained it. Decoding
accepts HS256 only (so ``alg: none`` and algorithm confusion fail), requires every claim and the
``typ`` header, and checks issuer, audience and expiry. A token that verified once is remembered
(bounded, per codec: the key never changes under it), so a client's later requests with the same
token cost a dictionary lookup and the expiry check instead of parsing and an HMAC (~40 µs).

Refresh tokens and client secrets are 256-bit random strings; only their SHA-256 is stored: with
that much entropy a fast hash is as strong as a slow one, and lookups stay indexable.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt

from actors.identity.errors import InvalidTokenError, TokenExpiredError
from actors.identity.principal import Role
from config.settings import SecuritySettings

ALGORITHM = "HS256"
TOKEN_TYPE = "at+jwt"
REQUIRED_CLAIMS = ("iss", "aud", "sub", "role", "jti", "iat", "exp", "sid")
VERIFIED_CACHE_SIZE = 10_000
"""Verified tokens remembered per codec (cleared at once when full: the next requests verify again)."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The verified claims of an access token."""

    subject: str
    """``sub``: a user id (UUID text) or, for a client acting as itself, its client id."""
    role: Role
    """``role`` at issuance (informational: requests use the current role from the database)."""
    token_id: uuid.UUID
    """``jti``."""
    session_id: uuid.UUID
    """``sid``: the session (grant) the token belongs to."""
    client_id: str | None
    """``client_id``: the client the token was issued to, if any."""
    issued_at: int
    """``iat`` (seconds since the epoch)."""
    expires_at: int
    """``exp`` (seconds since the epoch)."""
    user_id: uuid.UUID | None = field(init=False)
    """The user, or None when a client acts as its own principal (``sub`` equals ``client_id``).

    Derived from ``sub`` once (``ValueError`` when a user's ``sub`` is not a UUID): verified claims
    are remembered per token, and every request of the token reads it."""

    def __post_init__(self) -> None:
        acting_client = self.client_id is not None and self.subject == self.client_id
        object.__setattr__(self, "user_id", None if acting_client else uuid.UUID(self.subject))


class AccessTokenCodec:
    """Issue and verify access tokens with one key and the ``SecuritySettings`` claims policy."""

    def __init__(
        self, key: bytes, settings: SecuritySettings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = key
        self._settings = settings
        self._clock = clock
        self._verified: dict[str, AccessClaims] = {}

    @property
    def ttl_s(self) -> int:
        """Lifetime of the tokens this codec issues."""
        return self._settings.access_token_ttl_s

    def issue(
        self, *, subject: str, role: Role, session_id: uuid.UUID, client_id: str | None
    ) -> tuple[str, AccessClaims]:
        """Return a new signed token and its claims."""
        now = int(self._clock())
        claims = AccessClaims(
            subject=subject,
            role=role,
            token_id=uuid.uuid4(),
            session_id=session_id,
            client_id=client_id,
            issued_at=now,
            expires_at=now + self.ttl_s,
        )
        payload: dict[str, Any] = {
            "iss": self._settings.token_issuer,
            "aud": self._settings.token_audience,
            "sub": subject,
            "role": role.value,
            "jti": str(claims.token_id),
            "sid": str(claims.session_id),
            "iat": claims.issued_at,
            "exp": claims.expires_at,
        }
        if client_id is not None:
            payload["client_id"] = client_id
        token = jwt.encode(payload, self._key, algorithm=ALGORITHM, headers={"typ": TOKEN_TYPE})
        return token, claims

    def decode(self, token: str, *, verify_expiry: bool = True) -> AccessClaims:
        """Verify ``token`` and return its claims; ``InvalidTokenError``/``TokenExpiredError`` otherwise."""
        known = self._verified.get(token)
        if known is not None:
            # Same check as PyJWT's (wall clock, leeway): everything else about these bytes was verified.
            if verify_expiry and time.time() >= known.expires_at + self._settings.token_leeway_s:
                raise TokenExpiredError("the access token has expired")
            return known
        try:
            decoded = jwt.decode_complete(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=self._settings.token_audience,
                issuer=self._settings.token_issuer,
                leeway=self._settings.token_leeway_s,
                options={"require": list(REQUIRED_CLAIMS), "verify_exp": verify_expiry},
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpiredError("the access token has expired") from None
        except jwt.PyJWTError:
            raise InvalidTokenError("the access token is invalid") from None
        if decoded["header"].get("typ") != TOKEN_TYPE:
            raise InvalidTokenError("the token is not an access token")
        claims = _claims(decoded["payload"])
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = claims
        return claims


def _claims(payload: dict[str, Any]) -> AccessClaims:
    try:
        client_id = payload.get("client_id")
        claims = AccessClaims(
            subject=str(payload["sub"]),
            role=Role(payload["role"]),
            token_id=uuid.UUID(str(payload["jti"])),
            session_id=uuid.UUID(str(payload["sid"])),
            client_id=None if client_id is None else str(client_id),
            issued_at=int(payload["iat"]),
            expires_at=int(payload["exp"]),
        )
    except (KeyError, TypeError, ValueError):
        # Only our own key signs these, so this means a key shared with something else: refuse.
        raise InvalidTokenError("the access token is invalid") from None
    return claims


def new_opaque_token() -> str:
    """A fresh 256-bit random token, URL-safe text."""
    return secrets.token_urlsafe(32)


def opaque_hash(token: str) -> bytes:
    """The stored form of an opaque token or client secret."""
    return hashlib.sha256(token.encode()).digest()


def new_client_id() -> str:
    """A fresh client id: never a UUID, so ``sub`` tells users and clients apart."""
    return f"kc-{secrets.token_hex(8)}"
