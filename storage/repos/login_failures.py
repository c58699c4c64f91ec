"""Login-failures repository: failed-login counters shared by every worker and node.

The table comes from ``migrations/0009_login_failures.sql``: one row per failure per key. Keys arrive
here already hashed (32 bytes; ``actors.identity.throttle`` owns the keyed hash and the limits), so
this module never sees a username or an address. Every function is one statement, a unit of work (or
a step of one) for ``Database.run``: ``fn(conn, ...)``, arguments positional (``run`` passes them so).

Counting is insert-only: two workers recording a failure of the same key at once add two rows, so no
update can be lost and no row lock is waited for. The check reads at most ``limit`` index entries per
key, however many failures the key has.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from storage.database import Connection

KEY_HASH_BYTES = 32
"""Length of a stored key (HMAC-SHA256)."""


async def record_failures(conn: Connection, key_hashes: Sequence[bytes], at: datetime) -> None:
    """Count one failure at ``at`` for each of ``key_hashes`` (one statement for all of them)."""
    if not key_hashes:
        return
    await conn.execute(
        "INSERT INTO login_failures (key_hash, failed_at) SELECT k, $2 FROM unnest($1::bytea[]) AS k",
        list(key_hashes),
        at,
    )


async def retry_after(
    conn: Connection, limits: Sequence[tuple[bytes, int]], window_s: float, now: datetime
) -> float | None:
    """Seconds until every key is under its limit again, or None when all are now.

    ``limits`` pairs each key hash with its limit. A key is over its limit when it has ``limit``
    failures within the window ending at ``now``; it stays so until the ``limit``-th latest of them
    leaves the window. One statement for all the keys: per key, a backward index scan that stops at
    the ``limit``-th entry.
    """
    if not limits:
        return None
    since = now - timedelta(seconds=window_s)
    blocking: datetime | None = await conn.fetchval(
        """SELECT max(nth.failed_at)
           FROM unnest($1::bytea[], $2::int[]) AS k(key_hash, lim)
           CROSS JOIN LATERAL (
               SELECT f.failed_at FROM login_failures AS f
               WHERE f.key_hash = k.key_hash AND f.failed_at > $3
               ORDER BY f.failed_at DESC
               OFFSET k.lim - 1 LIMIT 1
           ) AS nth""",
        [key for key, _ in limits],
        [limit for _, limit in limits],
        since,
    )
    if blocking is None:
        return None
    # A row stamped ahead of ``now`` (another node's clock runs fast) blocks for one window at most.
    return min((blocking - since).total_seconds(), window_s)


async def clear(conn: Connection, key_hash: bytes) -> int:
    """Forget every failure of one key (after a successful login); return how many rows went."""
    status: str = await conn.execute("DELETE FROM login_failures WHERE key_hash = $1", key_hash)
    return int(status.split()[-1])


async def delete_before(conn: Connection, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` failures older than ``before``, oldest first; return how many went.

    Rows another transaction is deleting right now are skipped rather than waited for, so two workers
    sweeping at once do not queue behind each other.
    """
    status: str = await conn.execute(
        """DELETE FROM login_failures WHERE ctid = ANY(ARRAY(
               SELECT ctid FROM login_failures WHERE failed_at < $1
               ORDER BY failed_at LIMIT $2 FOR UPDATE SKIP LOCKED))""",
        before,
        limit,
    )
    return int(status.split()[-1])


async def count(conn: Connection, key_hash: bytes) -> int:
    """Every stored failure of one key, old ones included (for tests and operators)."""
    found: int = await conn.fetchval("SELECT count(*) FROM login_failures WHERE key_hash = $1", key_hash)
    return found
