"""Failed-login rate limiting: sliding windows of failure times per key, in memory.

Keys are ``user:<lower-cased username>``, ``addr:<client address>`` and ``client:<client id>``, each
with its own limit. A key over its limit refuses attempts (before any password is hashed) until its
oldest counted failure leaves the window; a successful login clears its username key.

Limits are per worker process: with W workers an attacker gets up to W × the limit per window. The
counters are lost on restart. Both are accepted for now; a shared counter would live in PostgreSQL.
Locking a username out is a denial-of-service lever for anyone who knows the name; the window keeps
it short. Memory is bounded by ``max_keys`` (expired keys go first, then the oldest).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable


class LoginThrottle:
    """Count failures per key and tell whether a key is over its limit."""

    def __init__(
        self,
        *,
        window_s: float,
        limits: dict[str, int],
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``limits`` maps a key prefix (``"user"``, ``"addr"``, ``"client"``) to its failure limit."""
        self._window_s = window_s
        self._limits = limits
        self._max_keys = max_keys
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, keys: Iterable[str]) -> float | None:
        """Seconds until every key in ``keys`` is under its limit again; None when they all are now."""
        now = self._clock()
        waits = [wait for key in keys if (wait := self._wait(key, now)) is not None]
        return max(waits) if waits else None

    def record_failure(self, keys: Iterable[str]) -> None:
        """Count one failure for each key."""
        now = self._clock()
        for key in keys:
            failures = self._failures.get(key)
            if failures is None:
                self._make_room(now)
                failures = self._failures[key] = deque(maxlen=self._limit(key))
            failures.append(now)

    def clear(self, key: str) -> None:
        """Forget the failures of ``key`` (after a successful login)."""
        self._failures.pop(key, None)

    def _wait(self, key: str, now: float) -> float | None:
        failures = self._failures.get(key)
        if failures is None or len(failures) < self._limit(key):
            return None
        wait = failures[0] + self._window_s - now
        return wait if wait > 0 else None

    def _limit(self, key: str) -> int:
        return self._limits[key.split(":", 1)[0]]

    def _make_room(self, now: float) -> None:
        if len(self._failures) < self._max_keys:
            return
        cutoff = now - self._window_s
        for key in [k for k, failures in self._failures.items() if failures[-1] <= cutoff]:
            del self._failures[key]
        while len(self._failures) >= self._max_keys:
            del self._failures[next(iter(self._failures))]  # dicts keep insertion order: oldest key first


def user_key(username: str) -> str:
    """Throttle key of a username (case-insensitive, like usernames)."""
    return f"user:{username.lower()}"


def address_key(address: str) -> str:
    """Throttle key of a client address."""
    return f"addr:{address}"


def client_key(client_id: str) -> str:
    """Throttle key of an OAuth2 client id."""
    return f"client:{client_id}"
