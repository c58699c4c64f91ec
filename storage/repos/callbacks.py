"""Callbacks repository: the outbox of HTTP callbacks of asynchronous operations.

Table ``callback_deliveries`` from ``migrations/0006_callbacks.sql`` (its header draws the states).
Every function is a unit of work (or a step of one) for ``Database.run``: ``fn(conn, ...)``. Times are
the database's ``now()``, so several workers on several hosts agree on what is due.

Claiming uses ``FOR UPDATE SKIP LOCKED`` and commits the claim (state ``delivering``, a lease, one more
attempt) before the HTTP request is made: two dispatchers never hold one row at the same time, and a
row whose dispatcher died is claimed again once its lease has run out. Every outcome is *fenced* by
``(claimed_by, attempts)``: it is written only while that claim is still the current one.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from storage.database import Connection
from storage.errors import NotFoundError

COLUMNS = (
    "id, operation_id, user_id, client_id, url, event, payload::text AS payload, state, attempts, "
    "next_attempt_at, lease_until, claimed_by, last_status, last_error, created_at, updated_at, finished_at"
)

MAX_ERROR_LENGTH = 300
"""``last_error`` is cut to this many characters (the column's limit)."""


class DeliveryState(enum.StrEnum):
    """Life of an outbox row."""

    PENDING = "pending"
    """Waiting for ``next_attempt_at``."""
    DELIVERING = "delivering"
    """Claimed by a dispatcher until ``lease_until``."""
    DELIVERED = "delivered"
    """A 2xx answer was received (final)."""
    DEAD = "dead"
    """Given up (final): refused by the receiver, out of attempts, or undeliverable."""


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """What ``insert_delivery`` writes."""

    operation_id: UUID
    """The operation the callback reports on."""
    user_id: UUID | None
    """The operation's owner."""
    client_id: str | None
    """The OAuth2 client whose callback secret signs the deliveries."""
    url: str
    """Where to POST (already validated by the caller)."""
    event: str
    """Event name, e.g. ``operation.completed``."""
    payload_json: str
    """The ``payload`` member of the body, as JSON text."""


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One ``callback_deliveries`` row."""

    id: UUID
    """Delivery id (the ``X-Klyuch-Delivery`` header; stable across retries)."""
    operation_id: UUID
    """The operation."""
    user_id: UUID | None
    """The operation's owner."""
    client_id: str | None
    """Client whose callback secret signs (None: the client was deleted, or there never was one)."""
    url: str
    """Target URL."""
    event: str
    """Event name."""
    payload: str
    """Payload as JSON text (never logged)."""
    state: DeliveryState
    """pending, delivering, delivered or dead."""
    attempts: int
    """Claims so far, this one included while delivering (the ``attempt`` of the body)."""
    next_attempt_at: datetime
    """When a pending row is due."""
    lease_until: datetime | None
    """End of the current claim."""
    claimed_by: str | None
    """Dispatcher that holds (or last held) the row."""
    last_status: int | None
    """HTTP status of the last answer, if there was one."""
    last_error: str | None
    """Stable word (and short detail) of the last failure."""
    created_at: datetime
    """Enqueue time."""
    updated_at: datetime
    """Last change."""
    finished_at: datetime | None
    """When it became delivered or dead."""


async def insert_delivery(conn: Connection, new: NewDelivery, channel: str) -> UUID:
    """Insert a pending row and NOTIFY ``channel`` (sent at commit); idempotent per (operation, event).

    A second call for the same operation and event returns the first row's id and changes nothing.
    """
    row_id: UUID | None = await conn.fetchval(
        """INSERT INTO callback_deliveries (operation_id, user_id, client_id, url, event, payload)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb)
           ON CONFLICT (operation_id, event) DO NOTHING
           RETURNING id""",
        new.operation_id,
        new.user_id,
        new.client_id,
        new.url,
        new.event,
        new.payload_json,
    )
    if row_id is None:
        existing: UUID = await conn.fetchval(
            "SELECT id FROM callback_deliveries WHERE operation_id = $1 AND event = $2",
            new.operation_id,
            new.event,
        )
        return existing
    await conn.execute("SELECT pg_notify($1, '')", channel)
    return row_id


async def claim_due(conn: Connection, node: str, limit: int, lease_s: float) -> list[DeliveryRow]:
    """Claim up to ``limit`` due rows (pending and due, or delivering with an expired lease) for ``node``."""
    rows = await conn.fetch(
        f"""WITH due AS (
                SELECT id FROM callback_deliveries
                 WHERE (state = 'pending' AND next_attempt_at <= now())
                    OR (state = 'delivering' AND lease_until <= now())
                 ORDER BY next_attempt_at
                 LIMIT $1
                 FOR UPDATE SKIP LOCKED)
            UPDATE callback_deliveries d
               SET state = 'delivering', attempts = d.attempts + 1, claimed_by = $2,
                   lease_until = now() + make_interval(secs => $3), updated_at = now()
              FROM due
             WHERE d.id = due.id
         RETURNING {_qualified("d")}""",
        limit,
        node,
        lease_s,
    )
    return [_row(row) for row in rows]


async def record_delivered(conn: Connection, row_id: UUID, node: str, attempt: int, status: int) -> bool:
    """Mark the claim ``(node, attempt)`` delivered; False when that claim is no longer current."""
    return await _finish(conn, row_id, node, attempt, DeliveryState.DELIVERED, status, None)


async def record_dead(
    conn: Connection, row_id: UUID, node: str, attempt: int, status: int | None, error: str
) -> bool:
    """Give the claim ``(node, attempt)`` up for good; False when that claim is no longer current."""
    return await _finish(conn, row_id, node, attempt, DeliveryState.DEAD, status, error)


async def record_retry(
    conn: Connection,
    row_id: UUID,
    node: str,
    attempt: int,
    status: int | None,
    error: str,
    delay_s: float,
) -> bool:
    """Put the claim ``(node, attempt)`` back as pending, due in ``delay_s``; False when not current."""
    result = await conn.execute(
        """UPDATE callback_deliveries
              SET state = 'pending', lease_until = NULL, next_attempt_at = now() + make_interval(secs => $5),
                  last_status = $4, last_error = $6, updated_at = now()
            WHERE id = $1 AND state = 'delivering' AND claimed_by = $2 AND attempts = $3""",
        row_id,
        node,
        attempt,
        status,
        delay_s,
        error[:MAX_ERROR_LENGTH],
    )
    return _updated(result)


async def release(conn: Connection, row_id: UUID, node: str, attempt: int) -> bool:
    """Hand back a claim a stopping dispatcher could not finish: pending and due now (the attempt counts)."""
    result = await conn.execute(
        """UPDATE callback_deliveries
              SET state = 'pending', lease_until = NULL, next_attempt_at = now(),
                  last_error = 'interrupted', updated_at = now()
            WHERE id = $1 AND state = 'delivering' AND claimed_by = $2 AND attempts = $3""",
        row_id,
        node,
        attempt,
    )
    return _updated(result)


async def seconds_until_due(conn: Connection) -> float | None:
    """Seconds until the next pending row is due or the next lease runs out (≤ 0: now); None: nothing."""
    value: float | None = await conn.fetchval(
        """SELECT EXTRACT(EPOCH FROM least(
                      (SELECT min(next_attempt_at) FROM callback_deliveries WHERE state = 'pending'),
                      (SELECT min(lease_until) FROM callback_deliveries WHERE state = 'delivering'))
                  - now())::float8"""
    )
    return value


async def get_delivery(conn: Connection, row_id: UUID) -> DeliveryRow:
    """The row with ``row_id``; ``NotFoundError`` when there is none."""
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM callback_deliveries WHERE id = $1", row_id)
    if row is None:
        raise NotFoundError(f"callback delivery {row_id} not found")
    return _row(row)


async def list_for_operation(conn: Connection, operation_id: UUID) -> list[DeliveryRow]:
    """Every callback of an operation, oldest first."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM callback_deliveries WHERE operation_id = $1 ORDER BY created_at, id",
        operation_id,
    )
    return [_row(row) for row in rows]


async def purge_finished(conn: Connection, older_than_s: float, limit: int = 1000) -> int:
    """Delete up to ``limit`` delivered/dead rows finished more than ``older_than_s`` ago; how many."""
    result = await conn.execute(
        """DELETE FROM callback_deliveries WHERE id IN (
               SELECT id FROM callback_deliveries
                WHERE finished_at < now() - make_interval(secs => $1)
                LIMIT $2 FOR UPDATE SKIP LOCKED)""",
        older_than_s,
        limit,
    )
    return int(result.split()[-1])


async def _finish(
    conn: Connection,
    row_id: UUID,
    node: str,
    attempt: int,
    state: DeliveryState,
    status: int | None,
    error: str | None,
) -> bool:
    result = await conn.execute(
        """UPDATE callback_deliveries
              SET state = $4, lease_until = NULL, finished_at = now(), last_status = $5,
                  last_error = $6, updated_at = now()
            WHERE id = $1 AND state = 'delivering' AND claimed_by = $2 AND attempts = $3""",
        row_id,
        node,
        attempt,
        state.value,
        status,
        error[:MAX_ERROR_LENGTH] if error is not None else None,
    )
    return _updated(result)


def _updated(result: str) -> bool:
    return result.split()[-1] != "0"


def _qualified(alias: str) -> str:
    return ", ".join(
        f"{alias}.payload::text AS payload" if c.startswith("payload") else f"{alias}.{c}"
        for c in COLUMNS.split(", ")
    )


def _row(row: asyncpg.Record) -> DeliveryRow:
    values: dict[str, Any] = dict(row)
    values["state"] = DeliveryState(values["state"])
    return DeliveryRow(**values)


def payload_text(payload: dict[str, Any]) -> str:
    """The JSON text stored for a payload (compact; ``ValueError`` for what JSON cannot carry)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
