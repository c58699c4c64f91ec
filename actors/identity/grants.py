"""Token grants (RFC 6749): ``password``, ``client_credentials``, ``refresh_token``.

* ``password``: username + password (and optionally a client's credentials). Failures are counted
  per username and per address (``throttle``); an unknown user costs one dummy verification, so it
  answers like a wrong password in time and in words. A hash made with old parameters is replaced.
  Opens a session whose refresh tokens form one family.
* ``client_credentials``: a client alone; its bound user's identity, or its own. No refresh token
  (RFC 6749 §4.4.3); each token gets its own short session so it can be revoked like the others.
* ``refresh_token``: rotation; presenting a used refresh token revokes its family (reuse detection).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from uuid import UUID

from actors.identity.audit import audit
from actors.identity.clients import ClientCredentials, authenticate_client
from actors.identity.errors import InvalidGrantError, TooManyAttemptsError
from actors.identity.principal import Role
from actors.identity.service import Identity
from actors.identity.throttle import address_key, user_key
from actors.identity.tokens import new_opaque_token, opaque_hash
from storage.database import Connection
from storage.repos import identity as repo

PURGE_INTERVAL_S = 3600.0
"""How often a process deletes expired sessions and revocation rows (piggybacking on a grant)."""
PURGE_GRACE_S = 3600.0
"""Rows are kept this long past their expiry (so a late request still gets ``token_revoked``)."""

BAD_CREDENTIALS = "the username or password is wrong"


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What the token endpoint answers (RFC 6749 §5.1)."""

    access_token: str
    """The signed access token."""
    expires_in: int
    """Its lifetime in seconds."""
    refresh_token: str | None
    """A refresh token (password and refresh grants only)."""
    session_id: UUID
    """The session the tokens belong to (not sent to the client)."""
    token_type: str = "Bearer"
    """Always ``Bearer``."""


async def password_grant(
    identity: Identity,
    *,
    username: str,
    password: str,
    client: ClientCredentials | None,
    address: str,
) -> TokenGrant:
    """Log a user in with a password."""
    client_id = (await authenticate_client(identity, client, address=address)).client_id if client else None
    keys = [user_key(username), address_key(address)]
    wait = await identity.throttle.retry_after(keys)
    if wait is not None:
        audit("audit_login_throttled", username=username, address=address, client_id=client_id)
        raise TooManyAttemptsError("too many failed logins; try again later", retry_after_s=wait)
    user = await identity.db.run_readonly(repo.find_user, username)
    if user is None or user.password_hash is None:
        await identity.hasher.verify_dummy(password)
        matches = False
    else:
        matches = await identity.hasher.verify(user.password_hash, password)
    if user is None or not matches:
        await identity.throttle.record_failure(keys)
        # An unknown "username" is often a password typed into the wrong field: never log it.
        audit(
            "audit_login_failed",
            user_id=str(user.id) if user else None,
            username=user.username if user else None,
            unknown_user=user is None,
            address=address,
            client_id=client_id,
            reason="bad_credentials",
        )
        raise InvalidGrantError(BAD_CREDENTIALS)
    if user.disabled:
        audit(
            "audit_login_failed", username=username, address=address, client_id=client_id, reason="disabled"
        )
        raise InvalidGrantError("the account is disabled")
    await identity.throttle.clear(user_key(username))
    await _rehash_if_needed(identity, user, password)
    grant = await _open_password_session(identity, user, client_id)
    audit(
        "audit_login_succeeded",
        user_id=str(user.id),
        username=user.username,
        client_id=client_id,
        address=address,
        session_id=str(grant.session_id),
    )
    await _purge_if_due(identity)
    return grant


async def client_credentials_grant(
    identity: Identity, client: ClientCredentials, *, address: str
) -> TokenGrant:
    """Issue an access token to a client acting as its bound user or as itself."""
    row = await authenticate_client(identity, client, address=address)
    if row.user_id is not None:
        user = await identity.db.run_readonly(repo.get_user, row.user_id)
        if user.disabled:
            audit("audit_login_failed", client_id=row.client_id, address=address, reason="user_disabled")
            raise InvalidGrantError("the client's user is disabled")
        subject, role = str(user.id), Role(user.role)
    else:
        subject, role = row.client_id, Role(row.role)
    expires = identity.clock() + identity.codec.ttl_s

    async def open_session(conn: Connection) -> UUID:
        return await repo.create_session(
            conn,
            user_id=row.user_id,
            client_id=row.client_id,
            grant_type="client_credentials",
            expires_at=identity.at(expires),
        )

    session_id = await identity.db.run(open_session)
    token, _claims = identity.codec.issue(
        subject=subject, role=role, session_id=session_id, client_id=row.client_id
    )
    audit(
        "audit_client_token_issued",
        client_id=row.client_id,
        user_id=str(row.user_id) if row.user_id else None,
        address=address,
        session_id=str(session_id),
    )
    await _purge_if_due(identity)
    return TokenGrant(token, identity.codec.ttl_s, None, session_id)


async def refresh_grant(
    identity: Identity, *, refresh_token: str, client: ClientCredentials | None, address: str
) -> TokenGrant:
    """Rotate a refresh token: a new access token and a new refresh token in the same family."""
    client_id = (await authenticate_client(identity, client, address=address)).client_id if client else None
    successor = new_opaque_token()
    successor_row = repo.NewRefreshToken(
        opaque_hash(successor), identity.at(identity.clock() + identity.settings.refresh_token_ttl_s)
    )

    async def rotate(conn: Connection) -> repo.Rotation:
        return await repo.rotate_refresh_token(
            conn,
            token_hash=opaque_hash(refresh_token),
            client_id=client_id,
            successor=successor_row,
            now=identity.now(),
        )

    rotation = await identity.db.run(rotate)
    outcome = rotation.outcome
    if outcome is repo.RotationOutcome.REUSED:
        identity.state_cache.clear()
        audit(
            "audit_refresh_token_reused",
            session_id=str(rotation.session_id),
            user_id=str(rotation.user_id),
            client_id=rotation.client_id,
            address=address,
        )
        raise InvalidGrantError("the refresh token was already used; its session has been revoked")
    if outcome is not repo.RotationOutcome.ROTATED:
        raise InvalidGrantError(_REFRESH_REFUSALS[outcome])
    assert rotation.session_id is not None
    assert rotation.user_id is not None
    assert rotation.role is not None
    token, _claims = identity.codec.issue(
        subject=str(rotation.user_id),
        role=Role(rotation.role),
        session_id=rotation.session_id,
        client_id=client_id,
    )
    return TokenGrant(token, identity.codec.ttl_s, successor, rotation.session_id)


_REFRESH_REFUSALS = {
    repo.RotationOutcome.UNKNOWN: "the refresh token is not valid",
    repo.RotationOutcome.WRONG_CLIENT: "the refresh token was issued to another client",
    repo.RotationOutcome.REVOKED: "the refresh token was revoked",
    repo.RotationOutcome.EXPIRED: "the refresh token has expired",
    repo.RotationOutcome.DISABLED: "the account is disabled",
}


async def _open_password_session(identity: Identity, user: repo.UserRow, client_id: str | None) -> TokenGrant:
    refresh = new_opaque_token()
    expires = identity.at(identity.clock() + identity.settings.refresh_token_ttl_s)

    async def open_session(conn: Connection) -> UUID:
        return await repo.create_session(
            conn,
            user_id=user.id,
            client_id=client_id,
            grant_type="password",
            expires_at=expires,
            refresh=repo.NewRefreshToken(opaque_hash(refresh), expires),
        )

    session_id = await identity.db.run(open_session)
    token, _claims = identity.codec.issue(
        subject=str(user.id), role=Role(user.role), session_id=session_id, client_id=client_id
    )
    return TokenGrant(token, identity.codec.ttl_s, refresh, session_id)


async def _rehash_if_needed(identity: Identity, user: repo.UserRow, password: str) -> None:
    old = user.password_hash
    if old is None or not identity.hasher.needs_rehash(old):
        return
    new = await identity.hasher.hash(password)

    async def swap(conn: Connection) -> bool:
        return await repo.replace_password_hash(conn, user.id, old=old, new=new)

    if await identity.db.run(swap):
        audit("audit_password_rehashed", user_id=str(user.id))


async def _purge_if_due(identity: Identity) -> None:
    now = time.monotonic()
    if identity.last_purge and now - identity.last_purge < PURGE_INTERVAL_S:
        return
    identity.last_purge = now
    before = identity.at(identity.clock() - PURGE_GRACE_S)

    async def purge(conn: Connection) -> int:
        return await repo.purge_expired(conn, before=before)

    await identity.db.run(purge)
