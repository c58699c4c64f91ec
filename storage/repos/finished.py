"""Operations born finished, stored many at once: the synchronous signing path's batched unit.

``insert_finished_many`` is a batched unit for ``Database.run_batched`` (``storage.group``): the
operations of every request that finished together, with all their items, go in as one statement
(each table fed from ``unnest`` of column arrays), so a group costs the same few round trips however
many requests it carries. A finished operation is born final: no lease, no owner, no documents or
previews kept.

The statement returns nothing: the rows are built here from what was inserted. So the group's times
(``created_at`` = ``updated_at`` = ``finished_at``, and the deadlines after it) are this process's
clock, one reading per group, rather than the database's ``now()``; decoding 23 returned columns per
operation cost the storage thread more than the insert itself (~20 µs per operation, measured with
groups of 7).

The unit is offloadable (``storage.offload``): ``FINISHED.prepare`` turns each operation into a
tuple of primitives (ids as bytes, the group's time as integer microseconds) and builds its row;
``write_finished`` — run by the writer process, or in process when there is none — turns the
tuples into column arrays and inserts them. The statement skips rows that exist already
(``ON CONFLICT DO NOTHING``): ids are fresh ``uuid4`` values of this worker, so an existing row can
only be this very operation, written by an attempt whose answer was lost with a dead writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from uuid import UUID

from storage.database import Connection
from storage.group import single_statement
from storage.offload import Offload, Wire, offloadable
from storage.repos.operations import ItemResult, NewItem, NewOperation, OperationRow

FINAL_STATES: Final = ("completed", "failed")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class FinishedOperation:
    """One operation signed before it was stored, with its items and their results."""

    op: NewOperation
    """The operation; ``state`` completed | failed."""
    items: Sequence[NewItem]
    """Its items (no documents or previews are kept for a finished operation)."""
    results: Sequence[ItemResult]
    """One result per item (any order; matched by ``idx``)."""
    error: str | None
    """Error code of a failed operation."""
    error_detail: str | None
    """Its explanation."""
    retain_s: float
    """How long the results are kept."""

    def __post_init__(self) -> None:
        # Checked here, not in the statement: a bad entry must fail its own caller, never its group.
        if self.op.state not in FINAL_STATES:
            raise ValueError(f"a finished operation is completed or failed, not {self.op.state!r}")


def prepare_finished(batch: Sequence[FinishedOperation]) -> tuple[list[Wire], list[OperationRow]]:
    """The wires of ``batch`` and the rows ``write_finished`` stores for them (one clock reading)."""
    now = datetime.now(UTC)
    now_us = (now - _EPOCH) // _MICROSECOND
    return [_wire(entry, now_us) for entry in batch], [_row(entry, now) for entry in batch]


@single_statement
async def write_finished(conn: Connection, wires: Sequence[Wire]) -> list[None]:
    """Insert the operations of ``wires`` with their items in one statement (existing rows are skipped)."""
    ops: list[tuple[Any, ...]] = []
    items: list[tuple[Any, ...]] = []
    for wire in wires:
        (op_id, user_id, client_id, format_, detached, certificate_id, digest_algorithm, state, policy,
         callback_url, ttl_s, error, error_detail, retain_s, now_us, op_items) = wire  # fmt: skip
        op_uuid = UUID(bytes=op_id)
        now = _EPOCH + timedelta(microseconds=now_us)
        ops.append(
            (op_uuid, UUID(bytes=user_id), client_id, format_, detached, UUID(bytes=certificate_id),
             digest_algorithm, state, policy, callback_url, len(op_items), now,
             now + timedelta(seconds=ttl_s), error, error_detail, now + timedelta(seconds=retain_s))
        )  # fmt: skip
        items.extend((op_uuid, *item) for item in op_items)
    await conn.execute(
        """WITH ops AS (
                INSERT INTO operations (id, user_id, client_id, format, detached, certificate_id,
                                        digest_algorithm, state, policy, callback_url, item_count,
                                        created_at, updated_at, finished_at, expires_at, error,
                                        error_detail, retain_until)
                SELECT id, user_id, client_id, format, detached, certificate_id, digest_algorithm, state,
                       policy, callback_url, item_count, at, at, at, expires_at, error, error_detail,
                       retain_until
                  FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::boolean[], $6::uuid[],
                              $7::text[], $8::text[], $9::text[], $10::text[], $11::integer[],
                              $12::timestamptz[], $13::timestamptz[], $14::text[], $15::text[],
                              $16::timestamptz[])
                       AS t(id, user_id, client_id, format, detached, certificate_id, digest_algorithm,
                            state, policy, callback_url, item_count, at, expires_at, error, error_detail,
                            retain_until)
                ON CONFLICT (id) DO NOTHING
                RETURNING 1)
            INSERT INTO operation_items (operation_id, idx, name, input, digest, result, error_code,
                                         error_detail)
            SELECT * FROM unnest($17::uuid[], $18::integer[], $19::text[], $20::text[], $21::bytea[],
                                 $22::bytea[], $23::text[], $24::text[])
            ON CONFLICT (operation_id, idx) DO NOTHING""",
        *_columns(ops, 16),
        *_columns(items, 8),
    )
    return [None] * len(wires)


FINISHED: Final[Offload[FinishedOperation, OperationRow]] = Offload(
    "insert_finished", prepare_finished, write_finished
)
"""``insert_finished_many`` split between the worker and the writer process."""


@single_statement
@offloadable(FINISHED)
async def insert_finished_many(conn: Connection, batch: Sequence[FinishedOperation]) -> list[OperationRow]:
    """Insert every operation of ``batch`` with its items in one statement; their rows, in order."""
    wires, rows = prepare_finished(batch)
    await write_finished(conn, wires)
    return rows


_MICROSECOND: Final = timedelta(microseconds=1)


def _wire(entry: FinishedOperation, now_us: int) -> Wire:
    """``entry`` as primitives, in ``write_finished``'s order; items carry their results."""
    op = entry.op
    by_idx = {result.idx: result for result in entry.results}
    items = tuple(
        (item.idx, item.name, item.input, item.digest, result.result, result.error_code, result.error_detail)
        for item in entry.items
        for result in (by_idx[item.idx],)
    )
    return (
        op.id.bytes, op.user_id.bytes, op.client_id, op.format, op.detached, op.certificate_id.bytes,
        op.digest_algorithm, op.state, op.policy, op.callback_url, op.ttl_s, entry.error,
        entry.error_detail, entry.retain_s, now_us, items,
    )  # fmt: skip


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Column arrays of ``rows`` (``width`` empty ones when there are none), for ``unnest``."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows, strict=True)]


def _row(entry: FinishedOperation, now: datetime) -> OperationRow:
    """The ``operations`` row ``insert_finished_many`` wrote for ``entry`` at ``now``."""
    op = entry.op
    return OperationRow(
        id=op.id,
        user_id=op.user_id,
        client_id=op.client_id,
        type="sign",
        format=op.format,
        detached=op.detached,
        certificate_id=op.certificate_id,
        digest_algorithm=op.digest_algorithm,
        state=op.state,
        policy=op.policy,
        callback_url=op.callback_url,
        item_count=len(entry.items),
        created_at=now,
        expires_at=now + timedelta(seconds=op.ttl_s),
        updated_at=now,
        decided_by_device=None,
        decided_at=None,
        finished_at=now,
        retain_until=now + timedelta(seconds=entry.retain_s),
        error=entry.error,
        error_detail=entry.error_detail,
        owner_node=None,
        lease_until=None,
    )
