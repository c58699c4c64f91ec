"""Units of work of the operations layer: repository steps composed into one transaction each.

Every transition that finishes an operation also announces it to the callback outbox in the same
transaction (asynchronous mode: ``actors.callbacks.enqueue``), so an outcome is never stored without
its announcement, nor announced without being stored. A change made by a worker that does not
drive the operation also NOTIFYs ``signals.CHANNEL`` so the driving actor re-reads the row.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from actors import callbacks
from actors.operations import signals
from actors.operations.deps import DeviceChannel
from actors.operations.model import State
from actors.operations.notices import notice_of
from actors.sessions.protocol import OperationNotice
from storage.database import Connection
from storage.repos import operations as repo
from storage.repos.operations import ItemResult, NewItem, NewOperation, OperationRow

EVENTS = {
    State.COMPLETED: callbacks.EVENT_COMPLETED,
    State.FAILED: callbacks.EVENT_FAILED,
    State.DECLINED: callbacks.EVENT_DECLINED,
    State.EXPIRED: callbacks.EVENT_EXPIRED,
}
"""Callback event of each final state."""

CALLBACK_SIGNATURES_BUDGET = 256 * 1024
"""Most base64 signature text a callback carries (the outbox's default body limit is 1 MiB)."""


async def create(conn: Connection, op: NewOperation, items: Sequence[NewItem]) -> OperationRow:
    """Insert a new operation with its items."""
    return await repo.insert_operation(conn, op, items)


@dataclass(frozen=True, slots=True)
class Creation:
    """One operation to create (``create_pushed``)."""

    op: NewOperation
    """The operation."""
    items: tuple[NewItem, ...]
    """Its items."""
    devices: DeviceChannel | None
    """Where an operation awaiting confirmation is pushed (None: nowhere yet)."""


async def create_pushed(
    conn: Connection, batch: Sequence[Creation]
) -> list[tuple[OperationRow, OperationNotice | None]]:
    """A batched unit: insert the operations; those awaiting confirmation are pushed in this transaction.

    The notices are stored and announced here (``DeviceChannel.stage_push``); each caller shows its
    own (``shown``) once committed. Returns each row and its notice, if any, in order.
    """
    rows = await repo.insert_operations(conn, [(c.op, c.items) for c in batch])
    found: list[tuple[OperationRow, OperationNotice | None]] = []
    staged: dict[int, tuple[DeviceChannel, list[OperationNotice]]] = {}
    for creation, row in zip(batch, rows, strict=True):
        notice = None
        if creation.devices is not None and row.state == State.AWAITING_CONFIRMATION:
            notice = notice_of(row, creation.items)
            staged.setdefault(id(creation.devices), (creation.devices, []))[1].append(notice)
        found.append((row, notice))
    for channel, notices in staged.values():
        await channel.stage_push(conn, notices)
    return found


@dataclass(frozen=True, slots=True)
class Deciding:
    """One decision to apply (``decide_many``)."""

    decision: repo.DecisionIn
    """The decision (with an executor: confirmed → executing at once, see ``repo.decide``)."""
    wake: bool
    """NOTIFY the driver (the decision was applied by a worker that does not drive the operation)."""
    devices: DeviceChannel | None
    """Withdraw the notice from these devices in the same transaction."""


async def decide(
    conn: Connection,
    op_id: UUID,
    *,
    user_id: UUID,
    device_id: UUID,
    confirm: bool,
    retain_s: float,
    wake: bool,
) -> OperationRow | None:
    """awaiting_confirmation → confirmed | declined; a decline is announced; ``wake`` NOTIFYs the driver."""
    decision = repo.DecisionIn(op_id, user_id, device_id, confirm, retain_s)
    return (await decide_many(conn, [Deciding(decision, wake, None)]))[0]


async def decide_many(conn: Connection, batch: Sequence[Deciding]) -> list[OperationRow | None]:
    """A batched unit: apply the decisions (one statement); the new rows, None where refused.

    Declines are announced; where asked, notices are withdrawn and drivers woken, in this transaction
    (callers call ``withdrawn`` once it has committed): a decided operation is no longer shown.
    """
    rows = await repo.decide_many(conn, [item.decision for item in batch])
    withdrawals: dict[int, tuple[DeviceChannel, list[tuple[UUID, UUID]]]] = {}
    wakes: list[str] = []
    for item, row in zip(batch, rows, strict=True):
        if row is None:
            continue
        if State(row.state).finished:
            await announce(conn, row)
        if item.devices is not None:
            withdrawals.setdefault(id(item.devices), (item.devices, []))[1].append((row.id, row.user_id))
        if item.wake:
            wakes.append(str(row.id))
    for channel, operations in withdrawals.values():
        await channel.stage_withdraw(conn, operations)
    if wakes:
        await repo.notify_each(conn, signals.CHANNEL, wakes)
    return rows


async def expire(conn: Connection, op_id: UUID, *, retain_s: float) -> OperationRow | None:
    """awaiting_confirmation → expired, announced."""
    row = await repo.expire(conn, op_id, retain_s=retain_s)
    if row is not None:
        await announce(conn, row)
    return row


async def finish(
    conn: Connection,
    op_id: UUID,
    *,
    node: UUID,
    state: State,
    error: str | None,
    error_detail: str | None,
    results: Sequence[ItemResult],
    retain_s: float,
) -> OperationRow | None:
    """executing → completed | failed with the item results, announced."""
    finish = repo.FinishIn(op_id, node, state.value, error, error_detail, results, retain_s)
    return (await finish_many(conn, [finish]))[0]


async def finish_many(conn: Connection, batch: Sequence[repo.FinishIn]) -> list[OperationRow | None]:
    """A batched unit: store the outcomes (one statement) and announce them; None where not held."""
    rows = await repo.finish_many(conn, batch)
    for finish, row in zip(batch, rows, strict=True):
        if row is not None:
            await announce(conn, row, finish.results)
    return rows


async def expire_many(conn: Connection, batch: Sequence[tuple[UUID, float]]) -> list[OperationRow | None]:
    """A batched unit of ``expire`` for (op_id, retain_s) pairs (expiries are rare: one statement each)."""
    return [await expire(conn, op_id, retain_s=retain_s) for op_id, retain_s in batch]


async def start_many(
    conn: Connection, batch: Sequence[tuple[UUID, UUID, float]]
) -> list[OperationRow | None]:
    """A batched unit of ``repo.start_execution`` for (op_id, node, lease_s) (a decision taken elsewhere)."""
    return [
        await repo.start_execution(conn, op_id, node=node, lease_s=lease_s) for op_id, node, lease_s in batch
    ]


async def delete(conn: Connection, op_id: UUID) -> str | None:
    """Delete an operation unless it executes (see ``repo.delete_operation``); wakes its driver."""
    state = await repo.delete_operation(conn, op_id)
    if state is not None and state != State.EXECUTING.value:
        await repo.notify(conn, signals.CHANNEL, str(op_id))
    return state


async def load_for_execution(
    conn: Connection, op_id: UUID, *, documents: bool
) -> tuple[list[repo.ItemRow], dict[int, bytes]]:
    """The items of ``op_id`` and, when ``documents``, the stored documents by index."""
    items = await repo.get_items(conn, op_id)
    return items, (await repo.get_documents(conn, op_id) if documents else {})


async def announce(conn: Connection, row: OperationRow, results: Sequence[ItemResult] = ()) -> None:
    """Queue the callback of a finished operation in asynchronous mode (in the finishing transaction)."""
    if row.callback_url is None:
        return
    await callbacks.enqueue(
        conn,
        operation_id=row.id,
        user_id=row.user_id,
        client_id=row.client_id,
        url=row.callback_url,
        event=EVENTS[State(row.state)],
        payload=callback_payload(row, results),
    )


def callback_payload(row: OperationRow, results: Sequence[ItemResult]) -> dict[str, Any]:
    """The JSON a callback carries: the outcome, per-item statuses, and the signatures when small.

    Signatures are included for raw and detached CAdES results while they fit in
    ``CALLBACK_SIGNATURES_BUDGET`` (``results_included`` says whether they are); an attached CMS
    carries the document, which a callback never does. The full results stay at ``href``.
    """
    include = row.format == "raw" or row.detached
    size = sum(len(result.result or b"") for result in results) * 4 // 3
    include = include and size <= CALLBACK_SIGNATURES_BUDGET
    items: list[dict[str, Any]] = []
    for result in results:
        item: dict[str, Any] = {
            "index": result.idx,
            "status": "signed" if result.result is not None else "failed",
        }
        if result.result is not None and include:
            item["signature"] = base64.b64encode(result.result).decode("ascii")
        if result.error_code is not None:
            item["error"] = {"code": result.error_code, "detail": result.error_detail}
        items.append(item)
    return {
        "operation_id": str(row.id),
        "state": row.state,
        "format": row.format,
        "detached": row.detached,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "error": None if row.error is None else {"code": row.error, "detail": row.error_detail},
        "item_count": row.item_count,
        "items": items,
        "results_included": include and bool(results),
        "href": f"/api/v1/operations/{row.id}",
    }
