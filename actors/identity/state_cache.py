"""A small per-process cache of ``TokenState`` by token id, for ``security.token_state_cache_s``.

Off by default (ttl 0: every request asks the database). When on, a revocation made by this process
clears the cache at once; one made by another worker process takes effect within the ttl.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from uuid import UUID

from storage.repos.identity import TokenState


class TokenStateCache:
    """Token id → (state, deadline), bounded; ``get`` returns None when absent, stale or disabled."""

    def __init__(
        self, ttl_s: float, *, max_entries: int = 50_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[UUID, tuple[TokenState, float]] = {}

    @property
    def enabled(self) -> bool:
        """Whether states are kept at all."""
        return self._ttl_s > 0

    def get(self, token_id: UUID) -> TokenState | None:
        """The cached state of ``token_id`` if it is fresh."""
        entry = self._entries.get(token_id)
        if entry is None:
            return None
        state, deadline = entry
        if self._clock() >= deadline:
            del self._entries[token_id]
            return None
        return state

    def put(self, token_id: UUID, state: TokenState) -> None:
        """Remember ``state`` for the ttl (no-op when disabled)."""
        if not self.enabled:
            return
        if len(self._entries) >= self._max_entries:
            self._entries.clear()  # crude but bounded: the next requests simply ask the database again
        self._entries[token_id] = (state, self._clock() + self._ttl_s)

    def clear(self) -> None:
        """Forget everything (after this process revoked something)."""
        self._entries.clear()
