"""``authenticate_bearer``: from an access token to a ``Principal``, or an ``AuthenticationError``.

Two steps: the signature and claims (no I/O), then one database read of the token's session,
account and revocation state (``storage.repos.identity.token_state``), unless a fresh copy is in
the per-process cache (``state_cache``, kept coherent across processes through NOTIFY). The role
of the principal comes from the database, so a demotion or a disabled account takes effect at the
next request, not when the token expires.
"""

from __future__ import annotations

from actors.identity.errors import InvalidTokenError, TokenRevokedError
from actors.identity.principal import Principal, Role
from actors.identity.service import Identity
from storage.repos import identity as repo


async def authenticate_bearer(identity: Identity, token: str) -> Principal:
    """Verify ``token`` and return who it stands for."""
    claims = identity.codec.decode(token)
    cache = identity.state_cache
    key = (claims.session_id, claims.token_id)
    state = cache.get(key)
    if state is None:
        generation = cache.generation
        state = await identity.db.run_readonly(repo.token_state, *key)
        if state is not None:
            cache.put(key, state, generation=generation)
    if state is None or state.session_revoked or state.token_revoked:
        raise TokenRevokedError("the access token was revoked")
    if state.user_disabled or state.client_disabled:
        raise TokenRevokedError("the account behind the access token is disabled")
    user_id = claims.user_id
    if user_id != state.user_id or claims.client_id != state.client_id:
        raise InvalidTokenError("the access token does not match its session")
    role = state.user_role if user_id is not None else state.client_role
    if role is None:
        raise InvalidTokenError("the access token does not match its session")
    return Principal(
        user_id=user_id,
        client_id=claims.client_id,
        role=Role(role),
        token_id=claims.token_id,
        session_id=claims.session_id,
    )
