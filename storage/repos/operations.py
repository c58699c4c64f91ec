"""Operations repository: signing operations, their items, and the leases of the workers driving them.

Tables come from ``migrations/0005_operations.sql`` (items' co-signatures:
``0008_cosign_items.sql``). Every function is a unit of work (or a step of one) for
``Database.run``: ``fn(conn, ...)``. States travel as plain strings here; the state machine
(which transition is allowed when) belongs to ``actors.operations``. Every transition is a guarded
``UPDATE ... WHERE state = <expected>`` that returns the new row, or None when the guard failed (the
row moved meanwhile, or is gone): the caller re-reads and decides.

Durations (lease, retention) are passed in seconds and added to the database's ``now()``, so every
worker measures them on one clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from storage.database import Connection

OPERATION_COLUMNS = (
    "id, user_id, client_id, type, format, detached, certificate_id, digest_algorithm, state, policy, "
    "callback_url, item_count, created_at, expires_at, updated_at, decided_by_device, decided_at, "
    "finished_at, retain_until, error, error_detail, owner_node, lease_until"
)
ITEM_COLUMNS = "idx, name, input, digest, result, error_code, error_detail"

LIVE_STATES = ("created", "awaiting_confirmation", "confirmed", "executing")
"""States of an operation that is not finished (someone must drive it)."""

_FINISH = "finished_at = now(), retain_until = now() + make_interval(secs => {retain})"
_LEASE = "owner_node = {node}, lease_until = now() + make_interval(secs => {lease})"
_DROP_INPUTS = """UPDATE operation_items AS i SET document = NULL, preview = NULL FROM op
                   WHERE i.operation_id = op.id AND (i.document IS NOT NULL OR i.preview IS NOT NULL)"""
"""A CTE step after ``op`` (a finishing UPDATE): the finished operation keeps no documents or previews."""


@dataclass(frozen=True, slots=True)
class OperationRow:
    """One ``operations`` row."""

    id: UUID
    """Operation id."""
    user_id: UUID
    """Owner (whose certificate signs)."""
    client_id: str | None
    """OAuth2 client that created it, if any."""
    type: str
    """``sign``."""
    format: str
    """``raw`` or ``cades-bes``."""
    detached: bool
    """CAdES: content left outside the signature."""
    certificate_id: UUID
    """The signing certificate."""
    digest_algorithm: str
    """Name of the digest the item digests use (``streebog256`` ...)."""
    state: str
    """State machine state."""
    policy: str
    """``none`` or ``device``."""
    callback_url: str | None
    """Where the result is announced (asynchronous mode)."""
    item_count: int
    """Number of items."""
    created_at: datetime
    """Creation time."""
    expires_at: datetime
    """End of the confirmation window."""
    updated_at: datetime
    """Last transition."""
    decided_by_device: UUID | None
    """The device that confirmed or declined."""
    decided_at: datetime | None
    """When it was confirmed or declined."""
    finished_at: datetime | None
    """When it reached a final state."""
    retain_until: datetime | None
    """When the finished operation and its results are deleted."""
    error: str | None
    """Operation-level error code (failed, expired ...)."""
    error_detail: str | None
    """Human detail of ``error``."""
    owner_node: UUID | None
    """Worker driving it while live."""
    lease_until: datetime | None
    """Until when that worker's claim holds."""


@dataclass(frozen=True, slots=True)
class NewItem:
    """One item to insert."""

    idx: int
    """Position in the operation (0-based)."""
    name: str
    """Document name."""
    input: str
    """``content``, ``hash`` or ``signature`` (a co-signature)."""
    digest: bytes
    """The document digest."""
    document: bytes | None
    """The content, when it must be kept until execution (attached CAdES), or the existing CMS of a
    co-signature (until execution)."""
    preview: str | None
    """Text shown to devices."""


@dataclass(frozen=True, slots=True)
class NewOperation:
    """An operation to insert (its state is already past ``created``)."""

    id: UUID
    """Operation id (chosen by the caller)."""
    user_id: UUID
    """Owner."""
    client_id: str | None
    """Creating OAuth2 client."""
    format: str
    """``raw`` or ``cades-bes``."""
    detached: bool
    """CAdES detached."""
    certificate_id: UUID
    """Signing certificate."""
    digest_algorithm: str
    """Digest name."""
    state: str
    """``awaiting_confirmation`` or ``executing``."""
    policy: str
    """``none`` or ``device``."""
    callback_url: str | None
    """Asynchronous mode target."""
    ttl_s: float
    """Seconds until ``expires_at``."""
    owner_node: UUID
    """The creating worker (it drives the operation)."""
    lease_s: float
    """Length of its lease."""


@dataclass(frozen=True, slots=True)
class ItemRow:
    """One ``operation_items`` row without its document and preview."""

    idx: int
    """Position."""
    name: str
    """Document name."""
    input: str
    """``content``, ``hash`` or ``signature`` (a co-signature)."""
    digest: bytes
    """Document digest."""
    result: bytes | None
    """Signature (raw) or DER ContentInfo (CAdES), once executed."""
    error_code: str | None
    """Why this item failed."""
    error_detail: str | None
    """Human detail of ``error_code``."""


@dataclass(frozen=True, slots=True)
class NoticeRow:
    """What a device is shown of one item."""

    idx: int
    """Position."""
    name: str
    """Document name."""
    digest: bytes
    """Document digest."""
    preview: str | None
    """Text preview."""


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The outcome of one item, to store."""

    idx: int
    """Position."""
    result: bytes | None
    """The signature, or None when the item failed."""
    error_code: str | None = None
    """Why it failed."""
    error_detail: str | None = None
    """Detail of the failure."""


# --- creation and reads ----------------------------------------------------------------------------


async def insert_operation(conn: Connection, op: NewOperation, items: Sequence[NewItem]) -> OperationRow:
    """Insert an operation and its items in one statement; return the row."""
    return (await insert_operations(conn, [(op, items)]))[0]


async def insert_operations(
    conn: Connection, ops: Sequence[tuple[NewOperation, Sequence[NewItem]]]
) -> list[OperationRow]:
    """Insert operations and their items in one statement; their rows, in the order given."""
    items = [(op.id, item) for op, op_items in ops for item in op_items]
    # The items' CTE runs with the operations'; the foreign key is checked at the statement's end.
    rows = await conn.fetch(
        f"""WITH op AS (
                INSERT INTO operations (id, user_id, client_id, format, detached, certificate_id,
                                        digest_algorithm, state, policy, callback_url, item_count,
                                        expires_at, owner_node, lease_until)
                SELECT n.id, n.user_id, n.client_id, n.format, n.detached, n.certificate_id,
                       n.digest_algorithm, n.state, n.policy, n.callback_url, n.item_count,
                       now() + make_interval(secs => n.ttl_s), n.owner_node,
                       now() + make_interval(secs => n.lease_s)
                  FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::boolean[], $6::uuid[],
                              $7::text[], $8::text[], $9::text[], $10::text[], $11::integer[],
                              $12::float8[], $13::uuid[], $14::float8[])
                       AS n(id, user_id, client_id, format, detached, certificate_id, digest_algorithm,
                            state, policy, callback_url, item_count, ttl_s, owner_node, lease_s)
                RETURNING {OPERATION_COLUMNS}),
            items AS (
                INSERT INTO operation_items (operation_id, idx, name, input, digest, document, preview)
                SELECT * FROM unnest($15::uuid[], $16::integer[], $17::text[], $18::text[], $19::bytea[],
                                     $20::bytea[], $21::text[]))
            SELECT * FROM op""",
        *new_operation_arrays(ops),
        [float(op.ttl_s) for op, _ in ops],
        [op.owner_node for op, _ in ops],
        [float(op.lease_s) for op, _ in ops],
        [op_id for op_id, _ in items],
        [item.idx for _, item in items],
        [item.name for _, item in items],
        [item.input for _, item in items],
        [item.digest for _, item in items],
        [item.document for _, item in items],
        [item.preview for _, item in items],
    )
    return rows_in_order(rows, [op.id for op, _ in ops])


def new_operation_arrays(ops: Sequence[tuple[NewOperation, Sequence[NewItem]]]) -> list[list[Any]]:
    """Column arrays ``id … item_count`` of new operations, for ``unnest`` (in that order); each
    insert adds its own deadline columns after them."""
    return [
        [op.id for op, _ in ops],
        [op.user_id for op, _ in ops],
        [op.client_id for op, _ in ops],
        [op.format for op, _ in ops],
        [op.detached for op, _ in ops],
        [op.certificate_id for op, _ in ops],
        [op.digest_algorithm for op, _ in ops],
        [op.state for op, _ in ops],
        [op.policy for op, _ in ops],
        [op.callback_url for op, _ in ops],
        [len(op_items) for _, op_items in ops],
    ]


def rows_in_order(rows: Sequence[asyncpg.Record], ids: Sequence[UUID]) -> list[OperationRow]:
    """``INSERT … RETURNING`` rows (no set order) as operation rows in the order of ``ids``."""
    by_id = {row["id"]: _operation(row) for row in rows}
    return [by_id[op_id] for op_id in ids]


async def get_operation(conn: Connection, op_id: UUID) -> OperationRow | None:
    """The operation ``op_id``, or None."""
    row = await conn.fetchrow(f"SELECT {OPERATION_COLUMNS} FROM operations WHERE id = $1", op_id)
    return None if row is None else _operation(row)


async def get_items(conn: Connection, op_id: UUID) -> list[ItemRow]:
    """The items of ``op_id`` in order (results included, documents not)."""
    rows = await conn.fetch(
        f"SELECT {ITEM_COLUMNS} FROM operation_items WHERE operation_id = $1 ORDER BY idx", op_id
    )
    return [ItemRow(**dict(row)) for row in rows]


async def get_operation_with_items(
    conn: Connection, op_id: UUID
) -> tuple[OperationRow, list[ItemRow]] | None:
    """The operation and its items in one unit, or None."""
    op = await get_operation(conn, op_id)
    if op is None:
        return None
    return op, await get_items(conn, op_id)


async def get_documents(conn: Connection, op_id: UUID) -> dict[int, bytes]:
    """The stored documents of ``op_id`` by item index (only items that still have one)."""
    rows = await conn.fetch(
        "SELECT idx, document FROM operation_items WHERE operation_id = $1 AND document IS NOT NULL",
        op_id,
    )
    return {row["idx"]: bytes(row["document"]) for row in rows}


async def get_notice_items(conn: Connection, op_id: UUID) -> list[NoticeRow]:
    """What devices are shown of ``op_id``'s items, in order."""
    rows = await conn.fetch(
        "SELECT idx, name, digest, preview FROM operation_items WHERE operation_id = $1 ORDER BY idx",
        op_id,
    )
    return [NoticeRow(**dict(row)) for row in rows]


async def list_operations(
    conn: Connection,
    user_id: UUID,
    *,
    limit: int,
    before: tuple[datetime, UUID] | None = None,
) -> list[OperationRow]:
    """Up to ``limit`` operations of ``user_id``, newest first, strictly older than ``before``."""
    created, op_id = before if before is not None else (None, None)
    rows = await conn.fetch(
        f"""SELECT {OPERATION_COLUMNS} FROM operations
            WHERE user_id = $1 AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
            ORDER BY created_at DESC, id DESC LIMIT $2""",
        user_id,
        limit,
        created,
        op_id,
    )
    return [_operation(row) for row in rows]


async def awaiting_for_user(conn: Connection, user_id: UUID) -> list[tuple[OperationRow, list[NoticeRow]]]:
    """``user_id``'s operations awaiting confirmation and not expired, oldest first, with their items."""
    rows = await conn.fetch(
        f"""SELECT {OPERATION_COLUMNS} FROM operations
            WHERE user_id = $1 AND state = 'awaiting_confirmation' AND expires_at > now()
            ORDER BY created_at, id""",
        user_id,
    )
    if not rows:
        return []
    items = await conn.fetch(
        """SELECT operation_id, idx, name, digest, preview FROM operation_items
            WHERE operation_id = ANY($1::uuid[]) ORDER BY operation_id, idx""",
        [row["id"] for row in rows],
    )
    by_op: dict[UUID, list[NoticeRow]] = {}
    for item in items:
        by_op.setdefault(item["operation_id"], []).append(
            NoticeRow(item["idx"], item["name"], item["digest"], item["preview"])
        )
    return [(_operation(row), by_op.get(row["id"], [])) for row in rows]


# --- transitions -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecisionIn:
    """One device decision to apply (``decide_many``)."""

    op_id: UUID
    """The operation."""
    user_id: UUID
    """Whose decision (must own the operation)."""
    device_id: UUID
    """The deciding device."""
    confirm: bool
    """Confirm, or decline."""
    retain_s: float
    """Results TTL of a declined (finished) operation."""
    executor: UUID | None = None
    """A worker that goes on to execute a confirmation at once if it holds the lease (see ``decide``)."""
    lease_s: float = 0.0
    """The executor's renewed lease."""


async def decide(
    conn: Connection,
    op_id: UUID,
    *,
    user_id: UUID,
    device_id: UUID,
    confirm: bool,
    retain_s: float,
    executor: UUID | None = None,
    lease_s: float = 0.0,
) -> OperationRow | None:
    """awaiting_confirmation → confirmed | declined, if still awaiting, the user's, and not expired.

    A decline finishes the operation: documents and previews are deleted at once. A confirmation
    with an ``executor`` that holds the operation's lease goes on to ``executing`` in the same
    statement (confirmed → executing, its lease renewed for ``lease_s``): the driver that applies the
    decision starts signing at once, and both transitions are stored before anyone is answered.
    Held by another worker, the row stops at ``confirmed`` as without ``executor``.
    """
    decision = DecisionIn(op_id, user_id, device_id, confirm, retain_s, executor, lease_s)
    return (await decide_many(conn, [decision]))[0]


async def decide_many(conn: Connection, decisions: Sequence[DecisionIn]) -> list[OperationRow | None]:
    """``decide`` for each decision, in one statement; the new rows (None: refused), in order.

    Of several decisions for one operation only the first is tried (the others are refused, as they
    would be after it).
    """
    first: dict[UUID, DecisionIn] = {}
    for decision in decisions:
        first.setdefault(decision.op_id, decision)
    batch = list(first.values())
    rows = await conn.fetch(
        f"""WITH op AS (
                UPDATE operations AS o
                   SET state = CASE WHEN NOT d.confirm THEN 'declined'
                                    WHEN o.owner_node = d.executor THEN 'executing'
                                    ELSE 'confirmed' END,
                       lease_until = CASE WHEN d.confirm AND o.owner_node = d.executor
                                          THEN now() + make_interval(secs => d.lease_s)
                                          ELSE o.lease_until END,
                       decided_by_device = d.device_id, decided_at = now(), updated_at = now(),
                       error = CASE WHEN d.confirm THEN NULL ELSE 'declined' END,
                       error_detail = CASE WHEN d.confirm THEN NULL
                                           ELSE 'the user declined the operation on a device' END,
                       finished_at = CASE WHEN d.confirm THEN NULL ELSE now() END,
                       retain_until = CASE WHEN d.confirm THEN NULL
                                           ELSE now() + make_interval(secs => d.retain_s) END
                  FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::boolean[], $5::float8[], $6::uuid[],
                              $7::float8[])
                       AS d(op_id, user_id, device_id, confirm, retain_s, executor, lease_s)
                 WHERE o.id = d.op_id AND o.user_id = d.user_id AND o.state = 'awaiting_confirmation'
                   AND o.expires_at > now()
             RETURNING {_qualified("o")}),
            inputs AS (
                UPDATE operation_items AS i SET document = NULL, preview = NULL FROM op
                 WHERE op.state = 'declined' AND i.operation_id = op.id
                   AND (i.document IS NOT NULL OR i.preview IS NOT NULL))
            SELECT * FROM op""",
        [d.op_id for d in batch],
        [d.user_id for d in batch],
        [d.device_id for d in batch],
        [d.confirm for d in batch],
        [float(d.retain_s) for d in batch],
        [d.executor for d in batch],
        [float(d.lease_s) for d in batch],
    )
    by_id = {row["id"]: _operation(row) for row in rows}
    return [by_id.get(d.op_id) if first[d.op_id] is d else None for d in decisions]


async def expire(conn: Connection, op_id: UUID, *, retain_s: float) -> OperationRow | None:
    """created | awaiting_confirmation → expired (the caller's timer decided the TTL ran out)."""
    row = await conn.fetchrow(
        f"""WITH op AS (
                UPDATE operations
                   SET state = 'expired', updated_at = now(), error = 'expired',
                       error_detail = 'the operation was not confirmed in time', {_FINISH.format(retain="$2")}
                 WHERE id = $1 AND state IN ('created', 'awaiting_confirmation')
             RETURNING {OPERATION_COLUMNS}),
            inputs AS ({_DROP_INPUTS})
            SELECT * FROM op""",
        op_id,
        float(retain_s),
    )
    return None if row is None else _operation(row)


async def start_execution(
    conn: Connection, op_id: UUID, *, node: UUID, lease_s: float
) -> OperationRow | None:
    """confirmed → executing under ``node``'s lease; one ``node`` already executes is returned as is."""
    row = await conn.fetchrow(
        f"""UPDATE operations
               SET state = 'executing',
                   updated_at = CASE WHEN state = 'executing' THEN updated_at ELSE now() END,
                   {_LEASE.format(node="$2", lease="$3")}
             WHERE id = $1 AND (state = 'confirmed' OR (state = 'executing' AND owner_node = $2))
         RETURNING {OPERATION_COLUMNS}""",
        op_id,
        node,
        float(lease_s),
    )
    return None if row is None else _operation(row)


@dataclass(frozen=True, slots=True)
class FinishIn:
    """The outcome of one execution to store (``finish_many``)."""

    op_id: UUID
    """The operation."""
    node: UUID
    """The worker that executed it (must still hold it)."""
    state: str
    """``completed`` or ``failed``."""
    error: str | None
    """Operation-level error code."""
    error_detail: str | None
    """Its detail."""
    results: Sequence[ItemResult]
    """Per-item outcomes."""
    retain_s: float
    """Results TTL."""


async def finish_execution(
    conn: Connection,
    op_id: UUID,
    *,
    node: UUID,
    state: str,
    error: str | None,
    error_detail: str | None,
    results: Sequence[ItemResult],
    retain_s: float,
) -> OperationRow | None:
    """executing → completed | failed with per-item results, if ``node`` still holds it.

    One statement: the items (results written, documents and previews deleted) are updated only
    when the operation's guarded update took the row.
    """
    finish = FinishIn(op_id, node, state, error, error_detail, results, retain_s)
    return (await finish_many(conn, [finish]))[0]


async def finish_many(conn: Connection, finishes: Sequence[FinishIn]) -> list[OperationRow | None]:
    """``finish_execution`` for each, in one statement; the new rows (None: not held), in order."""
    for finish in finishes:
        if finish.state not in ("completed", "failed"):
            raise ValueError(f"an execution finishes as completed or failed, not {finish.state!r}")
    first: dict[UUID, FinishIn] = {}
    for finish in finishes:
        first.setdefault(finish.op_id, finish)
    batch = list(first.values())
    results = [(f.op_id, r) for f in batch for r in f.results]
    rows = await conn.fetch(
        f"""WITH op AS (
                UPDATE operations AS o
                   SET state = f.state, error = f.error, error_detail = f.error_detail, updated_at = now(),
                       owner_node = NULL, lease_until = NULL, finished_at = now(),
                       retain_until = now() + make_interval(secs => f.retain_s)
                  FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::float8[])
                       AS f(op_id, node, state, error, error_detail, retain_s)
                 WHERE o.id = f.op_id AND o.state = 'executing' AND o.owner_node = f.node
             RETURNING {_qualified("o")}),
            items AS (
                UPDATE operation_items AS i
                   SET result = u.result, error_code = u.code, error_detail = u.detail,
                       document = NULL, preview = NULL
                  FROM op, unnest($7::uuid[], $8::integer[], $9::bytea[], $10::text[], $11::text[])
                           AS u(op_id, idx, result, code, detail)
                 WHERE u.op_id = op.id AND i.operation_id = op.id AND i.idx = u.idx)
            SELECT * FROM op""",
        [f.op_id for f in batch],
        [f.node for f in batch],
        [f.state for f in batch],
        [f.error for f in batch],
        [f.error_detail for f in batch],
        [float(f.retain_s) for f in batch],
        [op_id for op_id, _ in results],
        [r.idx for _, r in results],
        [r.result for _, r in results],
        [r.error_code for _, r in results],
        [r.error_detail for _, r in results],
    )
    by_id = {row["id"]: _operation(row) for row in rows}
    return [by_id.get(f.op_id) if first[f.op_id] is f else None for f in finishes]


async def delete_operation(conn: Connection, op_id: UUID) -> str | None:
    """Delete ``op_id`` unless it is executing; its state before, ``'executing'`` if refused, None if gone."""
    state: str | None = await conn.fetchval("SELECT state FROM operations WHERE id = $1 FOR UPDATE", op_id)
    if state is None or state == "executing":
        return state
    await conn.execute("DELETE FROM operations WHERE id = $1", op_id)
    return state


# --- ownership and housekeeping --------------------------------------------------------------------


async def claim_orphans(conn: Connection, *, node: UUID, lease_s: float, limit: int) -> list[OperationRow]:
    """Take over up to ``limit`` live operations whose lease lapsed (oldest first); the rows taken.

    ``FOR UPDATE SKIP LOCKED``: workers claiming at the same moment take disjoint rows.
    """
    rows = await conn.fetch(
        f"""UPDATE operations SET {_LEASE.format(node="$1", lease="$2")}
             WHERE id IN (SELECT id FROM operations
                           WHERE state IN ('created', 'awaiting_confirmation', 'confirmed', 'executing')
                             AND (lease_until IS NULL OR lease_until < now())
                           ORDER BY lease_until NULLS FIRST LIMIT $3
                             FOR UPDATE SKIP LOCKED)
         RETURNING {OPERATION_COLUMNS}""",
        node,
        float(lease_s),
        limit,
    )
    return [_operation(row) for row in rows]


async def claim(conn: Connection, op_id: UUID, *, node: UUID, lease_s: float) -> OperationRow | None:
    """Take over one live operation if nobody holds it (or ``node`` already does); the row, or None."""
    row = await conn.fetchrow(
        f"""UPDATE operations SET {_LEASE.format(node="$2", lease="$3")}
             WHERE id = $1 AND state IN ('created', 'awaiting_confirmation', 'confirmed', 'executing')
               AND (owner_node = $2 OR lease_until IS NULL OR lease_until < now())
         RETURNING {OPERATION_COLUMNS}""",
        op_id,
        node,
        float(lease_s),
    )
    return None if row is None else _operation(row)


async def renew_leases(conn: Connection, *, node: UUID, op_ids: Sequence[UUID], lease_s: float) -> set[UUID]:
    """Extend ``node``'s lease on the live operations of ``op_ids`` it still holds; those ids."""
    rows = await conn.fetch(
        """UPDATE operations SET lease_until = now() + make_interval(secs => $3)
            WHERE id = ANY($2::uuid[]) AND owner_node = $1
              AND state IN ('created', 'awaiting_confirmation', 'confirmed', 'executing')
        RETURNING id""",
        node,
        list(op_ids),
        float(lease_s),
    )
    return {row["id"] for row in rows}


async def release_leases(conn: Connection, *, node: UUID) -> int:
    """Give up every lease ``node`` holds (a stopping worker): other workers claim them at once."""
    status: str = await conn.execute(
        "UPDATE operations SET owner_node = NULL, lease_until = NULL WHERE owner_node = $1", node
    )
    return int(status.rsplit(" ", 1)[1])


async def purge_retained(conn: Connection, *, limit: int) -> int:
    """Delete up to ``limit`` finished operations past their retention (results TTL); how many."""
    status: str = await conn.execute(
        """DELETE FROM operations WHERE id IN (
               SELECT id FROM operations WHERE retain_until < now() ORDER BY retain_until LIMIT $1)""",
        limit,
    )
    return int(status.rsplit(" ", 1)[1])


async def notify(conn: Connection, channel: str, payload: str) -> None:
    """``pg_notify`` inside the unit of work: delivered when (and only if) it commits."""
    await conn.execute("SELECT pg_notify($1, $2)", channel, payload)


async def notify_each(conn: Connection, channel: str, payloads: Sequence[str]) -> None:
    """``notify`` for each of ``payloads``, in one statement."""
    await conn.execute("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", channel, list(payloads))


def _qualified(alias: str) -> str:
    """``OPERATION_COLUMNS`` qualified with a table alias (an UPDATE ... FROM has two sources)."""
    return ", ".join(f"{alias}.{column.strip()}" for column in OPERATION_COLUMNS.split(","))


def _operation(row: asyncpg.Record | None) -> OperationRow:
    assert row is not None  # INSERT/UPDATE ... RETURNING of an existing row
    return OperationRow(**dict(row))
