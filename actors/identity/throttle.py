"""Failed-login rate limiting: sliding windows of failures per key, shared through PostgreSQL.

Keys are ``user:<lower-cased username>``, ``addr:<client address>`` and ``client:<client id>``, each
with its own limit (``security.login_max_failures_per_username`` for users and clients,
``login_max_failures_per_address`` for addresses, over ``login_failure_window_s``). A key over its
limit refuses attempts (before any password is hashed) until its ``limit``-th latest failure leaves
the window; a successful login clears its username key.

``SharedLoginThrottle`` keeps the failures in the ``login_failures`` table, so every worker process
and every node counts against one limit per key, and the counters survive restarts. Per attempt it
costs one unit of work (one statement) for the check and one for a failure; a success costs one to
clear the username key. Keys are stored as HMAC-SHA256 under a key derived from the server secret (an
unknown "username" is often a password typed into the wrong field); replacing the secret resets every
counter. Time is the worker's wall clock, so nodes need synchronised clocks (as tokens already do).
Rows that left the window are deleted by the throttle itself: every ``SWEEP_EVERY`` failures a worker
records, the same unit deletes up to ``SWEEP_BATCH`` old rows (no timer of its own). A database that
cannot be reached refuses the login (the check raises), it never lets an attempt through unchecked.

The check and the record are separate units with a password hash between them, so attempts already
in flight when a key reaches its limit still count and still get their answer: the limit can be
exceeded by the number of concurrent attempts (as it could per process before).

Locking a username out is a denial-of-service lever for anyone who knows the name; the window keeps
it short.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from config.settings import SecuritySettings
from storage import Connection, Database
from storage.repos import login_failures as repo

SWEEP_EVERY = 64
"""A worker deletes old failures after every this many failures it records."""
SWEEP_BATCH = 1_000
"""At most this many old failures are deleted per sweep. A failure adds at most two rows, so a sweep
removes up to ~8 times what the failures between two sweeps added: the table stays near the rows of
one window however long an attack lasts."""

_KEY_LABEL = b"klyuch login-throttle key v1"


class SharedLoginThrottle:
    """Count failures per key in PostgreSQL and tell whether a key is over its limit (every worker)."""

    def __init__(
        self,
        db: Database,
        *,
        server_secret: bytes,
        window_s: float,
        limits: dict[str, int],
        clock: Callable[[], float] = time.time,
        sweep_every: int = SWEEP_EVERY,
        sweep_batch: int = SWEEP_BATCH,
    ) -> None:
        """``limits`` maps a key prefix (``"user"``, ``"addr"``, ``"client"``) to its failure limit;
        ``clock`` is wall-clock seconds since the epoch (every worker must agree on it)."""
        self._db = db
        self._hash_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_LABEL).derive(
            server_secret
        )
        self._window_s = window_s
        self._limits = limits
        self._clock = clock
        self._sweep_every = sweep_every
        self._sweep_batch = sweep_batch
        self._recorded = 0

    @classmethod
    def for_settings(
        cls, security: SecuritySettings, db: Database, *, server_secret: bytes, clock: Callable[[], float]
    ) -> SharedLoginThrottle:
        """The throttle of a worker: the limits and window of ``security``, counted in ``db``."""
        return cls(
            db,
            server_secret=server_secret,
            window_s=security.login_failure_window_s,
            limits=limits_of(security),
            clock=clock,
        )

    async def retry_after(self, keys: Iterable[str]) -> float | None:
        """Seconds until every key in ``keys`` is under its limit again; None when they all are now."""
        limits = [(self.key_hash(key), self._limits[_prefix(key)]) for key in keys]
        return await self._db.run_readonly(repo.retry_after, limits, self._window_s, self._now())

    async def record_failure(self, keys: Iterable[str]) -> None:
        """Count one failure for each key (and, every ``sweep_every`` calls, delete old failures)."""
        now = self._now()
        self._recorded += 1
        sweep = self._recorded % self._sweep_every == 0
        cutoff = now - timedelta(seconds=self._window_s) if sweep else None
        await self._db.run(_record, [self.key_hash(key) for key in keys], now, cutoff, self._sweep_batch)

    async def clear(self, key: str) -> None:
        """Forget the failures of ``key`` (after a successful login)."""
        await self._db.run(repo.clear, self.key_hash(key))

    def key_hash(self, key: str) -> bytes:
        """What the table stores for ``key``: HMAC-SHA256 under the throttle's key."""
        return hmac.new(self._hash_key, key.encode(), hashlib.sha256).digest()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)


async def _record(
    conn: Connection, hashes: list[bytes], at: datetime, cutoff: datetime | None, batch: int
) -> None:
    await repo.record_failures(conn, hashes, at)
    if cutoff is not None:
        await repo.delete_before(conn, cutoff, batch)


def limits_of(security: SecuritySettings) -> dict[str, int]:
    """Failure limit per key prefix: client ids are guessed like usernames, addresses get their own."""
    return {
        "user": security.login_max_failures_per_username,
        "client": security.login_max_failures_per_username,
        "addr": security.login_max_failures_per_address,
    }


def _prefix(key: str) -> str:
    return key.split(":", 1)[0]


def user_key(username: str) -> str:
    """Throttle key of a username (case-insensitive, like usernames)."""
    return f"user:{username.lower()}"


def address_key(address: str) -> str:
    """Throttle key of a client address."""
    return f"addr:{address}"


def client_key(client_id: str) -> str:
    """Throttle key of an OAuth2 client id."""
    return f"client:{client_id}"
