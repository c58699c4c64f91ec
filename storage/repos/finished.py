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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from storage.database import Connection
from storage.group import single_statement
from storage.repos.operations import (
    ItemResult,
    NewItem,
    NewOperation,
    OperationRow,
    new_operation_arrays,
)

FINAL_STATES = ("completed", "failed")


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


@single_statement
async def insert_finished_many(conn: Connection, batch: Sequence[FinishedOperation]) -> list[OperationRow]:
    """Insert every operation of ``batch`` with its items in one statement; their rows, in order."""
    for entry in batch:  # checked before the statement: a single-statement unit issues nothing else
        if entry.op.state not in FINAL_STATES:
            raise ValueError(f"a finished operation is completed or failed, not {entry.op.state!r}")
    item_rows = [
        (entry.op.id, item, by_idx[item.idx])
        for entry in batch
        for by_idx in ({result.idx: result for result in entry.results},)
        for item in entry.items
    ]
    now = datetime.now(UTC)
    rows = [_row(entry, now) for entry in batch]
    await conn.execute(
        """WITH ops AS (
                INSERT INTO operations (id, user_id, client_id, format, detached, certificate_id,
                                        digest_algorithm, state, policy, callback_url, item_count,
                                        created_at, updated_at, expires_at, error, error_detail,
                                        finished_at, retain_until)
                SELECT id, user_id, client_id, format, detached, certificate_id, digest_algorithm, state,
                       policy, callback_url, item_count, $16, $16, expires_at, error, error_detail, $16,
                       retain_until
                  FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::boolean[], $6::uuid[],
                              $7::text[], $8::text[], $9::text[], $10::text[], $11::integer[],
                              $12::timestamptz[], $13::text[], $14::text[], $15::timestamptz[])
                       AS t(id, user_id, client_id, format, detached, certificate_id, digest_algorithm,
                            state, policy, callback_url, item_count, expires_at, error, error_detail,
                            retain_until)
                RETURNING 1)
            INSERT INTO operation_items (operation_id, idx, name, input, digest, result, error_code,
                                         error_detail)
            SELECT * FROM unnest($17::uuid[], $18::integer[], $19::text[], $20::text[], $21::bytea[],
                                 $22::bytea[], $23::text[], $24::text[])""",
        *new_operation_arrays([(entry.op, entry.items) for entry in batch]),
        [row.expires_at for row in rows],
        [entry.error for entry in batch],
        [entry.error_detail for entry in batch],
        [row.retain_until for row in rows],
        now,
        [op_id for op_id, _, _ in item_rows],
        [item.idx for _, item, _ in item_rows],
        [item.name for _, item, _ in item_rows],
        [item.input for _, item, _ in item_rows],
        [item.digest for _, item, _ in item_rows],
        [result.result for _, _, result in item_rows],
        [result.error_code for _, _, result in item_rows],
        [result.error_detail for _, _, result in item_rows],
    )
    return rows


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
