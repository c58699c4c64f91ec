"""Operations born finished, stored many at once: the synchronous signing path's batched unit.

``insert_finished_many`` is a batched unit for ``Database.run_batched`` (``storage.group``): the
operations of every request that finished together, with all their items, go in as one statement
(each table fed from ``unnest`` of column arrays), so a group costs the same few round trips however
many requests it carries. A finished operation is born final: no lease, no owner, no documents or
previews kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from storage.database import Connection
from storage.group import single_statement
from storage.repos.operations import (
    OPERATION_COLUMNS,
    ItemResult,
    NewItem,
    NewOperation,
    OperationRow,
    new_operation_arrays,
    rows_in_order,
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
    rows = await conn.fetch(
        f"""WITH ops AS (
                INSERT INTO operations (id, user_id, client_id, format, detached, certificate_id,
                                        digest_algorithm, state, policy, callback_url, item_count,
                                        expires_at, error, error_detail, finished_at, retain_until)
                SELECT id, user_id, client_id, format, detached, certificate_id, digest_algorithm, state,
                       policy, callback_url, item_count, now() + make_interval(secs => ttl_s), error,
                       error_detail, now(), now() + make_interval(secs => retain_s)
                  FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::boolean[], $6::uuid[],
                              $7::text[], $8::text[], $9::text[], $10::text[], $11::integer[],
                              $12::float8[], $13::text[], $14::text[], $15::float8[])
                       AS t(id, user_id, client_id, format, detached, certificate_id, digest_algorithm,
                            state, policy, callback_url, item_count, ttl_s, error, error_detail, retain_s)
                RETURNING {OPERATION_COLUMNS}),
            items AS (
                INSERT INTO operation_items (operation_id, idx, name, input, digest, result, error_code,
                                             error_detail)
                SELECT * FROM unnest($16::uuid[], $17::integer[], $18::text[], $19::text[], $20::bytea[],
                                     $21::bytea[], $22::text[], $23::text[]))
            SELECT * FROM ops""",
        *new_operation_arrays([(entry.op, entry.items) for entry in batch]),
        [entry.error for entry in batch],
        [entry.error_detail for entry in batch],
        [float(entry.retain_s) for entry in batch],
        [op_id for op_id, _, _ in item_rows],
        [item.idx for _, item, _ in item_rows],
        [item.name for _, item, _ in item_rows],
        [item.input for _, item, _ in item_rows],
        [item.digest for _, item, _ in item_rows],
        [result.result for _, _, result in item_rows],
        [result.error_code for _, _, result in item_rows],
        [result.error_detail for _, _, result in item_rows],
    )
    return rows_in_order(rows, [entry.op.id for entry in batch])
