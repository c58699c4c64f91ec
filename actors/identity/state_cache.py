"""A per-process cache of ``TokenState`` by token id, kept coherent across processes by NOTIFY.

Every change to token state (revocations, logout, roles, disabled flags) is announced on
``storage.repos.identity.CHANGES_CHANNEL`` inside its transaction. ``keep_cache_coherent`` listens and
clears the cache on each notification; while it is not subscribed (starting, connection lost, no
watcher at all as in the command line) the cache is bypassed. A read racing with a change cannot
re-insert a stale state: ``put`` is refused when the cache was cleared after the read began
(``generation``). The ttl (``security.token_state_cache_s``) is only a safety net; 0 turns caching off.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from uuid import UUID

import structlog
import trio

from storage.database import Database
from storage.errors import StorageError
from storage.repos.identity import CHANGES_CHANNEL, TokenState

log = structlog.get_logger("actors.identity.state_cache")

RESUBSCRIBE_S = 1.0
"""Pause before listening again after the listening connection was lost."""


CacheKey = tuple[UUID, UUID]
"""(session id, token id): what ``token_state`` was asked about."""


class TokenStateCache:
    """(session id, token id) → (state, deadline), bounded; used only while ``coherent``."""

    def __init__(
        self, ttl_s: float, *, max_entries: int = 50_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[CacheKey, tuple[TokenState, float]] = {}
        self.generation = 0
        """Incremented by every ``clear``; ``put`` takes the value read before the database query."""
        self.coherent = False
        """True while change notifications are being received (set by ``keep_cache_coherent``)."""

    @property
    def enabled(self) -> bool:
        """Whether caching is configured at all."""
        return self._ttl_s > 0

    def get(self, key: CacheKey) -> TokenState | None:
        """The cached state for ``key`` if it is fresh and the cache is coherent."""
        if not self.coherent:
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        state, deadline = entry
        if self._clock() >= deadline:
            del self._entries[key]
            return None
        return state

    def put(self, key: CacheKey, state: TokenState, *, generation: int) -> None:
        """Remember ``state`` read while the cache was at ``generation`` (dropped if cleared since)."""
        if not (self.enabled and self.coherent) or generation != self.generation:
            return
        if len(self._entries) >= self._max_entries:
            self._entries.clear()  # crude but bounded: the next requests simply ask the database again
        self._entries[key] = (state, self._clock() + self._ttl_s)

    def clear(self) -> None:
        """Forget everything (token state changed somewhere)."""
        self._entries.clear()
        self.generation += 1


async def keep_cache_coherent(cache: TokenStateCache, db: Database) -> None:
    """Listen for token-state changes and clear ``cache`` on each; runs until cancelled."""
    if not cache.enabled:
        return
    while True:
        try:
            async with db.listen(CHANGES_CHANNEL) as changes:
                cache.clear()
                cache.coherent = True
                async for _ in changes:
                    cache.clear()
        except Exception as exc:  # any failure only means "bypass the cache for now"
            code = exc.code if isinstance(exc, StorageError) else type(exc).__name__
            log.warning("identity_cache_listen_failed", error=code)
        finally:
            cache.coherent = False
            cache.clear()
        await trio.sleep(RESUBSCRIBE_S)
