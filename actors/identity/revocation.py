"""Revocation: one token (RFC 7009), one session, or every session of a user (logout).

``revoke_token`` tells the two kinds apart by shape (an access token is a JWT, a refresh token is
opaque) and ignores ``token_type_hint``, which RFC 7009 allows. An unknown, malformed or expired
token is not an error (RFC 7009 §2.2). A token issued to a client may only be revoked by that client
(authenticated); a token issued without a client by anyone holding it.
Revoking a refresh token revokes its session, hence the access tokens issued from it (RFC 7009 §2.1).
"""

from __future__ import annotations

from actors.identity.audit import audit
from actors.identity.errors import InvalidClientError, InvalidTokenError
from actors.identity.principal import Principal
from actors.identity.service import Identity
from actors.identity.tokens import opaque_hash
from storage.database import Connection
from storage.repos import identity as repo


async def revoke_token(identity: Identity, token: str, *, client_id: str | None, address: str) -> None:
    """Revoke ``token`` on behalf of the authenticated client ``client_id`` (None: no client)."""
    if token.count(".") == 2:
        await _revoke_access_token(identity, token, client_id=client_id, address=address)
    else:
        await _revoke_refresh_token(identity, token, client_id=client_id, address=address)


async def revoke_user_sessions(identity: Identity, principal: Principal, *, address: str) -> int:
    """Log out everywhere: revoke every session of the principal's user (or its own session)."""
    now = identity.now()
    user_id = principal.user_id
    if user_id is None:

        async def one(conn: Connection) -> int:
            return int(await repo.revoke_session(conn, principal.session_id, reason="logout", now=now))

        count = await identity.db.run(one)
    else:

        async def every(conn: Connection) -> int:
            return await repo.revoke_user_sessions(conn, user_id, reason="logout", now=now)

        count = await identity.db.run(every)
    identity.state_cache.clear()
    audit(
        "audit_logout",
        user_id=str(user_id) if user_id else None,
        client_id=principal.client_id,
        sessions=count,
        address=address,
    )
    return count


async def _revoke_access_token(
    identity: Identity, token: str, *, client_id: str | None, address: str
) -> None:
    try:
        claims = identity.codec.decode(token, verify_expiry=False)
    except InvalidTokenError:
        return
    if claims.expires_at <= identity.clock():
        return
    _check_client(claims.client_id, client_id)

    async def revoke(conn: Connection) -> None:
        await repo.revoke_access_token(conn, claims.token_id, expires_at=identity.at(claims.expires_at))

    await identity.db.run(revoke)
    identity.state_cache.clear()
    audit(
        "audit_token_revoked",
        kind="access_token",
        token_id=str(claims.token_id),
        session_id=str(claims.session_id),
        client_id=claims.client_id,
        address=address,
    )


async def _revoke_refresh_token(
    identity: Identity, token: str, *, client_id: str | None, address: str
) -> None:
    found = await identity.db.run_readonly(repo.find_refresh_token, opaque_hash(token))
    if found is None:
        return
    _check_client(found.client_id, client_id)
    now = identity.now()

    async def revoke(conn: Connection) -> bool:
        return await repo.revoke_session(conn, found.session_id, reason="revoked", now=now)

    await identity.db.run(revoke)
    identity.state_cache.clear()
    audit(
        "audit_token_revoked",
        kind="refresh_token",
        session_id=str(found.session_id),
        user_id=str(found.user_id) if found.user_id else None,
        client_id=found.client_id,
        address=address,
    )


def _check_client(issued_to: str | None, caller: str | None) -> None:
    if issued_to != caller:
        raise InvalidClientError("the token was not issued to this client")
