"""A per-process cache of ``TokenState`` by token id, kept coherent across processes by NOTIFY.

Every change to token state (revocations, logout, roles, disabled flags) is announced on
``storage.repos.identity.CHANGES_CHANNEL`` inside its transaction; ``keep_cache_coherent`` clears the
cache on each notification and the cache is bypassed while nobody listens (``storage.coherent``
explains the rules). The ttl (``security.token_state_cache_s``) is only a safety net; 0 turns caching off.
"""

from __future__ import annotations

from uuid import UUID

from storage.coherent import CoherentCache, keep_coherent
from storage.database import Database
from storage.repos.identity import CHANGES_CHANNEL, TokenState

CacheKey = tuple[UUID, UUID]
"""(session id, token id): what ``token_state`` was asked about."""


class TokenStateCache(CoherentCache[CacheKey, TokenState]):
    """(session id, token id) → token state, while coherent."""


async def keep_cache_coherent(cache: TokenStateCache, db: Database) -> None:
    """Listen for token-state changes and clear ``cache`` on each; runs until cancelled."""
    await keep_coherent(cache, db, CHANGES_CHANNEL)
