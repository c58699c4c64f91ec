"""Per-process caches of database state, kept coherent across processes by LISTEN/NOTIFY.

The rule every such cache follows: each change to the cached state is announced on a NOTIFY channel
*inside its transaction* (so the notification leaves exactly when the change is visible), and
``keep_coherent`` clears the cache on every notification. While it is not subscribed (starting,
listening connection lost, no watcher at all as in the command line) the cache is bypassed: ``get``
misses and ``put`` is dropped. A read racing with a change cannot re-insert a stale value: ``put``
is refused when the cache was cleared after the read began (``generation``). The ttl is only a
safety net; 0 turns caching off.

Users: ``actors.identity.state_cache`` (token revocation and account state) and
``actors.operations.material`` (signing certificates and keys).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import structlog
import trio

from storage.database import Database
from storage.errors import StorageError

log = structlog.get_logger("storage.coherent")

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

RESUBSCRIBE_S = 1.0
"""Pause before listening again after the listening connection was lost."""


class CoherentCache(Generic[K, V]):
    """key → (value, deadline), bounded (the oldest entry makes room); used only while ``coherent``."""

    def __init__(
        self, ttl_s: float, *, max_entries: int = 50_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[K, tuple[V, float]] = {}
        self.generation = 0
        """Incremented by every ``clear``; ``put`` takes the value read before the database query."""
        self.coherent = False
        """True while change notifications are being received (set by ``keep_coherent``)."""

    @property
    def enabled(self) -> bool:
        """Whether caching is configured at all."""
        return self._ttl_s > 0

    def get(self, key: K) -> V | None:
        """The cached value for ``key`` if it is fresh and the cache is coherent."""
        if not self.coherent:
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, deadline = entry
        if self._clock() >= deadline:
            del self._entries[key]
            return None
        return value

    def put(self, key: K, value: V, *, generation: int) -> None:
        """Remember ``value`` read while the cache was at ``generation`` (dropped if cleared since)."""
        if not (self.enabled and self.coherent) or generation != self.generation:
            return
        self._entries.pop(key, None)  # re-inserted last: the dict's order is the eviction order
        if len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]  # the oldest put
        self._entries[key] = (value, self._clock() + self._ttl_s)

    def clear(self) -> None:
        """Forget everything (the state changed somewhere)."""
        self._entries.clear()
        self.generation += 1


async def keep_coherent(cache: CoherentCache[K, V], db: Database, channel: str) -> None:
    """Listen on ``channel`` and clear ``cache`` on each notification; runs until cancelled."""
    if not cache.enabled:
        return
    while True:
        try:
            async with db.listen(channel) as changes:
                cache.clear()
                cache.coherent = True
                async for _ in changes:
                    cache.clear()
        except Exception as exc:  # any failure only means "bypass the cache for now"
            code = exc.code if isinstance(exc, StorageError) else type(exc).__name__
            log.warning("coherent_cache_listen_failed", channel=channel, error=code)
        finally:
            cache.coherent = False
            cache.clear()
        await trio.sleep(RESUBSCRIBE_S)
