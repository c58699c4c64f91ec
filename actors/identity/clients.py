"""OAuth2 clients (information systems): creation, authentication, callback secrets.

A client authenticates with its id and a 256-bit secret shown once at creation. A client bound to a
user acts as that user (``client_credentials`` tokens carry the user's id and current role); an
unbound client is its own principal with the client's ``role`` and owns no user objects.
Each client also gets a callback secret (the HMAC key of its asynchronous callbacks), shown once and
stored sealed (``server_secret.Sealer``) so the server can compute HMACs later.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from uuid import UUID

from actors.identity.audit import audit
from actors.identity.errors import InvalidClientError, PermissionDeniedError, TooManyAttemptsError
from actors.identity.principal import Principal, Role
from actors.identity.service import Identity
from actors.identity.throttle import address_key, client_key
from actors.identity.tokens import new_client_id, new_opaque_token, opaque_hash
from storage.errors import NotFoundError
from storage.repos import identity as repo

CALLBACK_SECRET_BYTES = 32
"""Length of a callback HMAC key."""


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """What a caller presented to authenticate as a client."""

    client_id: str
    """The claimed client id."""
    client_secret: str | None
    """The secret (None when only an id was sent: refused, every client here is confidential)."""


@dataclass(frozen=True, slots=True)
class IssuedClient:
    """A new client with the secrets that are shown exactly once."""

    client: repo.ClientRow
    """The stored client."""
    client_secret: str
    """The client secret (only its hash is stored)."""
    callback_secret: bytes
    """The callback HMAC key."""


async def create_client(
    identity: Identity,
    actor: Principal | None,
    *,
    name: str,
    role: Role = Role.USER,
    user_id: UUID | None = None,
) -> IssuedClient:
    """Register a client; administrators only (``actor`` None is the command line)."""
    if actor is not None and not actor.has_role(Role.ADMIN):
        raise PermissionDeniedError("only an administrator registers clients")
    if user_id is not None:
        await identity.db.run_readonly(repo.get_user, user_id)  # NotFoundError when there is no such user
    client_id = new_client_id()
    secret = new_opaque_token()
    callback = secrets.token_bytes(CALLBACK_SECRET_BYTES)
    row = await identity.db.run(
        repo.insert_client,
        repo.NewClient(
            client_id=client_id,
            name=name,
            secret_hash=opaque_hash(secret),
            role=role.value,
            callback_secret=identity.sealer.seal(callback, context=client_id),
            user_id=user_id,
            created_by=actor.user_id if actor else None,
        ),
    )
    audit(
        "audit_client_created",
        client_id=client_id,
        role=role.value,
        bound_user_id=str(user_id) if user_id else None,
        by_user_id=str(actor.user_id) if actor and actor.user_id else None,
    )
    return IssuedClient(row, secret, callback)


async def list_clients(identity: Identity, actor: Principal) -> list[repo.ClientRow]:
    """Every client; administrators only."""
    if not actor.has_role(Role.ADMIN):
        raise PermissionDeniedError("only an administrator lists clients")
    return await identity.db.run_readonly(repo.list_clients)


async def authenticate_client(
    identity: Identity, credentials: ClientCredentials, *, address: str
) -> repo.ClientRow:
    """The client these credentials prove, or ``InvalidClientError`` (rate-limited like logins)."""
    keys = [client_key(credentials.client_id), address_key(address)]
    wait = await identity.throttle.retry_after(keys)
    if wait is not None:
        audit("audit_client_auth_throttled", client_id=credentials.client_id, address=address)
        raise TooManyAttemptsError("too many failed client authentications", retry_after_s=wait)
    row = await identity.db.run_readonly(repo.get_client, credentials.client_id)
    presented = opaque_hash(credentials.client_secret or "")
    # Compare even for an unknown client so the answer takes the same time either way.
    expected = row.secret_hash if row is not None else bytes(len(presented))
    matches = hmac.compare_digest(presented, expected)
    if row is None or credentials.client_secret is None or not matches or row.disabled:
        await identity.throttle.record_failure(keys)
        reason = "disabled" if row is not None and matches and row.disabled else "bad_credentials"
        audit("audit_client_auth_failed", client_id=credentials.client_id, address=address, reason=reason)
        raise InvalidClientError("client authentication failed")
    return row


async def callback_secret(identity: Identity, client_id: str) -> bytes:
    """The callback HMAC key of ``client_id`` (for signing asynchronous callbacks)."""
    row = await identity.db.run_readonly(repo.get_client, client_id)
    if row is None:
        raise NotFoundError(f"client {client_id} not found")
    return identity.sealer.open(row.callback_secret, context=client_id)
