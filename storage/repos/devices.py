"""Devices repository: confirmation devices and the notices pushed to them.

Tables come from ``migrations/0004_devices.sql``. Every function is a unit of work (or a step of
one) for ``Database.run``: ``fn(conn, ...)``. The secret is stored sealed: this module never sees it
in clear (``actors.sessions.sealing`` seals and opens it). Notices are stored as the JSON text the
sessions layer made; this module does not interpret them.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from storage.database import Connection
from storage.errors import NotFoundError

DEVICE_COLUMNS = "id, user_id, name, status, counter, created_at, last_seen_at, activated_at, revoked_at"
NOTICE_COLUMNS = "op_id, user_id, owner_node, notice::text AS notice, expires_at, pushed_at"


class DeviceStatus(enum.StrEnum):
    """Life of a device."""

    PENDING = "pending"
    """Enrolled; its QR code has not been used to authenticate yet."""
    ACTIVE = "active"
    """Authenticated at least once."""
    REVOKED = "revoked"
    """Revoked by its owner: refused for good."""


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """One ``devices`` row without its secret."""

    id: UUID
    """Device id (chosen by the caller: the sealed secret is bound to it)."""
    user_id: UUID
    """Owner."""
    name: str
    """Name the user gave it."""
    status: DeviceStatus
    """pending, active or revoked."""
    counter: int
    """Successful authentications so far (the latest one owns the live connection)."""
    created_at: datetime
    """Enrolment time."""
    last_seen_at: datetime | None
    """Last authentication or disconnection."""
    activated_at: datetime | None
    """First successful authentication."""
    revoked_at: datetime | None
    """Revocation time."""


@dataclass(frozen=True, slots=True)
class DeviceSecretRow:
    """What authenticating a device needs."""

    id: UUID
    """Device id."""
    user_id: UUID
    """Owner."""
    status: DeviceStatus
    """pending, active or revoked."""
    secret_sealed: bytes
    """The sealed secret (``actors.sessions.sealing``)."""


@dataclass(frozen=True, slots=True)
class NoticeRow:
    """One ``device_notices`` row."""

    op_id: UUID
    """The operation."""
    user_id: UUID
    """Its owner."""
    owner_node: UUID
    """Node id of the worker whose sink takes the decisions."""
    notice: str
    """The notice as JSON text (made and read by ``actors.sessions``)."""
    expires_at: datetime
    """When the operation expires."""
    pushed_at: datetime
    """Last push."""


# --- devices -------------------------------------------------------------------------------------


async def insert_device(
    conn: Connection, device_id: UUID, user_id: UUID, name: str, secret_sealed: bytes
) -> DeviceRow:
    """Insert a pending device; an unknown user raises ``IntegrityError`` from ``Database.run``."""
    row = await conn.fetchrow(
        f"""INSERT INTO devices (id, user_id, name, secret_sealed) VALUES ($1, $2, $3, $4)
            RETURNING {DEVICE_COLUMNS}""",
        device_id,
        user_id,
        name,
        secret_sealed,
    )
    return _device(row)


async def get_device(conn: Connection, device_id: UUID) -> DeviceRow:
    """The device with ``device_id``; ``NotFoundError`` when there is none."""
    row = await conn.fetchrow(f"SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1", device_id)
    if row is None:
        raise NotFoundError(f"device {device_id} not found")
    return _device(row)


async def list_devices(conn: Connection, user_id: UUID) -> list[DeviceRow]:
    """Every device of ``user_id``, oldest first (revoked ones included)."""
    rows = await conn.fetch(
        f"SELECT {DEVICE_COLUMNS} FROM devices WHERE user_id = $1 ORDER BY created_at, id", user_id
    )
    return [_device(row) for row in rows]


async def get_device_secret(conn: Connection, device_id: UUID) -> DeviceSecretRow | None:
    """The sealed secret and status of a device, or None."""
    row = await conn.fetchrow(
        "SELECT id, user_id, status, secret_sealed FROM devices WHERE id = $1", device_id
    )
    if row is None:
        return None
    return DeviceSecretRow(row["id"], row["user_id"], DeviceStatus(row["status"]), row["secret_sealed"])


async def record_authentication(conn: Connection, device_id: UUID) -> int | None:
    """Count a successful authentication, activating a pending device; the new counter.

    None when the device is gone or was revoked meanwhile (the authentication must then fail).
    """
    counter: int | None = await conn.fetchval(
        """UPDATE devices
              SET counter = counter + 1, last_seen_at = now(), status = 'active',
                  activated_at = coalesce(activated_at, now())
            WHERE id = $1 AND status <> 'revoked'
        RETURNING counter""",
        device_id,
    )
    return counter


async def touch_device(conn: Connection, device_id: UUID) -> None:
    """Set ``last_seen_at`` to now (a connection ended)."""
    await conn.execute("UPDATE devices SET last_seen_at = now() WHERE id = $1", device_id)


async def revoke_device(conn: Connection, device_id: UUID) -> DeviceRow:
    """Revoke a device (idempotent: a revoked one stays as it was); ``NotFoundError`` if unknown."""
    row = await conn.fetchrow(
        f"""UPDATE devices SET status = 'revoked', revoked_at = coalesce(revoked_at, now())
            WHERE id = $1 RETURNING {DEVICE_COLUMNS}""",
        device_id,
    )
    if row is None:
        raise NotFoundError(f"device {device_id} not found")
    return _device(row)


def _device(row: asyncpg.Record | None) -> DeviceRow:
    assert row is not None  # INSERT/UPDATE ... RETURNING of an existing row
    values = dict(row)
    values["status"] = DeviceStatus(values["status"])
    return DeviceRow(**values)


# --- notices -------------------------------------------------------------------------------------


async def put_notice(
    conn: Connection, op_id: UUID, user_id: UUID, owner_node: UUID, notice: str, expires_at: datetime
) -> None:
    """Insert or replace the notice of ``op_id`` (a re-push moves its ownership to ``owner_node``)."""
    await conn.execute(
        """INSERT INTO device_notices (op_id, user_id, owner_node, notice, expires_at)
           VALUES ($1, $2, $3, $4::jsonb, $5)
           ON CONFLICT (op_id) DO UPDATE
              SET owner_node = excluded.owner_node, notice = excluded.notice,
                  expires_at = excluded.expires_at, pushed_at = now()
            WHERE device_notices.user_id = excluded.user_id""",
        op_id,
        user_id,
        owner_node,
        notice,
        expires_at,
    )


@dataclass(frozen=True, slots=True)
class NoticeIn:
    """A notice to store (``put_notices``)."""

    op_id: UUID
    """The operation."""
    user_id: UUID
    """Whose devices."""
    owner_node: UUID
    """The pushing worker (decisions go there)."""
    notice: str
    """The notice as JSON."""
    expires_at: datetime
    """When it stops being shown."""


async def put_notices(
    conn: Connection, notices: Sequence[NoticeIn], *, channel: str, payloads: Sequence[str]
) -> None:
    """``put_notice`` for each (the last of one op id wins), then ``pg_notify(channel, p)`` for each
    of ``payloads``: one statement."""
    last = {notice.op_id: notice for notice in notices}
    batch = list(last.values())
    await conn.execute(
        """WITH put AS (
               INSERT INTO device_notices (op_id, user_id, owner_node, notice, expires_at)
               SELECT op_id, user_id, owner_node, notice::jsonb, expires_at
                 FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::timestamptz[])
                      AS n(op_id, user_id, owner_node, notice, expires_at)
               ON CONFLICT (op_id) DO UPDATE
                  SET owner_node = excluded.owner_node, notice = excluded.notice,
                      expires_at = excluded.expires_at, pushed_at = now()
                WHERE device_notices.user_id = excluded.user_id)
           SELECT pg_notify($6, p) FROM unnest($7::text[]) AS p""",
        [n.op_id for n in batch],
        [n.user_id for n in batch],
        [n.owner_node for n in batch],
        [n.notice for n in batch],
        [n.expires_at for n in batch],
        channel,
        list(payloads),
    )


async def get_notice(conn: Connection, op_id: UUID) -> NoticeRow | None:
    """The notice of ``op_id``, if it was pushed and not withdrawn."""
    row = await conn.fetchrow(f"SELECT {NOTICE_COLUMNS} FROM device_notices WHERE op_id = $1", op_id)
    return None if row is None else NoticeRow(**dict(row))


async def delete_notice(conn: Connection, op_id: UUID) -> UUID | None:
    """Remove the notice of ``op_id``; the user it belonged to, or None when there was none."""
    user_id: UUID | None = await conn.fetchval(
        "DELETE FROM device_notices WHERE op_id = $1 RETURNING user_id", op_id
    )
    return user_id


async def delete_notices(
    conn: Connection, op_ids: Sequence[UUID], *, channel: str, payloads: Sequence[str]
) -> None:
    """Remove the notices of ``op_ids``, then ``pg_notify(channel, p)`` for each of ``payloads``: one
    statement."""
    await conn.execute(
        """WITH gone AS (DELETE FROM device_notices WHERE op_id = ANY($1::uuid[]))
           SELECT pg_notify($2, p) FROM unnest($3::text[]) AS p""",
        list(op_ids),
        channel,
        list(payloads),
    )


async def live_notices(conn: Connection, user_id: UUID) -> list[NoticeRow]:
    """The unexpired notices of ``user_id``, oldest push first."""
    rows = await conn.fetch(
        f"""SELECT {NOTICE_COLUMNS} FROM device_notices
            WHERE user_id = $1 AND expires_at > now() ORDER BY pushed_at, op_id""",
        user_id,
    )
    return [NoticeRow(**dict(row)) for row in rows]


async def notice_owners(conn: Connection, op_ids: list[UUID]) -> dict[UUID, UUID]:
    """``op_id → owner_node`` for those of ``op_ids`` that have a notice."""
    rows = await conn.fetch(
        "SELECT op_id, owner_node FROM device_notices WHERE op_id = ANY($1::uuid[])", op_ids
    )
    return {row["op_id"]: row["owner_node"] for row in rows}


async def purge_notices(conn: Connection, before: datetime) -> int:
    """Delete notices that expired before ``before``; how many."""
    status: str = await conn.execute("DELETE FROM device_notices WHERE expires_at < $1", before)
    return int(status.rsplit(" ", 1)[1])


# --- cross-worker messages -----------------------------------------------------------------------


async def notify(conn: Connection, channel: str, payload: str) -> None:
    """``pg_notify`` inside the unit of work: delivered when (and only if) it commits."""
    await conn.execute("SELECT pg_notify($1, $2)", channel, payload)


async def notify_many(conn: Connection, signals: Sequence[tuple[str, str]]) -> list[None]:
    """A batched unit: ``pg_notify(channel, payload)`` for each pair, in one statement."""
    await conn.execute(
        "SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS t(c, p)",
        [channel for channel, _ in signals],
        [payload for _, payload in signals],
    )
    return [None for _ in signals]
